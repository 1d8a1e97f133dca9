"""The typed steps a login flow answers with: what the next page must show.

A face maps each step to a page (the hosted login) or a screen (the console) and does
nothing else; what the user may do next is decided here, in core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zitui.core.policies import PasswordComplexityPolicy, PrivacyPolicy
from zitui.errors import ZituiError
from zitui.records import AuthRequest, Session, StoredLoginFlow

# The key in a flow's internal data under which it keeps what its pages show of its request.
SHOWN = "shown"


@dataclass(frozen=True)
class FlowView:
    """The flow as a page sees it: its id and what it shows of the application's request
    (kept in the flow when it starts, so a page needs no second read)."""

    id: str
    org_id: str
    login_name: str = ""
    auth_request_id: str = ""
    app_name: str = ""
    ui_locales: tuple[str, ...] = ()
    login_hint: str = ""
    # The user once the flow knows them (after the password, an account this browser chose,
    # the user of a verification link): their organisation may label the page (`labeling`).
    user_id: str = ""

    @classmethod
    def of(cls, flow: StoredLoginFlow) -> FlowView:
        shown = flow.internal.get(SHOWN, {})
        return cls(
            id=flow.id,
            org_id=flow.org_id,
            login_name=flow.login_name,
            auth_request_id=flow.auth_request_id or "",
            app_name=str(shown.get("app_name", "")),
            ui_locales=tuple(str(v) for v in shown.get("ui_locales", ())),
            login_hint=str(shown.get("login_hint", "")),
            user_id=flow.user_id or "",
        )


def shown_of(request: AuthRequest) -> dict[str, object]:
    """What a flow keeps of its request for its pages (`FlowView`)."""
    return {
        "app_name": request.app_name,
        "ui_locales": list(request.ui_locales),
        "login_hint": request.login_hint,
    }


@dataclass(frozen=True)
class Account:
    """One of the browser's accounts; `signed_in`: it may continue without a password."""

    session: Session
    signed_in: bool


@dataclass(frozen=True)
class ProviderButton:
    """An external identity provider a login page offers."""

    id: str
    name: str
    type: str


@dataclass(frozen=True)
class AskLoginName:
    flow: FlowView
    login_name: str = ""
    error: ZituiError | None = None
    # The login policy allows registration: the page links to the form.
    may_register: bool = False
    # The login policy allows passkeys: WebAuthn request options (no credentials listed) for
    # the "Sign in with a passkey" button and the browser's autofill; "" otherwise.
    passkey_options: str = ""
    # The external identity providers offered here, and whether the policy allows a local
    # sign-in (`allow_username_password`): without it the page shows only the providers.
    providers: tuple[ProviderButton, ...] = ()
    local_allowed: bool = True
    # The provider whose identity this sign-in will link to the account ("" for none).
    linking: str = ""


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
    # The login policy shows the "Forgot password?" link.
    may_reset: bool = True
    # The provider whose identity this sign-in will link to the account ("" for none).
    linking: str = ""


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
    login policy's `default_redirect_uri` when it has one, else the signed-in page.
    `user_id` is who signed in."""

    flow: FlowView
    user_id: str
    language: str = ""
    redirect_uri: str = ""


@dataclass(frozen=True)
class Refused:
    """Signed in, but this user may not use the application; `code` is the message key."""

    flow: FlowView
    code: str
    message: str
    language: str = ""


@dataclass(frozen=True)
class Registration:
    """What the registration form holds, passwords aside (a page gives them back as typed)."""

    given_name: str = ""
    family_name: str = ""
    email: str = ""
    username: str = ""
    language: str = ""
    accepted_terms: bool = False


@dataclass(frozen=True)
class Register:
    """The registration form; `legal` gives the terms' and privacy links (may be empty)."""

    flow: FlowView
    values: Registration
    policy: PasswordComplexityPolicy
    legal: PrivacyPolicy
    error: ZituiError | None = None


@dataclass(frozen=True)
class Delivery:
    """How the mail holding a code is doing: "queued", "sent", or "retrying" (the mail
    server refused or was unreachable; the outbox keeps trying)."""

    recipient: str = ""
    state: str = "queued"


