"""The first steps: the entry page, the login name, and choosing one of the browser's accounts.

GET requests only read: reusing a session always takes a POST (a click on the account list),
so a page that merely loads never signs anyone in.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zitui.core.services import Services
from zitui.core.sessions import may_change_password, satisfies
from zitui.errors import InvalidArgument, PreconditionFailed, http_status
from zitui.records import Session
from zitui.server import paths
from zitui.server.login.flow import (
    AUTH_REQUEST_PARAM,
    SESSION_PARAM,
    Flow,
    browser_cookie,
    choose_locale,
    field,
    finish,
    form_errors,
    load_flow,
    login_page,
    redirect,
    verified_form,
)
from zitui.server.login.views import account_list, login_name_form, password_form
from zitui.server.state import get_services


@login_page
async def start(request: Request) -> Response:
    """`prompt=login` asks for a login name; otherwise known accounts are offered first."""
    flow = await load_flow(request, request.query_params.get(AUTH_REQUEST_PARAM, ""))
    services = get_services(request)
    sessions = flow.visible(await services.sessions.list_browser_sessions(browser_cookie(request)))
    locale = choose_locale(request, flow)
    if sessions and not flow.prompts("login"):
        signed_in = await _satisfying(services, flow, sessions)
        return account_list(request, flow, locale, sessions, signed_in=signed_in)
    return login_name_form(request, flow, locale, login_name=_hint(flow, sessions))


@login_page
async def login_name(request: Request) -> Response:
    if request.method == "GET":
        flow = await load_flow(request, request.query_params.get(AUTH_REQUEST_PARAM, ""))
        return login_name_form(request, flow, choose_locale(request, flow), login_name=_hint(flow))
    form, flow = await verified_form(request)
    locale = choose_locale(request, flow)
    typed = field(form, "login_name")
    try:
        target = await get_services(request).sessions.resolve_login_name(typed, org_id=flow.org_id)
    except (InvalidArgument, PreconditionFailed) as exc:
        errors, alert = form_errors(locale, exc)
        return login_name_form(
            request,
            flow,
            locale,
            login_name=typed,
            errors=errors,
            alert=alert,
            status_code=http_status(exc),
        )
    return password_form(request, flow, locale, login_name=target.login_name)


@login_page
async def select_account(request: Request) -> Response:
    """Continue as one of the browser's accounts; a password is asked only when needed."""
    form, flow = await verified_form(request)
    services = get_services(request)
    session = await services.sessions.find_browser_session(
        browser_cookie(request), field(form, SESSION_PARAM)
    )
    if session is None or not flow.visible([session]):
        return redirect(flow.url(paths.LOGIN))
    if session.id in await _satisfying(services, flow, [session]):
        await services.sessions.touch(session.id)
        return await finish(request, flow, session)
    if may_change_password(session, now=services.clock.now()):
        return redirect(flow.url(paths.LOGIN_PASSWORD_CHANGE, **{SESSION_PARAM: session.id}))
    return redirect(flow.url(paths.LOGIN_PASSWORD, **{SESSION_PARAM: session.id}))


async def _satisfying(services: Services, flow: Flow, sessions: list[Session]) -> set[str]:
    """The ids of the sessions good enough for this flow without a new password."""
    now = services.clock.now()
    policies = {
        org: await services.sessions.login_policy(org) for org in {s.org_id for s in sessions}
    }
    return {
        session.id
        for session in sessions
        if satisfies(
            session,
            now=now,
            max_age=flow.max_age,
            not_before=flow.not_before,
            policy=policies[session.org_id],
        )
    }


def _hint(flow: Flow, sessions: list[Session] | None = None) -> str:
    """The login name to pre-fill: the auth request's login_hint, else the id_token_hint's
    user when this browser knows them."""
    if flow.login_hint:
        return flow.login_hint
    hinted = flow.auth_request.hint_user_id if flow.auth_request else ""
    known = [s.login_name for s in sessions or [] if hinted and s.user_id == hinted]
    return known[0] if known else ""
