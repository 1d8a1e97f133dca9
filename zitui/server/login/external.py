"""Signing in through an external identity provider: its button, its answer, and the two
pages for an identity no account is linked to yet (core: `login/external_steps.py`).

The provider's answer arrives as a top-level GET (the browser cookie, SameSite=Lax, comes
with it); a provider that posts its answer (`response_mode=form_post`, Apple) is sent on to
the same GET, since a cross-site POST carries no Lax cookie.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from zitui.core.login.steps import Registration
from zitui.server import paths
from zitui.server.browser import browser_id
from zitui.server.login.flow import (
    field,
    login_page,
    redirect,
    request_meta,
    respond,
    verified_form,
)
from zitui.server.login.start import show_flow
from zitui.server.state import get_services

# What a provider's answer may carry that the callback reads, and how much of each.
ANSWER_FIELDS = {"state": 200, "code": 4000, "error": 200, "iss": 2000}


@login_page
async def external_start(request: Request) -> Response:
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.start_external(
        browser_id(request), flow_id, field(form, "idp"), request_meta(request)
    )
    return await respond(request, outcome)


@login_page
async def external_callback(request: Request) -> Response:
    answer = {name: request.query_params.get(name, "")[:n] for name, n in ANSWER_FIELDS.items()}
    outcome = await get_services(request).login.external_callback(
        browser_id(request),
        answer["state"],
        code=answer["code"],
        error=answer["error"],
        iss=answer["iss"],
        request=request_meta(request),
    )
    return await respond(request, outcome)


async def external_callback_form(request: Request) -> Response:
    """A provider's form_post answer, as the GET above (no CSRF token: the state binds it)."""
    form = await request.form()
    await form.close()
    # Cut as the GET cuts them, so the redirect stays a URL a browser follows.
    answer = {k: v[:n] for k, n in ANSWER_FIELDS.items() if isinstance(v := form.get(k), str) and v}
    return redirect(f"{paths.LOGIN_EXTERNAL_CALLBACK}?{urlencode(answer)}")


@login_page
async def external_option(request: Request) -> Response:
    form, flow_id = await verified_form(request)
    outcome = await get_services(request).login.choose_external_option(
        browser_id(request), flow_id, field(form, "choice")
    )
    return await respond(request, outcome)


@login_page
async def external_register(request: Request) -> Response:
    if request.method == "GET":
        return await show_flow(request)
    form, flow_id = await verified_form(request)
    values = Registration(
        given_name=field(form, "given_name"),
        family_name=field(form, "family_name"),
        email=field(form, "email"),
        username=field(form, "username"),
        language=field(form, "language"),
        accepted_terms=field(form, "terms") == "on",
    )
    outcome = await get_services(request).login.register_external(
        browser_id(request), flow_id, values, request_meta(request)
    )
    return await respond(request, outcome)
