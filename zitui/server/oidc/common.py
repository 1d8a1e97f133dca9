"""What the protocol endpoints share: parsing, OAuth error bodies, pages, CORS.

OAuth errors are JSON with `Cache-Control: no-store` (RFC 6749 §5.1-5.2); a failed Basic
authentication adds `WWW-Authenticate: Basic` (401), a bad bearer token
`WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3). Browser-facing endpoints
(authorize, callback, end_session) never answer JSON errors: when they cannot redirect, a
page says what went wrong.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zitui.core.context import Context, RequestMeta
from zitui.core.oidc.client_auth import BasicCredentials, ClientRequest
from zitui.core.oidc.errors import OAuthError, invalid_client, invalid_request
from zitui.errors import ZituiError, http_status
from zitui.i18n import lookup
from zitui.server.error_pages import retry_after, status_text
from zitui.server.negotiation import request_locale
from zitui.server.rendering import render
from zitui.server.state import get_services

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REALM = "zitui"
CORS = {"Access-Control-Allow-Origin": "*"}
CORS_PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}

Endpoint = Callable[[Request], Awaitable[Response]]


def context(request: Request) -> Context:
    """An anonymous caller, with where the request came from for any audit event."""
    meta = RequestMeta(
        origin="oidc",
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:400],
    )
    return Context(clock=get_services(request).clock, request=meta)


def endpoint_url(request: Request, path: str) -> str:
    """The endpoint's URL under the issuer, as clients address it in assertions."""
    return get_services(request).settings.issuer + path


def json_response(body: dict[str, Any], *, cors: bool = True, status_code: int = 200) -> Response:
    headers = {**NO_STORE, **(CORS if cors else {})}
    return JSONResponse(body, status_code=status_code, headers=headers)


def oauth_error(error: OAuthError, *, cors: bool = True) -> Response:
    headers = {**NO_STORE, **(CORS if cors else {})}
    if error.challenge == "Basic":
        headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    elif error.challenge == "Bearer":
        headers["WWW-Authenticate"] = bearer_challenge(error)
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=headers)


def bearer_challenge(error: OAuthError | None) -> str:
    """RFC 6750 §3: no error code when the request carried no token at all."""
    if error is None:
        return f'Bearer realm="{REALM}"'
    challenge = f'Bearer realm="{REALM}", error="{error.error}"'
    if error.description:
        challenge += f', error_description="{error.description}"'
    return challenge


def oauth_endpoint(handler: Endpoint) -> Endpoint:
    """Answer an OAuthError raised by `handler` as RFC 6749 §5.2 JSON; CORS preflights too."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS_PREFLIGHT)
        try:
            return await handler(request)
        except OAuthError as error:
            return oauth_error(error)

    return guarded


URLENCODED = "application/x-www-form-urlencoded"


async def form_fields(request: Request) -> dict[str, str]:
    """The urlencoded body; a parameter given twice is `invalid_request` (RFC 6749 §3.2).

    The urlencoded body every client sends is parsed with `parse_qsl`, several times cheaper
    than the multipart-capable form parser, which is kept for anything else.
    """
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    items: list[tuple[str, Any]]
    if content_type == URLENCODED:
        try:
            text = (await request.body()).decode("utf-8")
            items = parse_qsl(text, keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise invalid_request("the form body is not valid UTF-8 form data") from exc
    else:
        async with request.form() as form:  # closes uploaded files, which are refused below
            items = list(form.multi_items())
    fields: dict[str, str] = {}
    for name, value in items:
        if not isinstance(value, str):
            raise invalid_request(f"{name} must be a plain form field")
        if name in fields:
            raise invalid_request(f"{name} is given more than once")
        fields[name] = value
    return fields


def basic_credentials(request: Request) -> BasicCredentials | None:
    """RFC 6749 §2.3.1 / RFC 7617: both halves are form-urlencoded before base64."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise invalid_client("the Basic credentials are malformed", basic=True) from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise invalid_client("the Basic credentials are malformed", basic=True)
    return BasicCredentials(client_id=unquote_plus(client_id), secret=unquote_plus(secret))


async def client_request(request: Request, path: str) -> ClientRequest:
    return ClientRequest(
        form=await form_fields(request),
        basic=basic_credentials(request),
        endpoint=endpoint_url(request, path),
    )


def error_page(request: Request, error: ZituiError) -> Response:
    """A page for a browser that cannot be sent back to the application; `Retry-After`
    when the same request may succeed later (RFC 9110 §10.2.3)."""
    locale = request_locale(request)
    status_code = http_status(error)
    context = {
        "status_code": status_code,
        "title": status_text(locale, status_code, "title"),
        "message": lookup(locale, error.code) or error.message,
    }
    headers = retry_after(error)
    return render(request, "error.html", context, status_code=status_code, headers=headers)
