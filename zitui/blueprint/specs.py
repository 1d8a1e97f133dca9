"""The blueprint's records: one frozen spec per table of the file, each remembering its place
(`path`, e.g. `orgs[1].projects[0]`) so that a refusal can name it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from zitui.blueprint.branding import BrandingSpec
from zitui.blueprint.idps import IdpSpec
from zitui.blueprint.policies import POLICY_TABLES, PolicySpec
from zitui.blueprint.texts import TextSpec
from zitui.records import AppType, AuthMethod, PrivateLabeling, TokenType

TOP_KEYS = ("smtp", "sms", "orgs", "idps", "texts", "branding", *POLICY_TABLES)
SMTP_KEYS = ("host", "port", "from", "tls", "user", "password")
SMS_HTTP_KEYS = ("kind", "url", "token")
SMS_TWILIO_KEYS = (
    "kind",
    "account_sid",
    "auth_token",
    "sender",
    "messaging_service_sid",
    "base_url",
)
SMS_KEYS = ("kind", "url", "token", *SMS_TWILIO_KEYS[1:])
ORG_KEYS = (
    "name",
    "domain",
    "users",
    "machines",
    "projects",
    "user_grants",
    "idps",
    "texts",
    "branding",
    *POLICY_TABLES,
)
USER_KEYS = (
    "username",
    "email",
    "email_verified",
    "first_name",
    "last_name",
    "password",
    "password_change_required",
    "managers",
    "ssh_keys",
)
MACHINE_KEYS = ("username", "name", "managers", "pat", "secret", "key")
CREDENTIAL_KEYS = ("expires",)
PROJECT_KEYS = (
    "name",
    "roles",
    "role_assertion",
    "role_check",
    "private_labeling_setting",
    "grants",
    "apps",
)
GRANT_KEYS = ("org", "roles", "managers")
GRANT_MANAGER_KEYS = ("user", "roles")
APP_KEYS = (
    "name",
    "type",
    "auth_method",
    "redirect_uris",
    "post_logout_redirect_uris",
    "response_types",
    "grant_types",
    "access_token_type",
    "id_token_role_assertion",
    "id_token_userinfo_assertion",
    "dev_mode",
)
USER_GRANT_KEYS = ("user", "project", "roles")


@dataclass(frozen=True)
class SmtpSpec:
    path: str
    host: str
    port: int
    sender: str
    tls: str
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SmsSpec:
    """The SMS provider, already normalised by the SMS service's own rules; `token` is the
    bearer token (http) or the auth token (twilio), "" when the file has none."""

    path: str
    kind: str
    url: str
    account_sid: str
    sender: str
    messaging_service_sid: str
    base_url: str
    token: str = field(repr=False)

    @property
    def token_key(self) -> str:
        """The file's key for the token of this kind."""
        return "token" if self.kind == "http" else "auth_token"


@dataclass(frozen=True)
class UserSpec:
    path: str
    username: str
    email: str
    email_verified: bool
    first_name: str
    last_name: str
    password: str = field(repr=False)
    password_change_required: bool = False
    managers: tuple[str, ...] = ()
    # OpenSSH public key lines for the operator console over SSH.
    ssh_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class MachineSpec:
    """`pat_expires` and `key_expires` are in UTC; None means the credential never expires."""

    path: str
    username: str
    name: str
    managers: tuple[str, ...]
    pat: bool
    secret: bool
    key: bool
    pat_expires: datetime | None = None
    key_expires: datetime | None = None


@dataclass(frozen=True)
class GrantManagerSpec:
    """A manager of a project grant: a user of the granted organisation, with grant roles."""

    path: str
    user: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class GrantSpec:
    path: str
    org: str
    roles: tuple[str, ...]
    managers: tuple[GrantManagerSpec, ...] = ()


@dataclass(frozen=True)
class AppSpec:
    path: str
    name: str
    type: AppType
    auth_method: AuthMethod
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    response_types: tuple[str, ...]
    grant_types: tuple[str, ...]
    access_token_type: TokenType
    id_token_role_assertion: bool
    id_token_userinfo_assertion: bool
    dev_mode: bool
    given: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ProjectSpec:
    path: str
    name: str
    roles: tuple[str, ...]
    role_assertion: bool
    role_check: bool
    grants: tuple[GrantSpec, ...]
    apps: tuple[AppSpec, ...]
    given: frozenset[str] = frozenset()
    private_labeling_setting: str = PrivateLabeling.UNSPECIFIED.value


@dataclass(frozen=True)
class UserGrantSpec:
    """`owner` is the organisation owning the project: this one, or the one that granted it."""

    path: str
    user: str
    owner: str
    project: str
    roles: tuple[str, ...]

    @property
    def own_project(self) -> bool:
        return self.owner == ""


@dataclass(frozen=True)
class OrgSpec:
    path: str
    name: str
    domain: str
    users: tuple[UserSpec, ...]
    machines: tuple[MachineSpec, ...]
    projects: tuple[ProjectSpec, ...]
    user_grants: tuple[UserGrantSpec, ...]
    texts: tuple[TextSpec, ...] = ()
    branding: BrandingSpec | None = None
    policies: tuple[PolicySpec, ...] = ()
    idps: tuple[IdpSpec, ...] = ()


@dataclass(frozen=True)
class Blueprint:
    smtp: SmtpSpec | None
    orgs: tuple[OrgSpec, ...]
    sms: SmsSpec | None = None
    texts: tuple[TextSpec, ...] = ()
    branding: BrandingSpec | None = None
    policies: tuple[PolicySpec, ...] = ()
    idps: tuple[IdpSpec, ...] = ()
