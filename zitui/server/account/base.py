"""What every account page needs: whose account (a session of this browser), its page in the
user's language with the organisation's branding, and the ways out of a handler (back to the
page with a notice, the page again with the error on its field, or the login flow when the
change needs a recent sign-in).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from zitui.core.account import AccountService, Me
from zitui.core.context import Context, RequestMeta
from zitui.errors import ReauthRequired, RetryLater, Unauthenticated, ZituiError, http_status
from zitui.server import paths
from zitui.server.browser import browser_id
from zitui.server.csrf import verify_csrf
from zitui.server.login.branding import page_branding
from zitui.server.login.flow import (
    choose_locale,
    custom_texts,
    field,
    form_errors,
    page,
    redirect,
    request_meta,
    respond,
)
from zitui.server.state import get_services

ACCOUNT_PARAM = "account"
DONE_PARAM = "done"
# The notices a page shows after a change (`?done=`); anything else shows nothing.
NOTICES = frozenset(
    {
        "profile_saved",
        "email_sent",
        "email_verified",
        "phone_sent",
        "phone_verified",
        "phone_removed",
        "password_changed",
        "factor_renamed",
        "factor_removed",
        "session_ended",
        "sessions_ended",
        "app_revoked",
        "idp_linked",
        "idp_removed",
    }
)


@dataclass(frozen=True)
class AccountNav:
    """Links between the account pages, for the account the page shows (`account`: its
    session id when the browser chose one, so the pages keep showing that account)."""

    current: str
    account: str = ""
    session_id: str = ""

    def url(self, path: str, **params: str) -> str:
        query = {ACCOUNT_PARAM: self.account} if self.account else {}
        query.update({k: v for k, v in params.items() if v})
        return f"{path}?{urlencode(query)}" if query else path

    @property
    def pages(self) -> tuple[tuple[str, str], ...]:
        """(path, message key) of each page, in the nav's order."""
        return (
            (paths.ACCOUNT, "account.nav.profile"),
            (paths.ACCOUNT_PASSWORD, "account.nav.password"),
            (paths.ACCOUNT_SECURITY, "account.nav.security"),
            (paths.ACCOUNT_CONNECTIONS, "account.nav.connections"),
            (paths.ACCOUNT_SESSIONS, "account.nav.sessions"),
            (paths.ACCOUNT_DELETE, "account.nav.delete"),
        )


def account_service(request: Request) -> AccountService:
    return get_services(request).account


def chosen_account(request: Request, form: FormData | None) -> str:
    if form is not None:
        return field(form, ACCOUNT_PARAM)
    return request.query_params.get(ACCOUNT_PARAM, "")


def account_meta(request: Request) -> RequestMeta:
    """Where an account page's call comes from, for the audit log."""
    return replace(request_meta(request), origin="account")


async def account_context(request: Request, account: str) -> Context:
    """The signed-in user of this browser's session `account` ("" for the latest) as actor."""
    sessions = get_services(request).sessions
    return await sessions.account_context(browser_id(request), account, account_meta(request))


Shown = Callable[[Request, Context, AccountNav], Awaitable[Response]]
Posted = Callable[[Request, Context, AccountNav, FormData], Awaitable[Response]]


def account_page(path: str) -> Callable[[Shown], Callable[[Request], Awaitable[Response]]]:
    """A GET page at `path`: without a signed-in account, the login page instead."""

    def decorate(handler: Shown) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def shown(request: Request) -> Response:
            account = chosen_account(request, None)
            try:
                ctx = await account_context(request, account)
            except Unauthenticated:
                return redirect(paths.LOGIN)
            return await handler(request, ctx, AccountNav(path, account, ctx.session_id or ""))

        return shown

    return decorate


def account_form(path: str) -> Callable[[Posted], Callable[[Request], Awaitable[Response]]]:
    """A form's POST that belongs to the page at `path`: CSRF-checked; without a signed-in
    account the login page; a change that needs a recent sign-in goes through the login
    flow's password page and back to the page."""

    def decorate(handler: Posted) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def posted(request: Request) -> Response:
            form = await request.form()
            await form.close()
            await verify_csrf(request, form)
            account = chosen_account(request, form)
            try:
                ctx = await account_context(request, account)
            except Unauthenticated:
                return redirect(paths.LOGIN)
            nav = AccountNav(path, account, ctx.session_id or "")
            try:
                return await handler(request, ctx, nav, form)
            except ReauthRequired:
                return await reauthenticate(request, ctx, nav)

        return posted

    return decorate


async def reauthenticate(request: Request, ctx: Context, nav: AccountNav) -> Response:
    """The login flow's password page for this account; it ends back on the page."""
    outcome = await get_services(request).login.start_reauth(
        browser_id(request),
        ctx.session_id or "",
        request_meta(request),
        return_to=nav.url(nav.current),
    )
    return await respond(request, outcome)


def done(nav: AccountNav, notice: str, path: str = "") -> Response:
    """Back to the page (or `path`) after a change, with its notice."""
    return redirect(nav.url(path or nav.current, **{DONE_PARAM: notice}))


async def render_account(
    request: Request,
    me: Me,
    nav: AccountNav,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    error: ZituiError | None = None,
) -> Response:
    """An account page in the user's language with their organisation's branding and texts;
    `error` on its field (or as the page's alert) with its status."""
    user = me.user
    locale = choose_locale(request, None, user.preferred_language)
    texts = await custom_texts(request, user.org_id, locale)
    errors, alert = form_errors(locale, error, texts)
    notice = request.query_params.get(DONE_PARAM, "")
    values: dict[str, Any] = {
        "me": me,
        "nav": nav,
        "brand": await page_branding(request, user.org_id),
        "errors": errors,
        "alert": alert,
        "notice": notice if notice in NOTICES and error is None else "",
        **(context or {}),
    }
    status = http_status(error) if error is not None else 200
    return page(request, template, locale, values, status_code=status, texts=texts)


def refusable(error: ZituiError) -> bool:
    """An error the page shows to the user (on a field or as its alert); the others (sign in,
    sign in again) are the decorators'."""
    return not isinstance(error, ReauthRequired | Unauthenticated)


async def settle(
    work: Awaitable[object],
    after: Response,
    failed: Callable[[ZituiError], Awaitable[Response]],
) -> Response:
    """`after` once `work` is done; the page again with the error the user can act on."""
    try:
        await work
    except ZituiError as error:
        if not refusable(error):
            raise
        return await failed(error)
    return after


def on_field(error: ZituiError, name: str) -> ZituiError:
    """The error shown on the field `name` of this page (two forms of a page may both have a
    field the core calls `code`)."""
    if not error.field or isinstance(error, RetryLater):
        return error
    return type(error)(error.code, error.message, field=name)
