"""The browser cookie: one random id per browser, its sessions found by its digest.

It is also the secret the CSRF tokens are bound to (`zitui.server.csrf`). Under https its
name carries the `__Host-` prefix (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain, so a
sibling host cannot plant or shadow it. A handler that makes a new id (a first visit, or a
fresh one after each sign-in) leaves it in the request state, and the middleware sets it on
the response; a page rendered in the same request already signs its forms with the new id.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zitui.server import paths
from zitui.server.state import get_services

PLAIN_NAME = "zitui_browser"
HOST_NAME = f"__Host-{PLAIN_NAME}"
# The request-state key of an id made (or removed, "") during this request.
PENDING_STATE = "zitui_browser_pending"
_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")


def cookie_name(*, secure: bool) -> str:
    return HOST_NAME if secure else PLAIN_NAME


def _secure(conn: HTTPConnection) -> bool:
    return get_services(conn).settings.issuer.startswith("https://")


def sent_id(conn: HTTPConnection) -> str:
    """The id the browser sent, or "" (none, or a value we did not make)."""
    value = conn.cookies.get(cookie_name(secure=_secure(conn)), "")
    return value if _VALUE.fullmatch(value) else ""


def browser_id(conn: HTTPConnection) -> str:
    """The browser's id as of now: one set during this request, else the one it sent."""
    state = conn.scope.setdefault("state", {})
    pending = state.get(PENDING_STATE)
    return sent_id(conn) if pending is None else str(pending)


def ensure_browser_id(conn: HTTPConnection) -> str:
    """The browser's id, made now (and set on the response) when it has none."""
    current = browser_id(conn)
    if current:
        return current
    made = secrets.token_urlsafe(32)
    set_browser_id(conn, made)
    return made


def set_browser_id(conn: HTTPConnection, value: str) -> None:
    conn.scope.setdefault("state", {})[PENDING_STATE] = value


def clear_browser_id(conn: HTTPConnection) -> None:
    """Forget the id: the next visit gets a new one, linked to nothing before it."""
    set_browser_id(conn, "")


def set_cookie_header(value: str, *, secure: bool, max_age: int) -> str:
    name = cookie_name(secure=secure)
    if not value:
        attributes = f'{name}=""; Path=/; Max-Age=0; HttpOnly; SameSite=Lax'
    else:
        attributes = f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return f"{attributes}; Secure" if secure else attributes


class BrowserCookieMiddleware:
    """Sets (or removes) the browser cookie a handler changed during this request.

    `max_age` is the session idle timeout: the cookie never outlives the sessions it finds.
    """

    def __init__(self, app: ASGIApp, *, secure: bool, max_age: int) -> None:
        self.app = app
        self.secure = secure
        self.max_age = max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in paths.MACHINE_ENDPOINTS:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_cookie(message: Message) -> None:
            value = state.get(PENDING_STATE)
            if message["type"] == "http.response.start" and value is not None:
                header = set_cookie_header(value, secure=self.secure, max_age=self.max_age)
                MutableHeaders(scope=message).append("set-cookie", header)
            await send(message)

        await self.app(scope, receive, send_with_cookie)
