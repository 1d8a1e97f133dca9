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
