"""A read-only preview of the login-name page as an organisation's logins show it (branding,
custom texts, footer links), for managers who change them (the TUI prints or opens its
address). It starts no flow and changes nothing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zitui.server.login.branding import PageBranding
from zitui.server.login.flow import PageFlow, choose_locale, custom_texts, page
from zitui.server.state import get_services


async def preview(request: Request) -> Response:
    label = await get_services(request).labeling.for_org(request.query_params.get("org", ""))
    locale = choose_locale(request, None)
    texts = await custom_texts(request, label.org_id or None, locale)
    brand = PageBranding.of(label)
    context = {"flow": PageFlow(), "errors": {}, "alert": "", "brand": brand, "login_name": ""}
    return page(request, "login/preview.html", locale, context, texts=texts)
