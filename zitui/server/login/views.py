"""The login forms, rendered with the values and errors of the last attempt."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from zitui.core.policies import PasswordComplexityPolicy
from zitui.records import Session
from zitui.server.login.flow import Flow, page


def login_name_form(
    request: Request,
    flow: Flow,
    locale: str,
    *,
    login_name: str = "",
    errors: dict[str, str] | None = None,
    alert: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = {"flow": flow, "login_name": login_name, "errors": errors or {}, "alert": alert}
    return page(request, "login/login_name.html", locale, context, status_code=status_code)


def password_form(
    request: Request,
    flow: Flow,
    locale: str,
    *,
    login_name: str,
    errors: dict[str, str] | None = None,
    alert: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The password step; the login name rides along so the next POST knows whose it is."""
    context = {"flow": flow, "login_name": login_name, "errors": errors or {}, "alert": alert}
    return page(request, "login/password.html", locale, context, status_code=status_code)


def account_list(
    request: Request, flow: Flow, locale: str, sessions: list[Session], *, signed_in: set[str]
) -> HTMLResponse:
    """Choose one of the browser's accounts; `signed_in` are those that need no password."""
    context = {"flow": flow, "sessions": sessions, "signed_in": signed_in}
    return page(request, "login/select_account.html", locale, context)


def password_change_form(
    request: Request,
    flow: Flow,
    locale: str,
    *,
    session: Session,
    policy: PasswordComplexityPolicy,
    errors: dict[str, str] | None = None,
    alert: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "flow": flow,
        "session": session,
        "policy": policy,
        "errors": errors or {},
        "alert": alert,
    }
    return page(request, "login/password_change.html", locale, context, status_code=status_code)
