"""Registration, and the pages that take a code from a mail: email verification, password
reset and initialisation. One core call per handler; the links in mails open with a GET that
only fills the code in (mail scanners follow links), the button posts it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zitui.core.login.steps import Registration
from zitui.core.user_codes import Purpose
from zitui.server.browser import browser_id, ensure_browser_id
from zitui.server.login.flow import (
    FLOW_PARAM,
    field,
    login_page,
    redirect,
    request_meta,
    respond,
    verified_form,
)
from zitui.server.login.start import entry
from zitui.server.state import get_services

USER_PARAM = "userID"
CODE_PARAM = "code"


@login_page
async def register(request: Request) -> Response:
    login = get_services(request).login
    if request.method == "GET":
        flow_id = request.query_params.get(FLOW_PARAM, "")
        if not flow_id:
            return redirect(entry(request))
        return await respond(request, await login.ask_registration(browser_id(request), flow_id))
    form, flow_id = await verified_form(request)
    values = Registration(
        given_name=field(form, "given_name"),
        family_name=field(form, "family_name"),
        email=field(form, "email"),
        username=field(form, "username"),
        language=field(form, "language"),
        accepted_terms=field(form, "terms") == "on",
    )
    outcome = await login.register(
        browser_id(request),
        flow_id,
        values,
        field(form, "password"),
        field(form, "password_repeat"),
        request_meta(request),
    )
    return await respond(request, outcome)


@login_page
async def verify_email(request: Request) -> Response:
    if request.method == "GET":
        return await _opened(request, Purpose.EMAIL)
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.verify_email(
        browser_id(request), flow_id, field(form, CODE_PARAM), request_meta(request)
    )
    return await respond(request, outcome)


@login_page
async def password_init(request: Request) -> Response:
    """A forgotten password's code (from the mail's link or typed) and the new password."""
    if request.method == "GET":
        return await _opened(request, Purpose.RESET)
    return await _set_password(request)


@login_page
async def user_init(request: Request) -> Response:
    """A new user's initialisation code and their first password."""
    if request.method == "GET":
        return await _opened(request, Purpose.INIT)
    return await _set_password(request)


@login_page
async def password_reset(request: Request) -> Response:
    """ "Forgot password?": a code to the login name's address (the same page for any name)."""
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.request_password_reset(
        browser_id(request), flow_id, request_meta(request)
    )
    return await respond(request, outcome)


@login_page
async def resend_code(request: Request) -> Response:
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.resend_code(
        browser_id(request), flow_id, request_meta(request)
    )
    return await respond(request, outcome)


async def _set_password(request: Request) -> Response:
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.set_password_with_code(
        browser_id(request),
        flow_id,
        field(form, CODE_PARAM),
        field(form, "password"),
        field(form, "password_repeat"),
        request_meta(request),
    )
    return await respond(request, outcome)


async def _opened(request: Request, purpose: Purpose) -> Response:
    """A mail's link (`?userID=&code=`, with the flow that sent it when there was one), or a
    flow's page reloaded (`?flow=`)."""
    login = get_services(request).login
    query = request.query_params
    user_id = query.get(USER_PARAM, "")
    flow_id = query.get(FLOW_PARAM, "")
    if user_id:
        outcome = await login.open_code_link(
            ensure_browser_id(request),
            purpose,
            user_id[:40],
            query.get(CODE_PARAM, "")[:64],
            flow_id=flow_id[:40],
            request=request_meta(request),
        )
        return await respond(request, outcome)
    if not flow_id:
        return redirect(entry(request))
    return await respond(request, await login.show(browser_id(request), flow_id))
