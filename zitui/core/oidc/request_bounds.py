"""Size limits of an authorization request's parameters, so a stored request stays small.

Every `/oauth/v2/authorize` is stored before anyone signs in, so its parameters are written
by whoever sends them. Each parameter has a limit; a request over one is answered with
`invalid_request` (RFC 6749 §4.1.2.1) at the registered redirect URI and nothing is stored.
With every parameter at its limit a stored request is about 10 KB plus its redirect URI (a
registered one, matched exactly). The limits are generous for real clients: the OpenID
conformance suite sends a `state` of at most 128 characters; ASP.NET Core's OpenID Connect
handler and oauth2-proxy carry the return URL in `state`, hence its 4 KB. `docs/oidc.md`
lists them.
"""

from __future__ import annotations

from collections.abc import Mapping

from zitui.core.oidc.errors import invalid_request

STATE = 4096
NONCE = 2048
SCOPE = 2048
SCOPE_VALUES = 100
LOGIN_HINT = 400
UI_LOCALES = 256
ACR_VALUES = 256
LIST_VALUES = 16  # language tags in ui_locales, values in acr_values
PROMPT = 64
CODE_CHALLENGE = 128
ID_TOKEN_HINT = 8192  # verified, never stored; ID tokens with many roles are long
OTHER = 4096  # client_id, redirect_uri, response_type and the rest
MAX_AGE = 2**31 - 1  # seconds (68 years): a 32-bit column on PostgreSQL
MAX_AGE_DIGITS = 10

LIMITS: dict[str, int] = {
    "state": STATE,
    "nonce": NONCE,
    "scope": SCOPE,
    "login_hint": LOGIN_HINT,
    "ui_locales": UI_LOCALES,
    "acr_values": ACR_VALUES,
    "prompt": PROMPT,
    "code_challenge": CODE_CHALLENGE,
    "id_token_hint": ID_TOKEN_HINT,
    "max_age": MAX_AGE_DIGITS,
}


def check_bounds(values: Mapping[str, str]) -> None:
    """`invalid_request` for the first parameter over its limit."""
    for name, value in values.items():
        if len(value) > LIMITS.get(name, OTHER):
            raise invalid_request(f"{name} is too long")
    if len(values.get("scope", "").split()) > SCOPE_VALUES:
        raise invalid_request(f"scope has more than {SCOPE_VALUES} values")
    for name in ("ui_locales", "acr_values"):
        if len(values.get(name, "").split()) > LIST_VALUES:
            raise invalid_request(f"{name} has more than {LIST_VALUES} values")
    _check_max_age(values.get("max_age", ""))


def echoed_state(state: str) -> str:
    """The `state` to send back with an error; an oversized one is not echoed."""
    return state if len(state) <= STATE else ""


def _check_max_age(text: str) -> None:
    """OIDC Core §3.1.2.1: a number of seconds; ASCII digits only (`isdigit` alone takes
    `²` and other digits that `int` cannot read)."""
    if not text:
        return
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_AGE:
        raise invalid_request(f"max_age must be a whole number of seconds up to {MAX_AGE}")
