"""The connections page: the identity providers linked to the account (removed one by one)
and a button for each provider the user may link next, which sends the browser to that
provider through the login flow and back here."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from zitui.core.context import Context
from zitui.errors import ZituiError
from zitui.server import paths
from zitui.server.account.base import (
    DONE_PARAM,
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
from zitui.server.login.flow import field, request_meta, respond
from zitui.server.state import get_services


async def show_connections(
    request: Request, ctx: Context, nav: AccountNav, *, error: ZituiError | None = None
) -> Response:
    service = account_service(request)
    me = await service.me(ctx)
    context = {
        "links": await service.links(ctx),
        "linkable": await service.linkable_providers(ctx),
    }
    return await render_account(request, me, nav, "account/connections.html", context, error=error)


@account_page(paths.ACCOUNT_CONNECTIONS)
async def connections(request: Request, ctx: Context, nav: AccountNav) -> Response:
    return await show_connections(request, ctx, nav)


@account_form(paths.ACCOUNT_CONNECTIONS)
async def link_provider(
    request: Request, ctx: Context, nav: AccountNav, form: FormData
) -> Response:
    """Off to the provider (after the password when the sign-in is old); the login flow
    links the identity it answers with and ends back on this page."""
    idp_id = field(form, "idp")
    try:
        session = await account_service(request).linking_session(ctx, idp_id)
        outcome = await get_services(request).login.start_linking(
            browser_id(request),
            session,
            idp_id,
            request_meta(request),
            return_to=nav.url(paths.ACCOUNT_CONNECTIONS, **{DONE_PARAM: "idp_linked"}),
        )
    except ZituiError as error:
        if not refusable(error):
            raise
        return await show_connections(request, ctx, nav, error=error)
    return await respond(request, outcome)


@account_form(paths.ACCOUNT_CONNECTIONS)
async def remove_link(request: Request, ctx: Context, nav: AccountNav, form: FormData) -> Response:
    work = account_service(request).remove_link(ctx, field(form, "link"))

    async def failed(error: ZituiError) -> Response:
        return await show_connections(request, ctx, nav, error=error)

    return await settle(work, done(nav, "idp_removed"), failed)
