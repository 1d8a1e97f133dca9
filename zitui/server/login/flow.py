"""What every login page needs: the auth request, the browser cookie, the language, a page.

The auth request is read and finished through the OIDC core (`services.auth_requests`). Its id
comes from the query (`?authRequestID=`) or a form's hidden field; an unknown or expired one ends
on a page that says so, never on a redirect, since its redirect URI cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial, wraps
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from zitui.core.context import RequestMeta
from zitui.core.sessions import new_browser_cookie
from zitui.errors import (
    FlowExpired,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ReauthRequired,
    ZituiError,
    http_status,
)
from zitui.i18n import DEFAULT_LOCALE, best_locale, lookup, translate
from zitui.records import AuthRequest, Session
from zitui.server import paths
from zitui.server.csrf import verify_csrf
from zitui.server.rendering import render
from zitui.server.state import get_services

AUTH_REQUEST_PARAM = "authRequestID"
SESSION_PARAM = "sessionID"
BROWSER_COOKIE = "zitui_browser"
BROWSER_COOKIE_MAX_AGE = 365 * 24 * 3600  # ZITADEL keeps its user-agent cookie a year


class AuthRequestUnusable(Exception):
    """The auth request named by the page is unknown or expired."""

    def __init__(self, status_code: int, kind: str) -> None:
        super().__init__(kind)
        self.status_code = status_code
        self.kind = kind


@dataclass(frozen=True)
class Flow:
    """One pass through the login pages, with or without an application waiting."""

    auth_request: AuthRequest | None = None

    @property
    def id(self) -> str:
        return self.auth_request.id if self.auth_request else ""

    @property
    def org_id(self) -> str | None:
        return (self.auth_request.org_id or None) if self.auth_request else None

    @property
    def app_name(self) -> str:
        return self.auth_request.app_name if self.auth_request else ""

    @property
    def login_hint(self) -> str:
        return self.auth_request.login_hint if self.auth_request else ""

    def prompts(self, value: str) -> bool:
        return self.auth_request is not None and value in self.auth_request.prompt

    @property
    def max_age(self) -> int | None:
        return self.auth_request.max_age if self.auth_request else None

    @property
    def not_before(self) -> datetime | None:
        """A factor must be checked after this (prompt=login; max_age=0 means the same)."""
        if self.auth_request is None:
            return None
        if self.prompts("login") or self.auth_request.max_age == 0:
            return self.auth_request.created_at
        return None

    @property
    def callback(self) -> str:
        """The OIDC callback: it answers the application at its registered redirect URI, with
        a code once a session is linked, else with access_denied (the way to give up)."""
        return f"{paths.AUTHORIZE_CALLBACK}?{urlencode({'id': self.id})}"

    def url(self, path: str, **params: str) -> str:
        """`path` with this flow's auth request id (and `params`) in the query."""
        query = {AUTH_REQUEST_PARAM: self.id} if self.id else {}
        query.update({k: v for k, v in params.items() if v})
        return f"{path}?{urlencode(query)}" if query else path

    def visible(self, sessions: list[Session]) -> list[Session]:
        """The sessions this flow may offer: those of the requested organisation, if any."""
        if self.org_id is None:
            return sessions
        return [session for session in sessions if session.org_id == self.org_id]


async def load_flow(request: Request, auth_request_id: str) -> Flow:
    """The flow for `auth_request_id` ("" for none); AuthRequestUnusable if it is bad."""
    if not auth_request_id:
        return Flow()
    try:
        return Flow(await get_services(request).auth_requests.get_auth_request(auth_request_id))
    except (FlowExpired, NotFound) as exc:
        raise unusable(exc) from exc


def unusable(error: FlowExpired | NotFound) -> AuthRequestUnusable:
    if isinstance(error, FlowExpired):
        return AuthRequestUnusable(410, "expired")
    return AuthRequestUnusable(404, "unknown")


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def verified_form(request: Request) -> tuple[FormData, Flow]:
    """The POSTed form, once its CSRF token checks out, and the flow it continues."""
    form = await request.form()
    await verify_csrf(request, form)
    return form, await load_flow(request, field(form, AUTH_REQUEST_PARAM))