@dataclass(frozen=True)
class VerifyEmail:
    """Enter the code mailed to the user's address (or follow the mail's link)."""

    flow: FlowView
    delivery: Delivery
    code: str = ""
    resent: bool = False
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class SetPassword:
    """A code from a mail and a new password: a forgotten password ("reset") or a user a
    manager created without one ("init"). The same page whether the user exists or not."""

    flow: FlowView
    purpose: str
    login_name: str
    policy: PasswordComplexityPolicy
    code: str = ""
    resent: bool = False
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class EmailVerified:
    """The address is verified from a mail's link, in a browser that signed nobody in;
    `redirect_uri` is where "go on" leads (the login policy's `default_redirect_uri`)."""

    flow: FlowView
    language: str = ""
    redirect_uri: str = ""


@dataclass(frozen=True)
class NotAllowed:
    """The login policy does not allow what the page asked for (registration, a reset), or
    a provider's identity could not be linked from the account pages; `back` is the page of
    this server the flow came from ("" for the sign-in)."""

    flow: FlowView
    code: str
    message: str
    back: str = ""


@dataclass(frozen=True)
class SetUpFactor:
    """Set up a second factor now: `kinds` the user may choose; "skip" only when not
    `forced` (the login policy's force_mfa)."""

    flow: FlowView
    forced: bool
    kinds: tuple[str, ...]
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class SetUpTotp:
    """Scan the QR code (an inline SVG made in core) or type the secret, then a code."""

    flow: FlowView
    qr_svg: str
    uri: str = field(repr=False)
    secret: str = field(repr=False)
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class ShowRecoveryCodes:
    """The recovery codes, shown once: `codes` is empty when the page is loaded again."""

    flow: FlowView
    codes: tuple[str, ...] = field(repr=False)
    language: str = ""


@dataclass(frozen=True)
class SetUpKey:
    """Register a security key ("u2f") or a passkey ("passkey"): WebAuthn creation options
    for the page's script, and a name for the credential."""

    flow: FlowView
    kind: str
    options_json: str
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class VerifyFactor:
    """Prove a second factor with `current`, one of `kinds` (last used first; the others are
    offered as "another way"), or a recovery code.

    `current` "totp" asks for a code of the app; "otp_email"/"otp_sms" for the code sent to
    `sent_to` (masked); "u2f"/"passkey" carries WebAuthn request options in `options_json`.
    """

    flow: FlowView
    kinds: tuple[str, ...]
    recovery_left: int
    current: str = ""
    options_json: str = ""
    sent_to: str = ""
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class GoToProvider:
    """Send the browser to an external identity provider's authorization endpoint."""

    flow: FlowView
    url: str = field(repr=False)


@dataclass(frozen=True)
class ExternalNotFound:
    """No account is linked to the identity `identity_name` at `provider`: create one, or
    sign in to an existing one to link it, as the provider's options allow."""

    flow: FlowView
    provider: str
    identity_name: str
    may_create: bool
    may_link: bool
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class ExternalRegister:
    """The registration form pre-filled from `provider`'s answer (no password: the account
    signs in through the provider). `email_verified`: the provider vouches for the address
    given, so no code is mailed unless it is changed."""

    flow: FlowView
    provider: str
    values: Registration
    legal: PrivacyPolicy
    email_verified: bool = False
    language: str = ""
    error: ZituiError | None = None


@dataclass(frozen=True)
class ExternalFailed:
    """An answer of a provider that belongs to no sign-in in progress (used already, another
    browser's, or too late)."""

    flow: FlowView
    code: str
    message: str


Step = (
    AskLoginName
    | ChooseAccount
    | AskPassword
    | ChangePassword
    | Done
    | Refused
    | Register
    | VerifyEmail
    | SetPassword
    | EmailVerified
    | NotAllowed
    | SetUpFactor
    | SetUpTotp
    | SetUpKey
    | ShowRecoveryCodes
    | VerifyFactor
    | GoToProvider
    | ExternalNotFound
    | ExternalRegister
    | ExternalFailed
)


@dataclass(frozen=True)
class Outcome:
    """A step, and the browser id to set when it changed (a first visit, or a sign-in)."""

    step: Step
    browser_cookie: str | None = field(default=None, repr=False)
