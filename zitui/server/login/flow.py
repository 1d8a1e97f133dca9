"""What every login page needs: the flow's id, the browser id, the language, and one
function that turns a core step into a page.

The flow id comes from the query (`?flow=`) or a form's hidden field; the entry page takes
`?authRequestID=` as ZITADEL's does. An unknown or expired flow or auth request ends on a page
that says so, never on a redirect, since the request's redirect URI cannot be trusted then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from zitui.core.context import RequestMeta
from zitui.core.login.steps import (
    AskLoginName,
    AskPassword,
    ChangePassword,
    ChooseAccount,
    Done,
    EmailVerified,
    ExternalFailed,
    ExternalNotFound,
    ExternalRegister,
    FlowView,
    GoToProvider,
    NotAllowed,
    Outcome,
    Refused,
    Register,
    SetPassword,
    SetUpFactor,
    SetUpKey,
    SetUpTotp,
    ShowRecoveryCodes,
    Step,
    VerifyEmail,
    VerifyFactor,
)
from zitui.errors import FlowExpired, NotFound, ZituiError, http_status
from zitui.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, best_locale, lookup, translator
from zitui.server import paths
from zitui.server.browser import set_browser_id
from zitui.server.csrf import verify_csrf
from zitui.server.login.branding import PageBranding, page_branding
from zitui.server.rendering import render
from zitui.server.state import get_services

AUTH_REQUEST_PARAM = "authRequestID"
FLOW_PARAM = "flow"
SESSION_PARAM = "sessionID"


@dataclass(frozen=True)
class PageFlow:
    """A flow as the templates use it: its id, the application, and links within it."""

    view: FlowView | None = None

    @property
    def id(self) -> str:
        return self.view.id if self.view else ""

    @property
    def app_name(self) -> str:
        return self.view.app_name if self.view else ""

    @property
    def callback(self) -> str:
        """The OIDC callback: it answers the application at its registered redirect URI, with
        a code once the request is linked, else with access_denied (the way to give up)."""
        request_id = self.view.auth_request_id if self.view else ""
        if not request_id:
            return ""
        return f"{paths.AUTHORIZE_CALLBACK}?{urlencode({'id': request_id})}"

    def url(self, path: str, **params: str) -> str:
        """`path` with this flow's id (and `params`) in the query."""
        query = {FLOW_PARAM: self.id} if self.id else {}
        query.update({k: v for k, v in params.items() if v})
        return f"{path}?{urlencode(query)}" if query else path


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def verified_form(request: Request) -> tuple[FormData, str]:
    """The POSTed form and the flow id it continues, once its CSRF token checks out."""
    form = await request.form()
    await form.close()  # an uploaded file is nothing a login form takes: release it now
    flow_id = field(form, FLOW_PARAM)
    await verify_csrf(request, form, flow_id)
    return form, flow_id


def choose_locale(request: Request, flow: FlowView | None, user_language: str = "") -> str:
    """The auth request's ui_locales, then the user's own language (once the page may show
    whose account it is), then Accept-Language."""
    query_locales = tuple(request.query_params.get("ui_locales", "").split())
    ui_locales = flow.ui_locales if flow else query_locales
    preferences = (", ".join(ui_locales), user_language, request.headers.get("accept-language", ""))
    for preference in preferences:
        chosen = best_locale(preference) if preference else None
        if chosen:
            return chosen
    return DEFAULT_LOCALE


