"""Managers: who holds which roles at which scope, and the rule that keeps an IAM_OWNER.

A membership binds ZITADEL's role names of one level to the instance, an organisation, a
project or a project grant. The instance always keeps an active IAM_OWNER.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.permissions import Resource, roles_for_scope
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Membership, Scope, UserState
from zitui.store import Repositories, Store

IAM_OWNER = "IAM_OWNER"
LAST_IAM_OWNER = "membership.last_iam_owner"
_AREA = {
    Scope.INSTANCE: "iam.member",
    Scope.ORG: "org.member",
    Scope.PROJECT: "project.member",
    Scope.PROJECT_GRANT: "project.grant.member",
}


@dataclass(frozen=True)
class ScopeTarget:
    """What a membership scope resolves to: the resource to check, and the owning org."""

    resource: Resource
    org_id: str


def check_roles(scope: Scope, roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    allowed = roles_for_scope(scope)
    if not roles:
        raise InvalidArgument(
            "membership.roles.required", "choose at least one role", field="roles"
        )
    unknown = [role for role in roles if role not in allowed]
    if unknown:
        raise InvalidArgument(
            "membership.roles.invalid",
            f"{unknown[0]} is not a role at {scope.value} level; use one of {', '.join(allowed)}",
            field="roles",
        )
    return tuple(dict.fromkeys(roles))


class MembershipService:
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def add_member(
        self, ctx: Context, user_id: str, scope: Scope, scope_id: str, roles: list[str]
    ) -> Membership:
        """Make a user a manager with `roles` at the instance, an org, a project or a grant."""
        await self._authorized(ctx, scope, scope_id, "write")
        checked = check_roles(scope, roles)
        async with self._store.transaction() as tx:
            membership = await grant(tx, ctx, user_id, scope, scope_id, checked)
            await _record(tx, ctx, membership, "added", {"roles": list(checked)})
        return membership

    async def change_member(
        self, ctx: Context, user_id: str, scope: Scope, scope_id: str, roles: list[str]
    ) -> Membership:
        """Replace a manager's roles; the last usable IAM_OWNER keeps the role."""
        await self._authorized(ctx, scope, scope_id, "write")
        checked = check_roles(scope, roles)
        async with self._store.transaction() as tx:
            current = await _load(tx, user_id, scope, scope_id)
            if set(current.roles) == set(checked):
                raise PreconditionFailed(
                    "membership.unchanged", "the manager holds these roles already"
                )
            if IAM_OWNER in current.roles and IAM_OWNER not in checked:
                await ensure_iam_owner_remains(tx, without_user=user_id)
            await tx.memberships.set_roles(current.id, checked)
            await _record(tx, ctx, current, "changed", {"roles": list(checked)})
        return replace(current, roles=checked)

    async def remove_member(self, ctx: Context, user_id: str, scope: Scope, scope_id: str) -> None:
        """End a user's manager roles at one scope; the last usable IAM_OWNER stays."""
        await self._authorized(ctx, scope, scope_id, "write")
        async with self._store.transaction() as tx:
            current = await _load(tx, user_id, scope, scope_id)
            if IAM_OWNER in current.roles:
                await ensure_iam_owner_remains(tx, without_user=user_id)
            await tx.memberships.delete(current.id)
            await _record(tx, ctx, current, "removed", {})

    async def list_members(self, ctx: Context, scope: Scope, scope_id: str) -> list[Membership]:
        await self._authorized(ctx, scope, scope_id, "read")
        async with self._store.reader() as tx:
            return await tx.memberships.list_for_scope(scope, scope_id)

    async def list_user_memberships(self, ctx: Context, user_id: str) -> list[Membership]:
        """A user's manager roles everywhere, limited to organisations the actor may see."""
        async with self._store.reader() as tx:
            user = await tx.users.find(user_id)
            if user is None:
                raise NotFound("user.not_found", "no such user", field="user_id")
            memberships = await tx.memberships.list_for_user(user_id)
        await self._authz.require(ctx, "user.membership.read", Resource(org_id=user.org_id))
        scope = ctx.org_scope("user.membership.read")
        return [m for m in memberships if scope is None or m.org_id in scope]

    async def _authorized(
        self, ctx: Context, scope: Scope, scope_id: str, action: str
    ) -> ScopeTarget:
        target = await self._target(scope, scope_id)
        await self._authz.require(ctx, f"{_AREA[scope]}.{action}", target.resource)
        return target

    async def _target(self, scope: Scope, scope_id: str) -> ScopeTarget:
        if scope is Scope.INSTANCE:
            return ScopeTarget(Resource.instance(), "")
        if scope is Scope.ORG:
            return ScopeTarget(Resource(org_id=scope_id), scope_id)
        async with self._store.reader() as tx:
            return await resolve_scope(tx, scope, scope_id)


