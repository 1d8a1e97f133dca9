"""The password step, and the new password a user must choose before going on."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from zitui.core.sessions import may_change_password
from zitui.errors import (
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    ReauthRequired,
    Unauthenticated,
    ZituiError,
    http_status,
)
from zitui.i18n import translate
from zitui.records import Session
from zitui.server import paths
from zitui.server.login.flow import (
    AUTH_REQUEST_PARAM,
    SESSION_PARAM,
    Flow,
    browser_cookie,
    choose_locale,
    ensure_browser_cookie,
    field,
    finish,
    form_errors,
    load_flow,
    login_page,
    redirect,
    request_meta,
    set_browser_cookie,
    verified_form,
)
from zitui.server.login.views import password_change_form, password_form
from zitui.server.state import get_services


@login_page
async def password(request: Request) -> Response:
    if request.method == "GET":
        return await _password_again(request)
    form, flow = await verified_form(request)
    login_name = field(form, "login_name")
    cookie, fresh = ensure_browser_cookie(request)
    try:
        session = await get_services(request).sessions.check_password(
            cookie, login_name, field(form, "password"), request_meta(request), org_id=flow.org_id
        )
    except (Unauthenticated, PreconditionFailed, InvalidArgument) as exc:
        locale = choose_locale(request, flow)
        errors, alert = form_errors(locale, exc)
        return password_form(
            request,
            flow,
            locale,
            login_name=login_name,
            errors=errors,
            alert=alert,
            status_code=http_status(exc),
        )
    response = await finish(request, flow, session)
    if fresh:
        set_browser_cookie(request, response, cookie)
    return response


async def _password_again(request: Request) -> Response:
    """The password page for an account this browser knows (chosen from the list)."""
    flow, session = await _flow_and_session(request)
    if session is None:
        return redirect(flow.url(paths.LOGIN_NAME))
    # The user's own language only for a session: for a typed name it would tell the user exists.
    locale = choose_locale(request, flow, session.preferred_language)
    return password_form(request, flow, locale, login_name=session.login_name)


@login_page
async def password_change(request: Request) -> Response:
    """Required change (first sign-in, a manager's reset): the current password was just
    proven, so only the new one is asked, twice."""
    if request.method == "GET":
        flow, session = await _flow_and_session(request)
        return await _change_form_or_elsewhere(request, flow, session)
    form, flow = await verified_form(request)
    services = get_services(request)
    cookie = browser_cookie(request)
    session = await services.sessions.find_browser_session(cookie, field(form, SESSION_PARAM))
    if session is None:
        return redirect(flow.url(paths.LOGIN))
    locale = choose_locale(request, flow, session.preferred_language)
    new, repeat = field(form, "new_password"), field(form, "new_password_repeat")
    if not hmac.compare_digest(new.encode(), repeat.encode()):
        message = translate(locale, "password.mismatch")
        errors = {"new_password_repeat": message}
        return await _change_form(request, flow, session, locale, errors=errors, status_code=400)
    try:
        changed = await services.sessions.change_required_password(
            cookie, session.id, new, request_meta(request)
        )
    except ReauthRequired:
        return redirect(flow.url(paths.LOGIN_PASSWORD, **{SESSION_PARAM: session.id}))
    except NotFound:
        return redirect(flow.url(paths.LOGIN))
    except ZituiError as exc:
        errors, alert = form_errors(locale, exc)
        return await _change_form(
            request, flow, session, locale, errors=errors, alert=alert, status_code=http_status(exc)
        )
    return await finish(request, flow, changed)


async def _change_form_or_elsewhere(
    request: Request, flow: Flow, session: Session | None
) -> Response:
    if session is None or not session.password_change_required:
        return redirect(flow.url(paths.LOGIN))
    if not may_change_password(session, now=get_services(request).clock.now()):
        return redirect(flow.url(paths.LOGIN_PASSWORD, **{SESSION_PARAM: session.id}))
    locale = choose_locale(request, flow, session.preferred_language)
    return await _change_form(request, flow, session, locale)


async def _change_form(
    request: Request,
    flow: Flow,
    session: Session,
    locale: str,
    *,
    errors: dict[str, str] | None = None,
    alert: str = "",
    status_code: int = 200,
) -> Response:
    policy = await get_services(request).sessions.password_requirements(session)
    return password_change_form(
        request,
        flow,
        locale,
        session=session,
        policy=policy,
        errors=errors,
        alert=alert,
        status_code=status_code,
    )


async def _flow_and_session(request: Request) -> tuple[Flow, Session | None]:
    flow = await load_flow(request, request.query_params.get(AUTH_REQUEST_PARAM, ""))
    session = await get_services(request).sessions.find_browser_session(
        browser_cookie(request), request.query_params.get(SESSION_PARAM, "")
    )
    if session is not None and not flow.visible([session]):
        session = None
    return flow, session
