"""CSRF protection for hosted forms: signed double-submit tokens.

A random value lives in an HttpOnly, SameSite=Lax cookie; the form carries an HMAC of it under
a key derived from the master key. A cross-site page can read neither, and a party that can
plant a cookie (a sibling subdomain, a man-in-the-middle on plain http) still cannot forge the
matching form token without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zitui.errors import PermissionDenied
from zitui.server import paths
from zitui.server.state import get_services

COOKIE_NAME = "zitui_csrf"
FIELD_NAME = "csrf_token"
KEY_PURPOSE = "csrf"
# The request-state key under which a freshly made cookie value waits for the response.
PENDING_STATE = "zitui_csrf_pending"
_VALUE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def csrf_token(conn: HTTPConnection) -> str:
    """The token for a form on this page; a new cookie is set on the response when needed."""
    value = _cookie_value(conn) or getattr(conn.state, PENDING_STATE, None)
    if value is None:
        value = secrets.token_urlsafe(32)
        setattr(conn.state, PENDING_STATE, value)
    return _sign(conn, value)


async def verify_csrf(conn: HTTPConnection, form: Mapping[str, Any]) -> None:
    """Raise PermissionDenied("csrf.invalid") unless the form's token matches the cookie."""
    value = _cookie_value(conn)
    token = form.get(FIELD_NAME)
    if value is None or not isinstance(token, str):
        raise _invalid()
    if not hmac.compare_digest(token.encode(), _sign(conn, value).encode()):
        raise _invalid()


def _invalid() -> PermissionDenied:
    return PermissionDenied(
        "csrf.invalid", "the form's security token is missing or wrong; reload the page"
    )


def _cookie_value(conn: HTTPConnection) -> str | None:
    value = conn.cookies.get(COOKIE_NAME, "")
    return value if _VALUE_PATTERN.fullmatch(value) else None


def _sign(conn: HTTPConnection, value: str) -> str:
    key = get_services(conn).master_key.derive(KEY_PURPOSE)
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cookie_header(value: str, *, secure: bool) -> str:
    attributes = f"{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax"
    return f"{attributes}; Secure" if secure else attributes


class CSRFCookieMiddleware:
    """Sets the cookie whose value `csrf_token` made during this request."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in paths.MACHINE_ENDPOINTS:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_cookie(message: Message) -> None:
            value = state.get(PENDING_STATE)
            if message["type"] == "http.response.start" and value:
                cookie = cookie_header(value, secure=self.secure)
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)