async def resolve_scope(tx: Repositories, scope: Scope, scope_id: str) -> ScopeTarget:
    """The resource a project or project-grant membership is checked against."""
    if scope is Scope.PROJECT:
        project = await tx.projects.find(scope_id)
        if project is None:
            raise NotFound("project.not_found", "no such project", field="scope_id")
        return ScopeTarget(Resource(org_id=project.org_id, project_id=project.id), project.org_id)
    if scope is Scope.PROJECT_GRANT:
        project_grant = await tx.project_grants.find(scope_id)
        if project_grant is None:
            raise NotFound("project_grant.not_found", "no such project grant", field="scope_id")
        resource = Resource(org_id=project_grant.granted_org_id, grant_id=project_grant.id)
        return ScopeTarget(resource, project_grant.granted_org_id)
    return ScopeTarget(Resource(org_id=scope_id), scope_id)


async def ensure_iam_owner_remains(
    tx: Repositories, *, without_user: str | None = None, without_org: str | None = None
) -> None:
    """Refuse a change that would leave no active IAM_OWNER, so the instance stays managed.

    Only matters when the user (or a user of the organisation) holds IAM_OWNER.
    """
    holders = await tx.memberships.holders(Scope.INSTANCE, IAM_OWNER)

    def affected(user_id: str, org_id: str) -> bool:
        return user_id == without_user or org_id == without_org

    if not any(affected(h.user_id, h.org_id) for h in holders):
        return
    if not any(h.state is UserState.ACTIVE and not affected(h.user_id, h.org_id) for h in holders):
        raise PreconditionFailed(
            LAST_IAM_OWNER,
            "this is the last active IAM_OWNER; make another user IAM_OWNER first",
        )


async def _load(tx: Repositories, user_id: str, scope: Scope, scope_id: str) -> Membership:
    membership = await tx.memberships.find(user_id, scope, scope_id)
    if membership is None:
        raise NotFound("membership.not_found", "the user is not a manager here", field="user_id")
    return membership


async def _record(
    tx: Repositories, ctx: Context, membership: Membership, what: str, extra: dict[str, object]
) -> None:
    scope = membership.scope.value
    await record(
        tx,
        ctx,
        f"{scope}.member.{what}",
        aggregate=(scope, membership.scope_id),
        org_id=membership.org_id,
        payload={"user_id": membership.user_id, **extra},
    )


async def grant(
    tx: Repositories,
    ctx: Context,
    user_id: str,
    scope: Scope,
    scope_id: str,
    roles: tuple[str, ...],
) -> Membership:
    """Insert a membership inside the caller's transaction; the caller records the event."""
    if await tx.users.find(user_id) is None:
        raise NotFound("user.not_found", "no such user", field="user_id")
    membership = Membership(
        id=new_id(),
        user_id=user_id,
        scope=scope,
        scope_id=scope_id,
        org_id=await _owning_org(tx, scope, scope_id),
        roles=roles,
        created_at=ctx.now(),
    )
    await tx.memberships.insert(membership)
    return membership


async def _owning_org(tx: Repositories, scope: Scope, scope_id: str) -> str:
    """The organisation a scope belongs to, checking that the scope exists."""
    if scope is Scope.INSTANCE:
        instance = await tx.instances.find()
        if instance is None or instance.id != scope_id:
            raise NotFound("instance.not_found", "no such instance", field="scope_id")
        return ""
    if scope is Scope.ORG and await tx.orgs.find(scope_id) is None:
        raise NotFound("org.not_found", "no such organisation", field="scope_id")
    return (await resolve_scope(tx, scope, scope_id)).org_id
