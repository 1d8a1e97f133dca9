"""Manager roles and the permissions they grant, as data (ZITADEL's defaults).

A membership binds a role to a scope. `allowed` answers the one question the core asks:
may these memberships use `permission` on `resource`? `SELF_PERMISSIONS` is the other side of
the table: what any signed-in user may do to their own user (`Resource.user_id`), whatever
their memberships (ZITADEL's "self" permissions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zitui.records import Membership, Scope

READ, WRITE, DELETE = "read", "write", "delete"


def _full(*areas: str) -> set[str]:
    return {f"{area}.{action}" for area in areas for action in (READ, WRITE, DELETE)}


def _reads(*areas: str) -> set[str]:
    return {f"{area}.{READ}" for area in areas}


IAM_AREAS = (
    "iam",
    "iam.policy",
    "iam.member",
    "iam.idp",
    "iam.action",
    "iam.flow",
    "iam.feature",
    "iam.restrictions",
    "iam.web_key",
    "iam.debug",
)
ORG_AREAS = ("org", "org.member", "org.idp", "org.action", "org.flow", "org.feature")
USER_AREAS = ("user", "user.grant", "user.feature")
PROJECT_AREAS = (
    "project",
    "project.member",
    "project.role",
    "project.app",
    "project.grant",
    "project.grant.member",
)
OTHER_AREAS = ("policy", "session", "userschema", "action.target", "action.execution")

EVERYTHING = _full(*IAM_AREAS, *ORG_AREAS, *USER_AREAS, *PROJECT_AREAS, *OTHER_AREAS) | {
    "org.create",
    "org.global.read",
    "user.global.read",
    "user.membership.read",
    "user.credential.write",
    "user.passkey.write",
    "user.self.delete",
    "project.create",
    "project.grant.user.grant.read",
    "events.read",
    "milestones.read",
    "session.link",
    "impersonation",
    "admin.impersonation",
}
ALL_READS = {p for p in EVERYTHING if p.endswith(".read")}

_ORG_OWNER = _full(*ORG_AREAS, *USER_AREAS, "policy", *PROJECT_AREAS) | {
    "org.global.read",
    "user.global.read",
    "user.membership.read",
    "user.credential.write",
    "user.passkey.write",
    "project.create",
    "project.grant.user.grant.read",
    "session.read",
    "session.delete",
}
_USER_PERMISSION_EDITOR = {
    "org.read",
    "user.read",
    "user.global.read",
    "user.grant.read",
    "user.grant.write",
    "user.grant.delete",
    "user.membership.read",
    "project.read",
    "project.role.read",
}
_PROJECT_OWNER = _full(
    "project",
    "project.member",
    "project.role",
    "project.app",
    "project.grant",
    "project.grant.member",
    "user.grant",
) | {"org.global.read", "policy.read", "user.read", "user.global.read", "user.membership.read"}

ROLES: dict[str, tuple[Scope, frozenset[str]]] = {
    "IAM_OWNER": (Scope.INSTANCE, frozenset(EVERYTHING)),
    "IAM_OWNER_VIEWER": (Scope.INSTANCE, frozenset(ALL_READS)),
    "IAM_ORG_MANAGER": (
        Scope.INSTANCE,
        frozenset(_ORG_OWNER | {"org.create", "session.read", "session.delete"}),
    ),
    "IAM_USER_MANAGER": (
        Scope.INSTANCE,
        frozenset(
            _full("user", "user.grant")
            | {
                "org.read",
                "org.global.read",
                "org.member.read",
                "org.member.delete",
                "user.global.read",
                "user.membership.read",
                "project.read",
                "project.role.read",
                "project.grant.read",
                "project.grant.write",
                "project.grant.delete",
                "session.read",
                "session.delete",
            }
        ),
    ),
    "IAM_LOGIN_CLIENT": (
        Scope.INSTANCE,
        frozenset(
            {
                "org.read",
                "org.global.read",
                "policy.read",
                "user.read",
                "user.global.read",
                "user.write",
                "user.credential.write",
                "user.passkey.write",
                "session.read",
                "session.write",
                "session.link",
                "session.delete",
                "project.app.read",
            }
        ),
    ),
    "IAM_ADMIN_IMPERSONATOR": (Scope.INSTANCE, frozenset({"admin.impersonation", "impersonation"})),
    "IAM_END_USER_IMPERSONATOR": (Scope.INSTANCE, frozenset({"impersonation"})),
    "ORG_OWNER": (Scope.ORG, frozenset(_ORG_OWNER)),
    "ORG_OWNER_VIEWER": (Scope.ORG, frozenset(p for p in _ORG_OWNER if p.endswith(".read"))),
    "ORG_USER_MANAGER": (
        Scope.ORG,
        frozenset(
            _full("user", "user.grant", "user.feature")
            | {
                "org.read",
                "user.global.read",
                "user.membership.read",
                "policy.read",
                "project.read",
                "project.role.read",
                "session.read",
                "session.delete",
            }
        ),
    ),
    "ORG_SETTINGS_MANAGER": (
        Scope.ORG,
        frozenset(
            _full("org.idp", "org.feature", "policy") | {"org.read", "org.write", "org.member.read"}
        ),
    ),
    "ORG_USER_PERMISSION_EDITOR": (Scope.ORG, frozenset(_USER_PERMISSION_EDITOR)),
    "ORG_PROJECT_PERMISSION_EDITOR": (
        Scope.ORG,
        frozenset(
            _USER_PERMISSION_EDITOR
            | {"project.grant.read", "project.grant.write", "project.grant.delete"}
        ),
    ),
    "ORG_PROJECT_CREATOR": (
        Scope.ORG,
        frozenset({"user.global.read", "policy.read", "project.read:self", "project.create"}),
    ),
    "ORG_ADMIN_IMPERSONATOR": (Scope.ORG, frozenset({"admin.impersonation", "impersonation"})),
    "ORG_END_USER_IMPERSONATOR": (Scope.ORG, frozenset({"impersonation"})),
    "ORG_USER_SELF_MANAGER": (Scope.ORG, frozenset({"policy.read", "user.self.delete"})),
    "PROJECT_OWNER": (Scope.PROJECT, frozenset(_PROJECT_OWNER)),
    "PROJECT_OWNER_VIEWER": (
        Scope.PROJECT,
        frozenset(p for p in _PROJECT_OWNER if p.endswith(".read")),
    ),
    "PROJECT_OWNER_GLOBAL": (
        Scope.PROJECT,
        frozenset(
            p for p in _PROJECT_OWNER if not p.startswith("project.grant.") and p != "user.read"
        ),
    ),
    "PROJECT_OWNER_VIEWER_GLOBAL": (
        Scope.PROJECT,
        frozenset(p for p in _PROJECT_OWNER if p.endswith(".read") and p != "user.read"),
    ),
    "PROJECT_GRANT_OWNER": (
        Scope.PROJECT_GRANT,
        frozenset(
            _full("project.grant.member", "user.grant")
            | {
                "policy.read",
                "org.global.read",
                "project.read",
                "project.grant.read",
                "user.read",
                "user.global.read",
                "user.membership.read",
            }
        ),
    ),
    "PROJECT_GRANT_OWNER_VIEWER": (
        Scope.PROJECT_GRANT,
        frozenset(
            {
                "policy.read",
                "org.global.read",
                "project.read",
                "project.grant.read",
                "project.grant.member.read",
                "user.read",
                "user.grant.read",
            }
        ),
    ),
}


# A user acting on their own user: reading and changing the profile, email, phone, password,
# factors (authenticators), IdP links and sessions, and removing themselves (the login
# policy's `allow_self_delete` decides that one in `core/account.py`).
SELF_PERMISSIONS = frozenset(
    {
        "user.read",
        "user.write",
        "user.credential.write",
        "user.passkey.write",
        "user.self.delete",
        "session.read",
        "session.delete",
    }
)


@dataclass(frozen=True)
class Resource:
    """What a permission is asked for: the owning organisation, a project or grant, and the
    user it concerns (which lets that user use `SELF_PERMISSIONS` on it)."""

    org_id: str | None = None
    project_id: str | None = None
    grant_id: str | None = None
    user_id: str | None = None

    @classmethod
    def instance(cls) -> Resource:
        return cls()


def roles_for_scope(scope: Scope) -> list[str]:
    return [name for name, (level, _) in ROLES.items() if level is scope]


def permissions_of(membership: Membership) -> frozenset[str]:
    granted: set[str] = set()
    for role in membership.roles:
        level, permissions = ROLES.get(role, (None, frozenset()))
        if level is membership.scope:
            granted |= permissions
    return frozenset(granted)


def _covers(membership: Membership, resource: Resource) -> bool:
    match membership.scope:
        case Scope.INSTANCE:
            return True
        case Scope.ORG:
            return resource.org_id == membership.scope_id
        case Scope.PROJECT:
            return resource.project_id == membership.scope_id
        case Scope.PROJECT_GRANT:
            return resource.grant_id == membership.scope_id
    return False


def allowed_to_self(actor_id: str, permission: str, resource: Resource) -> bool:
    """The actor asks for a self permission on their own user."""
    return (
        permission in SELF_PERMISSIONS
        and resource.user_id is not None
        and resource.user_id == actor_id
    )


def allowed(memberships: Iterable[Membership], permission: str, resource: Resource) -> bool:
    return any(permission in permissions_of(m) and _covers(m, resource) for m in memberships)


def org_scope(memberships: Iterable[Membership], permission: str) -> frozenset[str] | None:
    """The organisations in which `permission` holds; None means all of them."""
    orgs: set[str] = set()
    for membership in memberships:
        if permission not in permissions_of(membership):
            continue
        if membership.scope is Scope.INSTANCE:
            return None
        if membership.scope is Scope.ORG:
            orgs.add(membership.scope_id)
    return frozenset(orgs)