def choose_locale(request: Request, flow: Flow, user_language: str = "") -> str:
    """The auth request's ui_locales, then Accept-Language, then the user's own language."""
    ui_locales = (
        flow.auth_request.ui_locales
        if flow.auth_request
        else tuple(request.query_params.get("ui_locales", "").split())
    )
    for preference in (", ".join(ui_locales), request.headers.get("accept-language", "")):
        chosen = best_locale(preference) if preference else None
        if chosen:
            return chosen
    return best_locale(user_language) or DEFAULT_LOCALE


def page(
    request: Request,
    template: str,
    locale: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    values = {"locale": locale, "t": partial(translate, locale), **context}
    return render(request, template, values, status_code=status_code)


def error_message(locale: str, error: ZituiError) -> str:
    """The error in the page's language; its code is the message key."""
    return lookup(locale, error.code) or error.message


def form_errors(locale: str, error: ZituiError) -> tuple[dict[str, str], str]:
    """(field errors, page alert): an error naming a field goes on that field."""
    message = error_message(locale, error)
    return ({error.field: message}, "") if error.field else ({}, message)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def request_meta(request: Request) -> RequestMeta:
    return RequestMeta(
        origin="login",
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


def browser_cookie(request: Request) -> str:
    """This browser's cookie, or "" when it has none (or a value we did not make)."""
    value = request.cookies.get(BROWSER_COOKIE, "")
    return value if len(value) == 43 else ""


def ensure_browser_cookie(request: Request) -> tuple[str, bool]:
    """The browser's cookie, or a new one; the flag says it must be set on the response."""
    existing = browser_cookie(request)
    return (existing, False) if existing else (new_browser_cookie(), True)


def set_browser_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        BROWSER_COOKIE,
        value,
        max_age=BROWSER_COOKIE_MAX_AGE,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_browser_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        BROWSER_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="lax"
    )


def _secure(request: Request) -> bool:
    return get_services(request).settings.issuer.startswith("https://")


async def finish(request: Request, flow: Flow, session: Session) -> Response:
    """Where a proven session goes next: a required password change, the application, or
    the signed-in page. The application is reached only through the OIDC callback, which
    sends the user to the auth request's registered redirect URI."""
    if session.password_change_required:
        return redirect(flow.url(paths.LOGIN_PASSWORD_CHANGE, **{SESSION_PARAM: session.id}))
    if flow.auth_request is None:
        return redirect(paths.LOGIN_SIGNED_IN)
    try:
        await get_services(request).auth_requests.link_session(flow.id, session.id)
    except ReauthRequired:
        return redirect(flow.url(paths.LOGIN_PASSWORD, **{SESSION_PARAM: session.id}))
    except (FlowExpired, NotFound) as exc:
        if exc.code.startswith("session."):
            return redirect(flow.url(paths.LOGIN))
        raise unusable(exc) from exc
    except (PermissionDenied, PreconditionFailed) as exc:
        return refused(request, flow, session, exc)
    return redirect(flow.callback)


def refused(request: Request, flow: Flow, session: Session, error: ZituiError) -> HTMLResponse:
    """This user may not use the application (organisation, project or role checks)."""
    locale = choose_locale(request, flow, session.preferred_language)
    context = {"flow": flow, "session": session, "message": error_message(locale, error)}
    status_code = http_status(error)
    return page(request, "login/refused.html", locale, context, status_code=status_code)


Handler = Callable[[Request], Awaitable[Response]]


def login_page(handler: Handler) -> Handler:
    """Render an unknown or expired auth request as its own page (404 or 410)."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except AuthRequestUnusable as exc:
            locale = choose_locale(request, Flow())
            context = {"kind": exc.kind}
            template = "login/auth_request_error.html"
            return page(request, template, locale, context, status_code=exc.status_code)

    return guarded
