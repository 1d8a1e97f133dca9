"""The entry page, the login name, and choosing one of the browser's accounts.

Each handler makes one core call and renders the step it answers with. GETs change no
sign-in: reusing a session always takes a POST (a click on the account list).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from zitui.server import paths
from zitui.server.browser import browser_id, ensure_browser_id
from zitui.server.login.flow import (
    AUTH_REQUEST_PARAM,
    FLOW_PARAM,
    SESSION_PARAM,
    field,
    login_page,
    redirect,
    request_meta,
    respond,
    verified_form,
)
from zitui.server.state import get_services


@login_page
async def start(request: Request) -> Response:
    """`?flow=` shows that flow's step; otherwise a flow starts (for `?authRequestID=`)."""
    login = get_services(request).login
    flow_id = request.query_params.get(FLOW_PARAM, "")
    if flow_id:
        return await respond(request, await login.show(browser_id(request), flow_id))
    auth_request_id = request.query_params.get(AUTH_REQUEST_PARAM, "")
    outcome = await login.start(
        ensure_browser_id(request), auth_request_id=auth_request_id, request=request_meta(request)
    )
    return await respond(request, outcome)


@login_page
async def login_name(request: Request) -> Response:
    login = get_services(request).login
    if request.method == "GET":
        flow_id = request.query_params.get(FLOW_PARAM, "")
        if not flow_id:
            return redirect(entry(request))
        return await respond(request, await login.ask_login_name(browser_id(request), flow_id))
    form, flow_id = await verified_form(request)
    outcome = await login.submit_login_name(browser_id(request), flow_id, field(form, "login_name"))
    return await respond(request, outcome)


def entry(request: Request) -> str:
    """The entry page, keeping an `authRequestID` a page was opened with (as ZITADEL's
    login-name and password pages accept one)."""
    auth_request_id = request.query_params.get(AUTH_REQUEST_PARAM, "")
    if not auth_request_id:
        return paths.LOGIN
    return f"{paths.LOGIN}?{urlencode({AUTH_REQUEST_PARAM: auth_request_id})}"


@login_page
async def select_account(request: Request) -> Response:
    """Continue as one of the browser's accounts; a password is asked only when needed."""
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.choose_account(
        browser_id(request), flow_id, field(form, SESSION_PARAM), request_meta(request)
    )
    return await respond(request, outcome)


async def show_flow(request: Request) -> Response:
    """A GET of a step's page: the flow's current step (`?flow=`), else the entry page."""
    flow_id = request.query_params.get(FLOW_PARAM, "")
    if not flow_id:
        return redirect(entry(request))
    login = get_services(request).login
    return await respond(request, await login.show(browser_id(request), flow_id))
