"""A read-only preview of the login-name page with an organisation's branding, for managers
who change it (the TUI prints or opens its address). It starts no flow and changes nothing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zitui.server.login.branding import page_branding
from zitui.server.login.flow import PageFlow, choose_locale, page


async def preview(request: Request) -> Response:
    brand = await page_branding(request, request.query_params.get("org", ""))
    context = {"flow": PageFlow(), "errors": {}, "alert": "", "brand": brand, "login_name": ""}
    return page(request, "login/preview.html", choose_locale(request, None), context)
