"""Mails in the recipient's language: one HTML and one plain-text layout, texts from the catalogues.

Each kind's texts are the `[mail.<kind>]` entries of the catalogues (subject, greeting, lead,
code_label, button, ignore, footer); `[mail]` holds what every kind shares. The layouts are
package files under `templates/`, filled with `string.Template`: the core renders no Jinja2
(the layer contract keeps template engines in the faces). Every value that goes into the
HTML layout is escaped; a part whose value is absent (no code, no link) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from urllib.parse import urlsplit

from zitui.core.notifications.messages import OutgoingMail
from zitui.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, best_locale, translate

MAIL_KINDS = (
    "user.init",
    "email.verify",
    "password.reset",
    "email.test",
    "otp.email",
    "password.changed",
)
# The texts each kind has in every catalogue, under `mail.<kind>.`.
KIND_TEXTS = ("subject", "greeting", "lead", "code_label", "button", "ignore", "footer")
HTML, TEXT = "html", "txt"
PACKAGE = "zitui.core.notifications"  # its templates/ folder holds the layouts


def mail_language(*candidates: str) -> str:
    """The first supported language among `candidates` (`de-CH` counts as `de`), else English.

    Callers pass them in order of preference, e.g. the user's preferred language, then the
    language of the flow that sends the mail.
    """
    for candidate in candidates:
        chosen = best_locale(candidate) if candidate else None
        if chosen:
            return chosen
    return DEFAULT_LOCALE


def compose(
    kind: str,
    *,
    language: str,
    recipient: str,
    display_name: str = "",
    code: str = "",
    link: str = "",
    instance_name: str = "zitui",
    expires_in_minutes: int = 0,
    user_id: str | None = None,
    org_id: str | None = None,
    texts: Mapping[str, str] | None = None,
) -> OutgoingMail:
    """A mail of `kind` in `language`, with `code` and `link` in both bodies when given;
    `texts` (the custom texts of the user's organisation in `language`) go before the
    catalogue's.

    The code stands alone on a line of the text body, as typed; the link is the button's
    target in HTML and written out in both bodies. A link must be an http(s) URL.
    """
    if kind not in MAIL_KINDS:
        raise ValueError(f"unknown mail kind {kind!r}; known: {', '.join(MAIL_KINDS)}")
    if link and urlsplit(link).scheme not in ("http", "https"):
        raise ValueError("a mail link is an http or https URL")
    language = language if language in SUPPORTED_LOCALES else mail_language(language)
    who = {"name": display_name, "recipient": recipient, "instance": instance_name}
    parts = _texts(kind, language, texts or {}, who, expires_in_minutes)
    values = {"code": code, "link": link, "language": language, "instance": instance_name}
    return OutgoingMail(
        kind=kind,
        recipient=recipient,
        subject=" ".join(parts["subject"].splitlines()),  # a header: one line
        text=_render(TEXT, parts | values, code=bool(code), link=bool(link)),
        html=_render(HTML, parts | values, code=bool(code), link=bool(link)),
        language=language,
        user_id=user_id,
        org_id=org_id,
    )


def _texts(
    kind: str, language: str, custom: Mapping[str, str], who: dict[str, str], minutes: int
) -> dict[str, str]:
    params = {**who, "minutes": minutes}
    texts = {
        part: translate(language, f"mail.{kind}.{part}", texts=custom, **params)
        for part in KIND_TEXTS
    }
    if not who["name"]:
        texts["greeting"] = translate(language, "mail.greeting", texts=custom)
    texts["link_hint"] = translate(language, "mail.link_hint", texts=custom)
    expiry = translate(language, "mail.expires", texts=custom, **params) if minutes > 0 else ""
    texts["expiry"] = expiry
    return texts


def _render(layout: str, values: dict[str, str], *, code: bool, link: bool) -> str:
    if layout == HTML:
        values = {name: escape(value) for name, value in values.items()}
    parts = {
        "code_block": _fill(f"mail_code.{layout}", values) if code else "",
        "link_block": _fill(f"mail_link.{layout}", values) if link else "",
        "expiry_block": _fill(f"mail_expiry.{layout}", values) if values["expiry"] else "",
    }
    return _fill(f"mail.{layout}", values | parts)


def _fill(name: str, values: dict[str, str]) -> str:
    return _template(name).substitute(values)


@cache
def _template(name: str) -> Template:
    # Read through the package, so the PyInstaller bundle (zitui.spec) finds them alike.
    source = files(PACKAGE).joinpath("templates").joinpath(name).read_text(encoding="utf-8")
    return Template(source)
