"""The context every core call receives: who acts, from where, and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from zitui.core import permissions
from zitui.core.clock import Clock
from zitui.core.permissions import Resource
from zitui.errors import PermissionDenied, Unauthenticated
from zitui.records import Membership

SYSTEM_ACTOR_ID = "system"


@dataclass(frozen=True)
class Actor:
    user_id: str
    org_id: str
    login_name: str
    memberships: tuple[Membership, ...] = ()
    is_system: bool = False

    @property
    def roles(self) -> list[str]:
        return sorted({role for m in self.memberships for role in m.roles})


@dataclass(frozen=True)
class RequestMeta:
    """Where a call comes from, for the audit log."""

    origin: str = "core"
    ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class Context:
    clock: Clock
    actor: Actor | None = None
    request: RequestMeta = field(default_factory=RequestMeta)
    # When the actor last proved a factor (a browser session's or a token's `auth_time`), for
    # the changes that ask for a recent sign-in; and the session the call comes from.
    auth_time: datetime | None = None
    session_id: str | None = None

    @classmethod
    def system(cls, clock: Clock, *, origin: str = "system") -> Context:
        actor = Actor(
            user_id=SYSTEM_ACTOR_ID, org_id="", login_name=SYSTEM_ACTOR_ID, is_system=True
        )
        return cls(clock=clock, actor=actor, request=RequestMeta(origin=origin))

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def actor_id(self) -> str:
        return self.actor.user_id if self.actor else "anonymous"

    def can(self, permission: str, resource: Resource) -> bool:
        if self.actor is None:
            return False
        if self.actor.is_system:
            return True
        if permissions.allowed_to_self(self.actor.user_id, permission, resource):
            return True
        return permissions.allowed(self.actor.memberships, permission, resource)

    def require(self, permission: str, resource: Resource) -> None:
        """Raise unless the actor holds `permission` on `resource`."""
        if self.actor is None:
            raise Unauthenticated("auth.required", "sign in first")
        if not self.can(permission, resource):
            raise PermissionDenied(
                "permission.denied", f"you lack the permission {permission} here"
            )

    def org_scope(self, permission: str) -> frozenset[str] | None:
        """Organisations where the actor holds `permission`; None means every one."""
        if self.actor is None:
            return frozenset()
        if self.actor.is_system:
            return None
        return permissions.org_scope(self.actor.memberships, permission)
