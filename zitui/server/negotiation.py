"""What a request asks for: the page language and whether errors should be JSON."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from zitui.i18n import best_locale, negotiate, quality_list
from zitui.server.paths import JSON_PREFIXES

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def request_locale(conn: HTTPConnection) -> str:
    """OIDC's `ui_locales` (space-separated, in order of preference), then Accept-Language."""
    ui_locales = conn.query_params.get("ui_locales", "")
    chosen = best_locale(", ".join(ui_locales.split())) if ui_locales else None
    return chosen or negotiate(conn.headers.get("accept-language", ""))


def wants_json(conn: HTTPConnection) -> bool:
    """True for program paths, or when JSON is named and preferred over HTML.

    Wildcards do not count: browsers send `*/*` and must still get pages.
    """
    if conn.url.path.startswith(JSON_PREFIXES):
        return True
    ranked = quality_list(conn.headers.get("accept", ""))
    json_quality = max((q for value, q in ranked if value == "application/json"), default=0.0)
    html_quality = max((q for value, q in ranked if value in HTML_TYPES), default=0.0)
    return json_quality > html_quality
