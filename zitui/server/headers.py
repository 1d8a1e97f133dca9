"""Security headers on every response, as pure ASGI middleware."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No `form-action`: Chromium applies it to the redirect that follows a login form POST, so
# it would block the hop back to the relying party's redirect_uri.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Two years, without includeSubDomains: other services on sibling hosts are not ours to pin.
STRICT_TRANSPORT_SECURITY = "max-age=63072000"

BASE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(headers: MutableHeaders, *, hsts: bool) -> None:
    """Add the headers a route has not set itself; HTML pages are never cached."""
    for name, value in BASE_HEADERS.items():
        headers.setdefault(name, value)
    if hsts:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if headers.get("content-type", "").startswith("text/html"):
        headers["Cache-Control"] = "no-store"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(MutableHeaders(scope=message), hsts=self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
