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


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    offset: int
    limit: int
