"""The signed-in overview of this browser's accounts, signing out, and the signed-out page."""

from __future__ import annotations

from contextlib import suppress

from starlette.requests import Request
from starlette.responses import Response

from zitui.errors import NotFound
from zitui.server import paths
from zitui.server.browser import browser_id, clear_browser_id
from zitui.server.csrf import verify_csrf
from zitui.server.login.branding import page_branding
from zitui.server.login.flow import (
    SESSION_PARAM,
    choose_locale,
    custom_texts,
    field,
    page,
    redirect,
    request_meta,
)
from zitui.server.state import get_services


async def signed_in(request: Request) -> Response:
    """Who is signed in on this browser, with a way out for each and for all."""
    sessions = await get_services(request).sessions.list_browser_sessions(browser_id(request))
    if not sessions:
        return redirect(paths.LOGIN)
    locale = choose_locale(request, None, sessions[0].preferred_language)
    texts = await custom_texts(request, None, locale)
    warnings = await get_services(request).sessions.password_warnings(sessions)
    context = {
        "sessions": sessions,
        "password_warnings": warnings,
        "brand": await page_branding(request, ""),
    }
    return page(request, "login/signed_in.html", locale, context, texts=texts)


async def logout(request: Request) -> Response:
    """Sign out one account (`sessionID`) or, without one, every account of this browser."""
    form = await request.form()
    await form.close()
    await verify_csrf(request, form)
    sessions = get_services(request).sessions
    cookie, session_id = browser_id(request), field(form, SESSION_PARAM)
    if session_id:
        with suppress(NotFound):  # already signed out, perhaps in another tab
            await sessions.terminate_session(cookie, session_id, request=request_meta(request))
        if await sessions.list_browser_sessions(cookie):
            return redirect(paths.LOGIN_SIGNED_IN)
        return redirect(paths.LOGOUT_DONE)
    await sessions.terminate_browser(cookie, request=request_meta(request))
    # A new browser id at the next visit: nothing links it to the accounts just signed out.
    clear_browser_id(request)
    return redirect(paths.LOGOUT_DONE)


async def logged_out(request: Request) -> Response:
    locale = choose_locale(request, None)
    texts = await custom_texts(request, None, locale)
    brand = await page_branding(request, "")
    return page(request, "login/logged_out.html", locale, {"brand": brand}, texts=texts)
