"""The typed steps a login flow answers with: what the next page must show.

A face maps each step to a page (the hosted login) or a screen (the console) and does
nothing else; what the user may do next is decided here, in core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zitui.core.policies import PasswordComplexityPolicy
from zitui.errors import ZituiError
from zitui.records import AuthRequest, Session, StoredLoginFlow


@dataclass(frozen=True)
class FlowView:
    """The flow as a page sees it: its id and the application's request, if any."""

    id: str
    auth_request: AuthRequest | None
    org_id: str
    login_name: str = ""

    @classmethod
    def of(cls, flow: StoredLoginFlow, auth_request: AuthRequest | None) -> FlowView:
        return cls(
            id=flow.id,
            auth_request=auth_request,
            org_id=flow.org_id,
            login_name=flow.login_name,
        )

    @property
    def app_name(self) -> str:
        return self.auth_request.app_name if self.auth_request else ""

    @property
    def ui_locales(self) -> tuple[str, ...]:
        return self.auth_request.ui_locales if self.auth_request else ()


@dataclass(frozen=True)
class Account:
    """One of the browser's accounts; `signed_in`: it may continue without a password."""

    session: Session
    signed_in: bool


@dataclass(frozen=True)
class AskLoginName:
    flow: FlowView
    login_name: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class ChooseAccount:
    flow: FlowView
    accounts: tuple[Account, ...]


@dataclass(frozen=True)
class AskPassword:
    flow: FlowView
    login_name: str
    # The user's own language, only for an account the browser already showed: for a typed
    # name it would tell that the user exists.
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class ChangePassword:
    flow: FlowView
    login_name: str
    display_name: str
    policy: PasswordComplexityPolicy
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class Done:
    """Signed in: back to the application through the OIDC callback, or (no request) to the
    signed-in page. `user_id` is who signed in."""

    flow: FlowView
    user_id: str
    language: str = ""


@dataclass(frozen=True)
class Refused:
    """Signed in, but this user may not use the application; `code` is the message key."""

    flow: FlowView
    code: str
    message: str
    language: str = ""


Step = AskLoginName | ChooseAccount | AskPassword | ChangePassword | Done | Refused


@dataclass(frozen=True)
class Outcome:
    """A step, and the browser id to set when it changed (a first visit, or a sign-in)."""

    step: Step
    browser_cookie: str | None = field(default=None, repr=False)
