"""The profile page: names, gender and language, the username, and the email address and
phone number with their verification codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from zitui.core.context import Context
from zitui.core.user_profile import GENDERS, ProfileChange
from zitui.errors import ZituiError
from zitui.i18n import SUPPORTED_LOCALES
from zitui.server import paths
from zitui.server.account.base import (
    AccountNav,
    account_form,
    account_page,
    account_service,
    done,
    on_field,
    render_account,
    settle,
)
from zitui.server.login.flow import field


async def show_profile(
    request: Request,
    ctx: Context,
    nav: AccountNav,
    *,
    error: ZituiError | None = None,
    values: Mapping[str, str] | None = None,
) -> Response:
    me = await account_service(request).me(ctx)
    context = {"values": values or {}, "genders": GENDERS, "languages": SUPPORTED_LOCALES}
    return await render_account(request, me, nav, "account/profile.html", context, error=error)


@account_page(paths.ACCOUNT)
async def profile(request: Request, ctx: Context, nav: AccountNav) -> Response:
    return await show_profile(request, ctx, nav)


def _typed(form: FormData) -> dict[str, str]:
    return {name: value for name, value in form.multi_items() if isinstance(value, str)}


def _failed(
    request: Request, ctx: Context, nav: AccountNav, form: FormData, name: str = ""
) -> Callable[[ZituiError], Awaitable[Response]]:
    """The profile page again with the error (on the field `name`) and what was typed."""

    async def again(error: ZituiError) -> Response:
        shown = on_field(error, name) if name else error
        return await show_profile(request, ctx, nav, error=shown, values=_typed(form))

    return again


@account_form(paths.ACCOUNT)
async def save_profile(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    change = ProfileChange(
        first_name=field(form, "first_name"),
        last_name=field(form, "last_name"),
        nickname=field(form, "nickname"),
        display_name=field(form, "display_name"),
        gender=field(form, "gender"),
        preferred_language=field(form, "preferred_language"),
    )
    work = account_service(request).update_profile(ctx, change)
    return await settle(work, done(nav, "profile_saved"), _failed(request, ctx, nav, form))


@account_form(paths.ACCOUNT)
async def change_username(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    work = account_service(request).change_username(ctx, field(form, "username"))
    failed = _failed(request, ctx, nav, form, "username")
    return await settle(work, done(nav, "profile_saved"), failed)


@account_form(paths.ACCOUNT)
async def change_email(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).change_email(ctx, field(form, "email"))
    failed = _failed(request, ctx, nav, form, "email")
    return await settle(work, done(nav, "email_sent"), failed)


@account_form(paths.ACCOUNT)
async def verify_email(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).verify_email(ctx, field(form, "email_code"))
    failed = _failed(request, ctx, nav, form, "email_code")
    return await settle(work, done(nav, "email_verified"), failed)


@account_form(paths.ACCOUNT)
async def resend_email(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).resend_email_code(ctx)
    return await settle(work, done(nav, "email_sent"), _failed(request, ctx, nav, form))


@account_form(paths.ACCOUNT)
async def change_phone(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).change_phone(ctx, field(form, "phone"))
    failed = _failed(request, ctx, nav, form, "phone")
    return await settle(work, done(nav, "phone_sent"), failed)


@account_form(paths.ACCOUNT)
async def verify_phone(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).verify_phone(ctx, field(form, "phone_code"))
    failed = _failed(request, ctx, nav, form, "phone_code")
    return await settle(work, done(nav, "phone_verified"), failed)


@account_form(paths.ACCOUNT)
async def resend_phone(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).resend_phone_code(ctx)
    return await settle(work, done(nav, "phone_sent"), _failed(request, ctx, nav, form))


@account_form(paths.ACCOUNT)
async def remove_phone(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).remove_phone(ctx)
    return await settle(work, done(nav, "phone_removed"), _failed(request, ctx, nav, form))
