"""Second factors in the sign-in: the set-up prompt (a kind, or skip), TOTP set-up, security
key and passkey registration, the recovery codes shown once, the check of a factor, and the
passkey sign-in of the login-name page. One core call per handler; GETs only read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zitui.server.browser import browser_id
from zitui.server.csrf import verify_csrf
from zitui.server.login.flow import (
    SESSION_PARAM,
    field,
    login_page,
    request_meta,
    respond,
    verified_form,
)
from zitui.server.login.start import show_flow
from zitui.server.state import get_services


@login_page
async def mfa_prompt(request: Request) -> Response:
    """Set up a factor now, or skip (when the login policy allows it)."""
    if request.method == "GET":
        return await show_flow(request)
    form, flow_id = await verified_form(request)
    login = get_services(request).login
    if field(form, "skip"):
        outcome = await login.skip_factor_setup(browser_id(request), flow_id, request_meta(request))
    else:
        outcome = await login.choose_factor(
            browser_id(request), flow_id, field(form, "kind"), request_meta(request)
        )
    return await respond(request, outcome)


@login_page
async def mfa_totp(request: Request) -> Response:
    """The first code from the authenticator app confirms the set-up."""
    if request.method == "GET":
        return await show_flow(request)
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.confirm_totp(
        browser_id(request), flow_id, field(form, "code"), request_meta(request)
    )
    return await respond(request, outcome)


@login_page
async def mfa_recovery_codes(request: Request) -> Response:
    """The codes were shown with the confirmation; this page only goes on."""
    if request.method == "GET":
        return await show_flow(request)
    _, flow_id = await verified_form(request)
    outcome = await get_services(request).login.acknowledge_recovery_codes(
        browser_id(request), flow_id
    )
    return await respond(request, outcome)


@login_page
async def mfa_verify(request: Request) -> Response:
    """A code of the authenticator app, or a recovery code."""
    if request.method == "GET":
        return await show_flow(request)
    form, flow_id = await verified_form(request)
    login = get_services(request).login
    if field(form, "use"):
        outcome = await login.use_factor(
            browser_id(request), flow_id, field(form, "use"), request_meta(request)
        )
    else:
        outcome = await login.verify_factor(
            browser_id(request), flow_id, field(form, "code"), request_meta(request)
        )
    return await respond(request, outcome)


@login_page
async def mfa_key(request: Request) -> Response:
    """The browser's answer to registering a security key or passkey (or its error's name)."""
    if request.method == "GET":
        return await show_flow(request)
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.register_key(
        browser_id(request),
        flow_id,
        field(form, "credential"),
        field(form, "client_error"),
        field(form, "name"),
        request_meta(request),
    )
    return await respond(request, outcome)


@login_page
async def mfa_verify_key(request: Request) -> Response:
    """The browser's answer to the verify page's security-key (or passkey) ceremony."""
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.verify_key(
        browser_id(request),
        flow_id,
        field(form, "credential"),
        field(form, "client_error"),
        request_meta(request),
    )
    return await respond(request, outcome)


@login_page
async def passkey_sign_in(request: Request) -> Response:
    """A passkey alone, from the login-name page's button or the browser's autofill."""
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.sign_in_with_passkey(
        browser_id(request),
        flow_id,
        field(form, "credential"),
        field(form, "client_error"),
        request_meta(request),
    )
    return await respond(request, outcome)


@login_page
async def mfa_add(request: Request) -> Response:
    """ "Add a second factor or passkey" for one account of this browser (`sessionID`)."""
    form = await request.form()
    await form.close()
    await verify_csrf(request, form)
    outcome = await get_services(request).login.start_adding_factor(
        browser_id(request), field(form, SESSION_PARAM), request_meta(request)
    )
    return await respond(request, outcome)