def page(
    request: Request,
    template: str,
    locale: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    texts: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """`texts`: the custom texts of the page's organisation in `locale` (`custom_texts`),
    which `t` finds before the catalogue."""
    values = {"locale": locale, "t": translator(locale, texts), **context}
    return render(request, template, values, status_code=status_code)


async def custom_texts(request: Request, org_id: str | None, locale: str) -> Mapping[str, str]:
    """The custom texts a page of the organisation (None: the instance) shows in `locale`,
    read for each page, so a change shows on the next one."""
    return await get_services(request).texts.overrides(org_id, locale)


def message(locale: str, code: str, texts: Mapping[str, str] | None = None) -> str | None:
    """The message of `code` in the page's language: a custom text, else the catalogue's."""
    return (texts or {}).get(code) or lookup(locale, code)


def error_message(locale: str, error: ZituiError, texts: Mapping[str, str] | None = None) -> str:
    """The error in the page's language; its code is the message key."""
    return message(locale, error.code, texts) or error.message


def form_errors(
    locale: str, error: ZituiError | None, texts: Mapping[str, str] | None = None
) -> tuple[dict[str, str], str]:
    """(field errors, page alert): an error naming a field goes on that field."""
    if error is None:
        return {}, ""
    shown = error_message(locale, error, texts)
    return ({error.field: shown}, "") if error.field else ({}, shown)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def request_meta(request: Request) -> RequestMeta:
    return RequestMeta(
        origin="login",
        ip=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


async def respond(request: Request, outcome: Outcome) -> Response:
    """The page (or redirect) for a step, with the branding, texts and legal links of the
    organisation that labels the flow (`core.login.labeling`); a new browser id goes on the
    response."""
    if outcome.browser_cookie:
        set_browser_id(request, outcome.browser_cookie)
    step = outcome.step
    if isinstance(step, Done):
        return redirect(PageFlow(step.flow).callback or step.redirect_uri or paths.LOGIN_SIGNED_IN)
    if isinstance(step, GoToProvider):
        return redirect(step.url)
    label = await get_services(request).labeling.for_flow(step.flow)
    locale = choose_locale(request, step.flow, getattr(step, "language", ""))
    texts = await custom_texts(request, label.org_id or None, locale)
    return _page_for(request, step, PageBranding.of(label), locale, texts)


def _page_for(
    request: Request, step: Step, brand: PageBranding, locale: str, texts: Mapping[str, str]
) -> Response:
    flow = PageFlow(step.flow)
    error = getattr(step, "error", None)
    errors, alert = form_errors(locale, error, texts)
    status = http_status(error) if error is not None else 200
    context: dict[str, Any] = {"flow": flow, "errors": errors, "alert": alert, "brand": brand}
    match step:
        case AskLoginName():
            context.update(
                login_name=step.login_name,
                may_register=step.may_register,
                passkey_options=step.passkey_options,
                providers=step.providers,
                local_allowed=step.local_allowed,
                linking=step.linking,
            )
            template = "login/login_name.html"
        case ChooseAccount():
            context["accounts"] = step.accounts
            template = "login/select_account.html"
        case AskPassword():
            context.update(
                login_name=step.login_name, may_reset=step.may_reset, linking=step.linking
            )
            template = "login/password.html"
        case ChangePassword():
            context.update(
                login_name=step.login_name, display_name=step.display_name, policy=step.policy
            )
            template = "login/password_change.html"
        case Refused():
            context["message"] = message(locale, step.code, texts) or step.message
            template, status = "login/refused.html", 403
        case Register():
            context.update(
                values=step.values,
                policy=step.policy,
                legal=step.legal,
                languages=SUPPORTED_LOCALES,
                chosen_language=step.values.language or locale,
            )
            template = "login/register.html"
        case VerifyEmail():
            context.update(delivery=step.delivery, code=step.code, resent=step.resent)
            template = "login/verify_email.html"
        case SetPassword():
            context.update(
                purpose=step.purpose,
                login_name=step.login_name,
                policy=step.policy,
                code=step.code,
                resent=step.resent,
            )
            template = "login/set_password.html"
        case EmailVerified():
            context["redirect_uri"] = step.redirect_uri
            template = "login/email_verified.html"
        case NotAllowed():
            context["message"] = message(locale, step.code, texts) or step.message
            context["back"] = step.back
            template, status = "login/not_allowed.html", 403
        case SetUpFactor():
            context.update(forced=step.forced, kinds=step.kinds)
            template = "login/mfa_prompt.html"
        case SetUpTotp():
            context.update(qr_svg=step.qr_svg, uri=step.uri, secret=step.secret)
            template = "login/mfa_totp.html"
        case ShowRecoveryCodes():
            context.update(codes=step.codes, download=recovery_download(step.codes))
            template = "login/mfa_recovery_codes.html"
        case SetUpKey():
            context.update(kind=step.kind, options_json=step.options_json)
            template = "login/mfa_key.html"
        case VerifyFactor():
            context.update(
                kinds=step.kinds,
                recovery_left=step.recovery_left,
                current=step.current,
                options_json=step.options_json,
                sent_to=step.sent_to,
            )
            template = "login/mfa_verify.html"
        case ExternalNotFound():
            context.update(
                provider=step.provider,
                identity_name=step.identity_name,
                may_create=step.may_create,
                may_link=step.may_link,
            )
            template = "login/external_not_found.html"
        case ExternalRegister():
            context.update(
                external=True,
                provider=step.provider,
                values=step.values,
                legal=step.legal,
                email_verified=step.email_verified,
                languages=SUPPORTED_LOCALES,
                chosen_language=step.values.language or locale,
            )
            template = "login/register.html"
        case ExternalFailed():
            context["message"] = message(locale, step.code, texts) or step.message
            template, status = "login/external_failed.html", 400
    return page(request, template, locale, context, status_code=status, texts=texts)


def recovery_download(codes: tuple[str, ...]) -> str:
    """A data: URL of the codes as a text file, for a link with `download` (no script and
    no second request: the codes exist only in this response)."""
    if not codes:
        return ""
    return "data:text/plain;charset=utf-8," + quote("\r\n".join(codes) + "\r\n")


Handler = Callable[[Request], Awaitable[Response]]


def login_page(handler: Handler) -> Handler:
    """Render an unknown or expired flow or auth request as its own page (404 or 410)."""

    @wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except (FlowExpired, NotFound) as exc:
            kind = "expired" if isinstance(exc, FlowExpired) else "unknown"
            locale = choose_locale(request, None)
            status_code = 410 if kind == "expired" else 404
            context = {"kind": kind, "brand": await page_branding(request, "")}
            template = "login/auth_request_error.html"
            texts = await custom_texts(request, None, locale)
            return page(request, template, locale, context, status_code=status_code, texts=texts)

    return guarded
