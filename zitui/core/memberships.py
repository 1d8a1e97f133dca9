"""Managers: who holds which manager roles at the instance or an organisation."""

from __future__ import annotations

from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.permissions import Resource, roles_for_scope
from zitui.errors import InvalidArgument, NotFound
from zitui.records import Membership, Scope
from zitui.store import Repositories, Store

_WRITE_PERMISSION = {Scope.INSTANCE: "iam.member.write", Scope.ORG: "org.member.write"}
_READ_PERMISSION = {Scope.INSTANCE: "iam.member.read", Scope.ORG: "org.member.read"}


def _resource(scope: Scope, scope_id: str) -> Resource:
    return Resource.instance() if scope is Scope.INSTANCE else Resource(org_id=scope_id)


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
        """Make a user a manager with `roles` at the instance or an organisation."""
        if scope not in _WRITE_PERMISSION:
            raise InvalidArgument(
                "membership.scope", "this scope is not supported yet", field="scope"
            )
        await self._authz.require(ctx, _WRITE_PERMISSION[scope], _resource(scope, scope_id))
        checked = check_roles(scope, roles)
        async with self._store.transaction() as tx:
            membership = await grant(tx, ctx, user_id, scope, scope_id, checked)
            await record(
                tx,
                ctx,
                f"{scope.value}.member.added",
                aggregate=(scope.value, scope_id),
                org_id=membership.org_id,
                payload={"user_id": user_id, "roles": list(checked)},
            )
        return membership

    async def list_members(self, ctx: Context, scope: Scope, scope_id: str) -> list[Membership]:
        if scope not in _READ_PERMISSION:
            raise InvalidArgument(
                "membership.scope", "this scope is not supported yet", field="scope"
            )
        await self._authz.require(ctx, _READ_PERMISSION[scope], _resource(scope, scope_id))
        async with self._store.reader() as tx:
            return await tx.memberships.list_for_scope(scope, scope_id)


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
    if scope is Scope.ORG and await tx.orgs.find(scope_id) is None:
        raise NotFound("org.not_found", "no such organisation", field="scope_id")
    membership = Membership(
        id=new_id(),
        user_id=user_id,
        scope=scope,
        scope_id=scope_id,
        org_id=scope_id if scope is Scope.ORG else "",
        roles=roles,
        created_at=ctx.now(),
    )
    await tx.memberships.insert(membership)
    return membership
