"""The browser-facing endpoints: authorize, its callback from the hosted login, end_session.

Responses go back by redirect (302) or, for `response_mode=form_post`, by a page that POSTs
the parameters to the client (OAuth 2.0 Form Post Response Mode §2): an auto-submitting form
whose one inline script is allowed by its hash in this page's own CSP, with a button for
browsers without JavaScript. When a response cannot go back to the client, a page says why.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from zitui.core.oidc.authorization_request import AuthorizeParams
from zitui.core.oidc.responses import FORM_POST, Redirect, ToLogin
from zitui.core.oidc.rp_logout import EndSessionParams
from zitui.errors import ZituiError
from zitui.server import paths
from zitui.server.browser import browser_id, clear_browser_id
from zitui.server.csrf import verify_csrf
from zitui.server.login.branding import page_branding
from zitui.server.login.flow import AUTH_REQUEST_PARAM, choose_locale, custom_texts, page
from zitui.server.oidc.common import context, error_page
from zitui.server.state import get_services

CONFIRM_FIELD = "confirm"
AUTO_SUBMIT = "document.forms[0].submit();"
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(AUTO_SUBMIT.encode()).digest()).decode()
FORM_POST_CSP = (
    f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


async def authorize(request: Request) -> Response:
    """RFC 6749 §4.1.1 by GET, or by POST (OIDC Core §3.1.2.1)."""
    if request.method == "POST":
        async with request.form() as form:  # closes uploaded files, which are ignored
            items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    else:
        items = request.query_params.multi_items()
    services = get_services(request)
    try:
        outcome = await services.auth_requests.authorize(
            context(request),
            AuthorizeParams.from_items(items),
            browser_cookie=browser_id(request),
        )
    except ZituiError as exc:
        return error_page(request, exc)
    if isinstance(outcome, ToLogin):
        query = urlencode({AUTH_REQUEST_PARAM: outcome.auth_request_id})
        return RedirectResponse(f"{paths.LOGIN}?{query}", status_code=302)
    return send_back(outcome)


async def callback(request: Request) -> Response:
    """The hosted login's hand-back (`?id=<auth request>`): the code goes to the client."""
    services = get_services(request)
    try:
        outcome = await services.auth_requests.issue_code(
            context(request),
            request.query_params.get("id", ""),
            browser_cookie=browser_id(request),
        )
    except ZituiError as exc:
        return error_page(request, exc)
    return send_back(outcome)


async def end_session(request: Request) -> Response:
    """RP-Initiated Logout 1.0 §2 by GET or POST. Without a valid `id_token_hint` the user
    confirms on a page of ours first; that form comes back here with `confirm` and a CSRF
    token."""
    form = await request.form() if request.method == "POST" else None
    if form is not None:
        await form.close()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        values = dict(request.query_params)
    services = get_services(request)
    params = EndSessionParams.from_mapping(values)
    try:
        confirmed = form is not None and values.get(CONFIRM_FIELD) == "yes"
        if confirmed and form is not None:
            await verify_csrf(request, form)
        logout = await services.auth_requests.end_session(
            context(request), params, browser_cookie=browser_id(request), confirmed=confirmed
        )
    except ZituiError as exc:
        return error_page(request, exc)
    if logout.needs_confirmation:
        locale = choose_locale(request, None)
        context_values = {
            "params": params,
            "confirm_field": CONFIRM_FIELD,
            "brand": await page_branding(request, ""),
        }
        texts = await custom_texts(request, None, locale)
        return page(request, "login/logout_confirm.html", locale, context_values, texts=texts)
    response = RedirectResponse(logout.location or paths.LOGOUT_DONE, status_code=302)
    # A new browser id at the next sign-in, as after signing out on the login pages.
    clear_browser_id(request)
    return response


def send_back(outcome: Redirect) -> Response:
    if outcome.response_mode == FORM_POST:
        return form_post(outcome)
    return RedirectResponse(outcome.location, status_code=302)


def form_post(outcome: Redirect) -> Response:
    fields = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in outcome.params
    )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Continue</title></head><body>"
        f'<form method="post" action="{escape(outcome.redirect_uri)}">{fields}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        f"<script>{AUTO_SUBMIT}</script></body></html>"
    )
    headers = {"Content-Security-Policy": FORM_POST_CSP, "Cache-Control": "no-store"}
    return HTMLResponse(body, headers=headers)
