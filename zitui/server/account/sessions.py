"""The sessions page (this user's sessions in every browser and the applications holding
refresh tokens) and deleting the account."""

from __future__ import annotations

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
from zitui.server.login.branding import page_branding
from zitui.server.login.flow import choose_locale, custom_texts, field, page, redirect


async def show_sessions(
    request: Request, ctx: Context, nav: AccountNav, *, error: ZituiError | None = None
) -> Response:
    service = account_service(request)
    me = await service.me(ctx)
    context = {
        "sessions": await service.list_sessions(ctx),
        "apps": await service.list_app_access(ctx),
    }
    return await render_account(request, me, nav, "account/sessions.html", context, error=error)


@account_page(paths.ACCOUNT_SESSIONS)
async def sessions(request: Request, ctx: Context, nav: AccountNav) -> Response:
    return await show_sessions(request, ctx, nav)


async def _again(request: Request, ctx: Context, nav: AccountNav, error: ZituiError) -> Response:
    return await show_sessions(request, ctx, nav, error=error)


@account_form(paths.ACCOUNT_SESSIONS)
async def end_session(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).end_session(ctx, field(form, "session"))
    return await settle(
        work, done(nav, "session_ended"), lambda error: _again(request, ctx, nav, error)
    )


@account_form(paths.ACCOUNT_SESSIONS)
async def end_other_sessions(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    work = account_service(request).end_other_sessions(ctx)
    return await settle(
        work, done(nav, "sessions_ended"), lambda error: _again(request, ctx, nav, error)
    )


@account_form(paths.ACCOUNT_SESSIONS)
async def revoke_app(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).revoke_app_access(ctx, field(form, "token"))
    return await settle(
        work, done(nav, "app_revoked"), lambda error: _again(request, ctx, nav, error)
    )


async def show_delete(
    request: Request, ctx: Context, nav: AccountNav, *, error: ZituiError | None = None
) -> Response:
    me = await account_service(request).me(ctx)
    return await render_account(request, me, nav, "account/delete.html", error=error)


@account_page(paths.ACCOUNT_DELETE)
async def delete(request: Request, ctx: Context, nav: AccountNav) -> Response:
    return await show_delete(request, ctx, nav)


@account_form(paths.ACCOUNT_DELETE)
async def delete_account(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    """The account goes, with its sessions and tokens, once the password proves it is theirs."""
    try:
        await account_service(request).delete_me(ctx, field(form, "password"))
    except ZituiError as error:
        if not refusable(error):
            raise
        return await show_delete(request, ctx, nav, error=error)
    return redirect(paths.ACCOUNT_DELETED)


async def deleted(request: Request) -> Response:
    """What a user sees once their account is gone: no account, so the instance's branding."""
    locale = choose_locale(request, None)
    texts = await custom_texts(request, None, locale)
    brand = await page_branding(request, "")
    return page(request, "account/deleted.html", locale, {"brand": brand}, texts=texts)
