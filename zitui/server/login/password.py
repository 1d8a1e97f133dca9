"""The password step, and the new password a user must choose before going on."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zitui.server.browser import browser_id
from zitui.server.login.flow import (
    field,
    login_page,
    request_meta,
    respond,
    verified_form,
)
from zitui.server.login.start import show_flow
from zitui.server.state import get_services


@login_page
async def password(request: Request) -> Response:
    login = get_services(request).login
    if request.method == "GET":
        return await show_flow(request)
    form, flow_id = await verified_form(request)
    outcome = await login.submit_password(
        browser_id(request), flow_id, field(form, "password"), request_meta(request)
    )
    return await respond(request, outcome)


@login_page
async def password_change(request: Request) -> Response:
    """Required change (first sign-in, a manager's reset): the current password was just
    proven, so only the new one is asked, twice."""
    if request.method == "GET":
        return await show_flow(request)
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.change_password(
        browser_id(request),
        flow_id,
        field(form, "new_password"),
        field(form, "new_password_repeat"),
        request_meta(request),
    )
    return await respond(request, outcome)
