"""Jinja2 pages from the package's own template directory."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from zitui.i18n import translate
from zitui.server import paths
from zitui.server.csrf import csrf_token
from zitui.server.negotiation import request_locale

# Beside this module, so pip installs and the PyInstaller bundle find it alike.
TEMPLATES_DIR = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # Templates ship with the program: no stat of every file a page extends or includes on
    # each render to see whether it changed.
    auto_reload=False,
)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page in the request's language; templates get `t(key, **params)` and `csrf_token()`."""
    locale = request_locale(request)
    values: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "t": partial(translate, locale),
        "csrf_token": partial(csrf_token, request),
        "paths": paths,
        **(context or {}),
    }
    body = environment.get_template(template).render(values)
    return HTMLResponse(body, status_code=status_code, headers=headers)
