"""The password page and the security page: second factors and passkeys (added through the
hosted login's set-up pages, renamed, removed) and the recovery codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from zitui.core.context import Context
from zitui.errors import ZituiError
from zitui.server import paths
from zitui.server.account.base import (
    AccountNav,
    account_form,
    account_page,
    account_service,
    done,
    refusable,
    render_account,
    settle,
)
from zitui.server.browser import browser_id
from zitui.server.login.flow import field, recovery_download, request_meta, respond
from zitui.server.state import get_services


async def show_password(
    request: Request, ctx: Context, nav: AccountNav, *, error: ZituiError | None = None
) -> Response:
    me = await account_service(request).me(ctx)
    policy = await get_services(request).sessions.password_rules(me.user.org_id)
    context = {"policy": policy}
    return await render_account(request, me, nav, "account/password.html", context, error=error)


@account_page(paths.ACCOUNT_PASSWORD)
async def password(request: Request, ctx: Context, nav: AccountNav) -> Response:
    return await show_password(request, ctx, nav)


@account_form(paths.ACCOUNT_PASSWORD)
async def change_password(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    work = account_service(request).change_password(
        ctx,
        field(form, "current_password"),
        field(form, "new_password"),
        repeat=field(form, "new_password_repeat"),
    )

    async def failed(error: ZituiError) -> Response:
        return await show_password(request, ctx, nav, error=error)

    return await settle(work, done(nav, "password_changed"), failed)


async def show_security(
    request: Request, ctx: Context, nav: AccountNav, *, error: ZituiError | None = None
) -> Response:
    me = await account_service(request).me(ctx)
    return await render_account(request, me, nav, "account/security.html", error=error)


@account_page(paths.ACCOUNT_SECURITY)
async def security(request: Request, ctx: Context, nav: AccountNav) -> Response:
    return await show_security(request, ctx, nav)


def _failed(
    request: Request, ctx: Context, nav: AccountNav
) -> Callable[[ZituiError], Awaitable[Response]]:
    async def again(error: ZituiError) -> Response:
        return await show_security(request, ctx, nav, error=error)

    return again


@account_form(paths.ACCOUNT_SECURITY)
async def add_factor(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    """The hosted login's set-up prompt for this account (after its password when the last
    check is old), which ends back on the security page."""
    outcome = await get_services(request).login.start_adding_factor(
        browser_id(request),
        ctx.session_id or "",
        request_meta(request),
        return_to=nav.url(paths.ACCOUNT_SECURITY),
    )
    return await respond(request, outcome)


@account_form(paths.ACCOUNT_SECURITY)
async def rename_factor(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    work = account_service(request).rename_factor(ctx, field(form, "factor"), field(form, "name"))
    return await settle(work, done(nav, "factor_renamed"), _failed(request, ctx, nav))


@account_form(paths.ACCOUNT_SECURITY)
async def remove_factor(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    work = account_service(request).remove_factor(ctx, field(form, "factor"))
    return await settle(work, done(nav, "factor_removed"), _failed(request, ctx, nav))


@account_form(paths.ACCOUNT_SECURITY)
async def regenerate_codes(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    """New recovery codes, shown once in this response (the old ones stop working)."""
    service = account_service(request)
    try:
        codes = tuple(await service.regenerate_recovery_codes(ctx))
    except ZituiError as error:
        if not refusable(error):
            raise
        return await show_security(request, ctx, nav, error=error)
    me = await service.me(ctx)
    context = {"codes": codes, "download": recovery_download(codes)}
    return await render_account(request, me, nav, "account/recovery_codes.html", context)
