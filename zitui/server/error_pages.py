"""Error responses keyed by exception class: a page in the user's language, or JSON."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zitui.errors import RetryLater, ZituiError, http_status
from zitui.i18n import lookup, translate
from zitui.server.headers import add_security_headers
from zitui.server.negotiation import request_locale, wants_json
from zitui.server.rendering import render

log = logging.getLogger("zitui.server")
Handler = Callable[[Request, Exception], Awaitable[Response]]

HTTP_ERROR_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}


def status_text(locale: str, status_code: int, part: str) -> str:
    """The page title or text for a status; the generic one for statuses without their own."""
    own = lookup(locale, f"error.{status_code}.{part}")
    return own or translate(locale, f"error.generic.{part}")


def error_response(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if wants_json(request):
        body = {"error": code, "error_description": message}
        return JSONResponse(body, status_code=status_code, headers=headers)
    title = status_text(request_locale(request), status_code, "title")
    context = {"status_code": status_code, "title": title, "message": message}
    return render(request, "error.html", context, status_code=status_code, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in {204, 304}:  # these must not carry a body
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
    message = status_text(request_locale(request), exc.status_code, "text")
    return error_response(request, exc.status_code, code, message, headers=exc.headers)


async def zitui_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ZituiError)
    status_code = http_status(exc)
    if status_code >= 500:
        log.warning("%s %s: %s (%s)", request.method, request.url.path, exc.message, exc.code)
    # The code doubles as the message's i18n key; untranslated messages show as raised.
    message = lookup(request_locale(request), exc.code) or exc.message
    headers = retry_after(exc)
    return error_response(request, status_code, exc.code, message, headers=headers)


def retry_after(exc: ZituiError) -> dict[str, str] | None:
    """`Retry-After` (RFC 9110 §10.2.3) for an error that may succeed later."""
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None


def server_error_handler(*, hsts: bool) -> Handler:
    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        message = status_text(request_locale(request), 500, "text")
        response = error_response(request, 500, "server_error", message)
        # Starlette calls this handler outside every user middleware, so no header was added.
        add_security_headers(response.headers, hsts=hsts)
        return response

    return server_error


def exception_handlers(*, hsts: bool) -> dict[type[Exception], Handler]:
    return {
        HTTPException: http_error,
        ZituiError: zitui_error,
        Exception: server_error_handler(hsts=hsts),
    }
