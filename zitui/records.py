"""Plain, frozen records that the store returns and the core hands to the server and the TUI.

They carry no database machinery, so every layer may import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class OrgState(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class UserKind(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"


class UserState(StrEnum):
    INITIAL = "initial"
    ACTIVE = "active"
    INACTIVE = "inactive"
    LOCKED = "locked"


class State(StrEnum):
    """Lifecycle of projects, apps and grants."""

    ACTIVE = "active"
    INACTIVE = "inactive"


class PrivateLabeling(StrEnum):
    """Whose branding, texts and legal links a project's login shows when the request names
    no organisation (ZITADEL's private_labeling_setting)."""

    UNSPECIFIED = "unspecified"  # the instance's, then the user's organisation's once known
    ENFORCE_PROJECT_RESOURCE_OWNER_POLICY = "enforce_project_resource_owner_policy"
    ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY = "allow_login_user_resource_owner_policy"


class AppType(StrEnum):
    WEB = "web"
    NATIVE = "native"
    USER_AGENT = "user_agent"
    API = "api"


class AuthMethod(StrEnum):
    BASIC = "basic"
    POST = "post"
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


class TokenType(StrEnum):
    BEARER = "bearer"  # opaque
    JWT = "jwt"


class Scope(StrEnum):
    """Where a membership applies."""

    INSTANCE = "instance"
    ORG = "org"
    PROJECT = "project"
    PROJECT_GRANT = "project_grant"


@dataclass(frozen=True)
class Instance:
    id: str
    name: str
    domain: str
    default_org_id: str
    created_at: datetime


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    state: OrgState
    primary_domain: str
    created_at: datetime


@dataclass(frozen=True)
class User:
    id: str
    org_id: str
    kind: UserKind
    username: str
    login_name: str
    state: UserState
    first_name: str
    last_name: str
    nickname: str
    display_name: str
    gender: str
    preferred_language: str
    email: str
    email_verified: bool
    phone: str
    phone_verified: bool
    password_change_required: bool
    created_at: datetime
    updated_at: datetime
    description: str = ""
    access_token_type: TokenType = TokenType.BEARER
    has_secret: bool = False


@dataclass(frozen=True)
class OrgDomain:
    org_id: str
    domain: str
    is_primary: bool
    is_verified: bool
    validation_type: str
    validation_token: str
    created_at: datetime

    @property
    def validation_target(self) -> str:
        """Where the token must be published: a TXT record name or a URL (ZITADEL's paths)."""
        if self.validation_type == "dns":
            return f"_zitadel-challenge.{self.domain}"
        if self.validation_type == "http":
            return (
                f"https://{self.domain}/.well-known/zitadel-challenge/{self.validation_token}.txt"
            )
        return ""


@dataclass(frozen=True)
class MachineKey:
    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class PersonalAccessToken:
    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Project:
    id: str
    org_id: str
    name: str
    state: State
    role_assertion: bool
    role_check: bool
    has_project_check: bool
    created_at: datetime
    updated_at: datetime
    private_labeling_setting: PrivateLabeling = PrivateLabeling.UNSPECIFIED


@dataclass(frozen=True)
class ProjectRole:
    project_id: str
    key: str
    display_name: str
    group: str


@dataclass(frozen=True)
class App:
    id: str
    project_id: str
    org_id: str
    name: str
    state: State
    app_type: AppType
    client_id: str
    has_secret: bool
    auth_method: AuthMethod
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    response_types: tuple[str, ...]
    grant_types: tuple[str, ...]
    access_token_type: TokenType
    access_token_role_assertion: bool
    id_token_role_assertion: bool
    id_token_userinfo_assertion: bool
    clock_skew_s: int
    dev_mode: bool
    additional_origins: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ProjectGrant:
    id: str
    project_id: str
    project_name: str
    owner_org_id: str
    granted_org_id: str
    role_keys: tuple[str, ...]
    state: State
    created_at: datetime


@dataclass(frozen=True)
class UserGrant:
    id: str
    user_id: str
    project_id: str
    project_grant_id: str | None
    org_id: str
    role_keys: tuple[str, ...]
    state: State
    created_at: datetime


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    tls: str
    user: str
    has_password: bool


@dataclass(frozen=True)
class SmsConfig:
    """The instance's SMS provider as managers see it: never its token.

    `kind` "http": `url`. `kind` "twilio": `account_sid`, `sender` or
    `messaging_service_sid`, and `base_url`. Fields of the other kind are empty.
    """

    kind: str
    url: str
    account_sid: str
    sender: str
    messaging_service_sid: str
    base_url: str
    has_token: bool


class IdpType(StrEnum):
    """The kinds of external identity provider: two generic protocols and templates that
    fill in a vendor's endpoints and claim names (core/idp_templates.py)."""

    OIDC = "oidc"
    OAUTH = "oauth"
    GOOGLE = "google"
    GITHUB = "github"
    GITLAB = "gitlab"
    AZURE = "azure"
    APPLE = "apple"


class AutoLinking(StrEnum):
    """Which local account an unknown external identity is offered to link to."""

    NONE = "none"
    USERNAME = "username"
    EMAIL = "email"


@dataclass(frozen=True)
class IdpOptions:
    """What a provider's users may do (ZITADEL's provider options)."""

    creation_allowed: bool = True
    linking_allowed: bool = True
    auto_creation: bool = False
    auto_update: bool = False
    auto_linking: AutoLinking = AutoLinking.NONE


@dataclass(frozen=True)
class IdentityProvider:
    """An external identity provider as managers see it: never its client secret.

    `org_id` "" is the instance's (every organisation's login); else that organisation's.
    OIDC kinds find their endpoints by the `issuer`'s discovery unless given; OAuth kinds
    name the `authorization_endpoint`, `token_endpoint` and `userinfo_endpoint`, and the
    userinfo attribute that holds the user's id (`id_attribute`). `extra` holds what a
    template needs besides (Azure's `tenant`, Apple's `team_id` and `key_id`, GitHub
    Enterprise's or a self-hosted GitLab's base URL).
    """

    id: str
    org_id: str
    name: str
    type: IdpType
    client_id: str
    has_secret: bool
    issuer: str = ""
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    userinfo_endpoint: str = ""
    jwks_uri: str = ""
    id_attribute: str = ""
    scopes: tuple[str, ...] = ()
    use_pkce: bool = True
    id_token_mapping: bool = False
    options: IdpOptions = field(default_factory=IdpOptions)
    extra: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_oidc(self) -> bool:
        """Signs in with an ID token (OpenID Connect) rather than a userinfo call alone."""
        return self.type in (
            IdpType.OIDC,
            IdpType.GOOGLE,
            IdpType.GITLAB,
            IdpType.AZURE,
            IdpType.APPLE,
        )


@dataclass(frozen=True)
class IdpLink:
    """A local user's link to an identity at an external provider."""

    id: str
    user_id: str
    idp_id: str
    external_id: str
    # What the provider calls the user (its username or email), shown in the account pages.
    external_name: str
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Membership:
    id: str
    user_id: str
    scope: Scope
    scope_id: str
    org_id: str
    roles: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class Event:
    id: str
    created_at: datetime
    event_type: str
    aggregate_type: str
    aggregate_id: str
    org_id: str | None
    actor_id: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private_key_enc: str
    created_at: datetime
    expires_at: datetime
    activates_at: datetime | None = None  # None: signing since `created_at`


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class ThrottleCount:
    """Attempts counted under one key (a login name's digest, a client address) in a window."""

    key: str
    attempts: int
    window_started_at: datetime
    blocked_until: datetime | None
    expires_at: datetime


# --- OpenID Connect provider -------------------------------------------------------------


class AuthRequestStatus(StrEnum):
    PENDING = "pending"  # waiting for a sign-in
    LINKED = "linked"  # a session is linked; the callback may issue the code
    CODE_ISSUED = "code_issued"


@dataclass(frozen=True)
class AuthRequest:
    """An authorization request as the hosted login pages see it."""

    id: str
    client_id: str
    app_name: str
    scopes: tuple[str, ...]
    prompt: tuple[str, ...]
    max_age: int | None
    login_hint: str
    ui_locales: tuple[str, ...]
    org_id: str  # from `urn:zitadel:iam:org:id:…` / `…:org:domain:primary:…`; "" if none
    created_at: datetime
    expires_at: datetime
    hint_user_id: str = ""  # the subject of a valid `id_token_hint`


@dataclass(frozen=True)
class StoredAuthRequest:
    """Everything an authorization request carries, from the request to the code exchange."""

    id: str
    app_id: str
    client_id: str
    redirect_uri: str
    response_type: str
    response_mode: str
    scopes: tuple[str, ...]
    state: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    prompt: tuple[str, ...]
    max_age: int | None
    login_hint: str
    ui_locales: tuple[str, ...]
    acr_values: tuple[str, ...]
    id_token_hint_subject: str
    org_id: str
    session_id: str | None
    user_id: str | None
    auth_time: datetime | None
    amr: tuple[str, ...]
    status: AuthRequestStatus
    created_at: datetime
    expires_at: datetime
    client_ip: str = ""  # who sent it: pending requests are capped per address


@dataclass(frozen=True)
class OidcClient:
    """An application as the protocol endpoints need it, read in one query with its project."""

    app_id: str
    client_id: str
    app_name: str
    project_id: str
    org_id: str
    active: bool  # the app and its project are both active
    app_type: AppType
    auth_method: AuthMethod
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    access_token_type: TokenType
    access_token_role_assertion: bool
    id_token_role_assertion: bool
    id_token_userinfo_assertion: bool
    clock_skew_s: int
    project_role_assertion: bool
    project_role_check: bool
    project_has_project_check: bool
    secret_digest: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AppKey:
    """A public key an application signs its client assertions with (private_key_jwt)."""

    id: str
    app_id: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class AccessTokenInfo:
    """What an issued access token stands for."""

    id: str
    user_id: str
    client_id: str
    app_id: str | None
    session_id: str | None
    refresh_token_id: str | None
    auth_request_id: str | None
    scopes: tuple[str, ...]
    audience: tuple[str, ...]
    auth_time: datetime | None
    amr: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class RefreshTokenInfo:
    """A refresh token of a rotation family; only its digest is stored."""

    id: str
    family_id: str
    app_id: str
    user_id: str
    session_id: str | None
    scopes: tuple[str, ...]
    audience: tuple[str, ...]
    auth_time: datetime | None
    amr: tuple[str, ...]
    created_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class GrantedRoles:
    """A user's roles in one project, granted by one organisation (for the roles claim)."""

    project_id: str
    org_id: str
    org_primary_domain: str
    role_keys: tuple[str, ...]


@dataclass(frozen=True)
class AudienceProject:
    """A project as a token's audience needs it, seen from one organisation."""

    project_id: str
    org_id: str  # the owner
    granted: bool  # an active project grant to the organisation asked about
    has_project_check: bool
    role_check: bool
    client_ids: tuple[str, ...]  # of its active apps


# RFC 8176 §2 methods of each second-factor kind, as ZITADEL's amr.go names them: every
# one-time code is "otp" (a recovery code too), a security key is "hwk"; a passkey used as the
# second factor adds "user" (its user verification).
SECOND_FACTOR_AMR: dict[str, tuple[str, ...]] = {
    "totp": ("otp",),
    "otp_email": ("otp",),
    "otp_sms": ("otp",),
    "recovery": ("otp",),
    "u2f": ("hwk",),
    "passkey": ("hwk", "user"),
}


@dataclass(frozen=True)
class Session:
    """One user signed in on one browser, with when each factor was last checked."""

    id: str
    user_id: str
    org_id: str
    login_name: str
    display_name: str
    password_checked_at: datetime | None
    second_factor_checked_at: datetime | None
    multi_factor_checked_at: datetime | None
    created_at: datetime
    last_used_at: datetime
    preferred_language: str = ""
    password_change_required: bool = False
    # The kind of the second factor checked last (a FactorKind value, or "recovery").
    second_factor_kind: str = ""
    # Where and with what browser the session was signed in (the user's list of sessions).
    user_agent: str = ""
    client_ip: str = ""
    # The last sign-in through an external identity provider (`idp_id`), a first factor.
    external_checked_at: datetime | None = None
    idp_id: str = ""

    @property
    def auth_time(self) -> datetime | None:
        """The latest factor check (OIDC's `auth_time`), or None before any check."""
        checks = [
            at
            for at in (
                self.password_checked_at,
                self.second_factor_checked_at,
                self.multi_factor_checked_at,
                self.external_checked_at,
            )
            if at is not None
        ]
        return max(checks, default=None)

    @property
    def amr(self) -> list[str]:
        """Authentication method references (RFC 8176) of the factors this session checked.

        `pwd` for the password; `otp` or `hwk` for the second factor by its kind (a session
        from before kinds were stored had TOTP or a recovery code: `otp`); `hwk` and `user`
        for a passkey (the multi-factor check); `mfa` for two factors or more, or a passkey
        alone, whose user verification makes it multi-factor. No value twice, in this order.
        A sign-in at an external provider is a first factor with no value of its own (RFC
        8176 registers none; the provider's own `amr` is not repeated).
        """
        methods: list[str] = []
        if self.password_checked_at is not None:
            methods.append("pwd")
        if self.second_factor_checked_at is not None:
            methods.extend(SECOND_FACTOR_AMR.get(self.second_factor_kind, ("otp",)))
        passkey = self.multi_factor_checked_at is not None
        if passkey:
            methods.extend(("hwk", "user"))
        first = self.password_checked_at or self.external_checked_at
        factors = (first, self.second_factor_checked_at)
        if passkey or all(at is not None for at in factors):
            methods.append("mfa")
        return list(dict.fromkeys(methods))


# --- Sign-in flows ----------------------------------------------------------------------


class FlowStep(StrEnum):
    """Where a login flow stands: the page it shows next."""

    LOGIN_NAME = "login_name"
    CHOOSE_ACCOUNT = "choose_account"
    PASSWORD = "password"
    CHANGE_PASSWORD = "change_password"
    REGISTER = "register"
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    INIT_USER = "init_user"
    EMAIL_VERIFIED = "email_verified"
    NOT_ALLOWED = "not_allowed"
    MFA_PROMPT = "mfa_prompt"
    MFA_TOTP = "mfa_totp"
    MFA_KEY = "mfa_key"
    RECOVERY_CODES = "recovery_codes"
    MFA_VERIFY = "mfa_verify"
    # Sent to an external identity provider; its answer comes to the callback.
    EXTERNAL = "external"
    # An external identity no account is linked to: create one, or link an existing one.
    EXTERNAL_NOT_FOUND = "external_not_found"
    EXTERNAL_REGISTER = "external_register"
    DONE = "done"
    REFUSED = "refused"


@dataclass(frozen=True)
class StoredLoginFlow:
    """A login flow as stored: who it is for, what was proven and when, what it counts."""

    id: str
    kind: str
    browser_digest: str
    auth_request_id: str | None
    org_id: str
    user_id: str | None
    session_id: str | None
    login_name: str
    client_ip: str
    step: FlowStep
    checks: dict[str, datetime]
    attempts: dict[str, int]
    internal: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
