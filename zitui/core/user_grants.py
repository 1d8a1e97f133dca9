"""User grants (authorizations): which roles of a project a user holds.

A direct user grant is made by the project's owner, on
`Resource(org_id=project org, project_id=project)`, for any user of the instance (ZITADEL's
"external user grant" when the user is of another organisation). A user grant through a
project grant is made by the granted organisation for its own users, on
`Resource(org_id=granted org, grant_id=grant)`, with roles from the grant only. Either way
the user grant's `org_id` is the organisation that owns it: the tokens' roles claim names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.core.project_grants import (
    granted_resource,
    load_grant,
    require_known,
    role_key_list,
)
from zitui.core.projects import load_project, project_resource
from zitui.core.reach import reach
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Page, State, UserGrant
from zitui.store import Repositories, Store
from zitui.store.repos.user_grants import UserGrantFilter


def user_grant_resource(grant: UserGrant) -> Resource:
    if grant.project_grant_id is None:
        return Resource(org_id=grant.org_id, project_id=grant.project_id)
    return Resource(org_id=grant.org_id, grant_id=grant.project_grant_id)


async def load_user_grant(tx: Repositories, grant_id: str) -> UserGrant:
    grant = await tx.user_grants.find(grant_id)
    if grant is None:
        raise NotFound("user_grant.not_found", "no such user grant", field="grant_id")
    return grant


async def allowed_roles(tx: Repositories, grant: UserGrant) -> tuple[set[str], str]:
    """The roles a user grant may hold, and where they come from (for messages)."""
    if grant.project_grant_id is None:
        return await tx.projects.role_keys(grant.project_id), "the project"
    project_grant = await load_grant(tx, grant.project_grant_id)
    return set(project_grant.role_keys), "the project grant"


class UserGrants:
    """The user-grant half of `GrantService`."""

    _store: Store
    _authz: Authorizer

    async def add_user_grant(
        self,
        ctx: Context,
        user_id: str,
        project_id: str,
        role_keys: Sequence[str],
        *,
        project_grant_id: str | None = None,
    ) -> UserGrant:
        """Give a user roles of a project, directly or through a project grant."""
        async with self._store.reader() as tx:
            project = await load_project(tx, project_id)
            project_grant = (
                await load_grant(tx, project_grant_id, field="project_grant_id")
                if project_grant_id
                else None
            )
        resource = (
            project_resource(project) if project_grant is None else granted_resource(project_grant)
        )
        await self._authz.require(ctx, "user.grant.write", resource)
        if project_grant is not None and project_grant.project_id != project_id:
            raise InvalidArgument(
                "user_grant.grant_of_other_project",
                "the project grant is not of this project",
                field="project_grant_id",
            )
        keys = role_key_list(role_keys)
        grant = UserGrant(
            id=new_id(),
            user_id=user_id,
            project_id=project_id,
            project_grant_id=project_grant_id,
            org_id=project.org_id if project_grant is None else project_grant.granted_org_id,
            role_keys=keys,
            state=State.ACTIVE,
            created_at=ctx.now(),
        )
        async with self._store.transaction() as tx:
            await load_project(tx, project_id)
            await _check_grantee(tx, grant)
            allowed, source = await allowed_roles(tx, grant)
            require_known(keys, allowed, of=source)
            if await tx.user_grants.list_for_user_project(user_id, project_id):
                raise AlreadyExists(
                    "user_grant.exists",
                    "the user already has a grant on this project; change it instead",
                    field="user_id",
                )
            await tx.user_grants.insert(grant)
            payload = {
                "user_id": user_id,
                "project_grant_id": project_grant_id,
                "role_keys": list(keys),
            }
            await _record(tx, ctx, "user.grant.added", grant, payload)
        return grant

    async def change_user_grant(
        self, ctx: Context, grant_id: str, role_keys: Sequence[str]
    ) -> UserGrant:
        """Replace the roles of a user grant (within the project's or the grant's roles)."""
        await self._user_grant(ctx, "user.grant.write", grant_id)
        keys = role_key_list(role_keys)
        async with self._store.transaction() as tx:
            grant = await load_user_grant(tx, grant_id)
            if set(keys) == set(grant.role_keys):
                return grant
            allowed, source = await allowed_roles(tx, grant)
            require_known(keys, allowed, of=source)
            await tx.user_grants.set_role_keys(grant_id, keys, at=ctx.now())
            await _record(tx, ctx, "user.grant.changed", grant, {"role_keys": list(keys)})
            return await load_user_grant(tx, grant_id)

    async def deactivate_user_grant(self, ctx: Context, grant_id: str) -> UserGrant:
        return await self._set_user_grant_state(
            ctx, grant_id, State.INACTIVE, "user.grant.deactivated"
        )

    async def reactivate_user_grant(self, ctx: Context, grant_id: str) -> UserGrant:
        return await self._set_user_grant_state(
            ctx, grant_id, State.ACTIVE, "user.grant.reactivated"
        )

    async def remove_user_grant(self, ctx: Context, grant_id: str) -> None:
        await self._user_grant(ctx, "user.grant.delete", grant_id)
        async with self._store.transaction() as tx:
            grant = await load_user_grant(tx, grant_id)
            await tx.user_grants.delete(grant_id)
            await _record(tx, ctx, "user.grant.removed", grant, {"user_id": grant.user_id})

    async def get_user_grant(self, ctx: Context, grant_id: str) -> UserGrant:
        return await self._user_grant(ctx, "user.grant.read", grant_id)

    async def find_user_grant(
        self, ctx: Context, user_id: str, project_id: str
    ) -> UserGrant | None:
        """The user's grant on the project, or None."""
        async with self._store.reader() as tx:
            found = await tx.user_grants.list_for_user_project(user_id, project_id)
        if not found:
            return None
        await self._authz.require(ctx, "user.grant.read", user_grant_resource(found[0]))
        return found[0]

    async def list_user_grants(
        self,
        ctx: Context,
        *,
        project_id: str | None = None,
        user_id: str | None = None,
        org_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[UserGrant]:
        """User grants the actor may read, optionally of one project, user or owning org."""
        offset, limit = validation.page(offset, limit)
        where = reach(ctx, "user.grant.read")
        if where is not None and where.is_empty:
            return Page(items=(), total=0, offset=offset, limit=limit)
        query = UserGrantFilter(project_id=project_id, user_id=user_id, org_id=org_id)
        async with self._store.scan() as tx:
            items, total = await tx.user_grants.list(query, reach=where, offset=offset, limit=limit)
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)

    async def _user_grant(self, ctx: Context, permission: str, grant_id: str) -> UserGrant:
        """Load a user grant and require `permission` on it (outside any transaction)."""
        async with self._store.reader() as tx:
            grant = await load_user_grant(tx, grant_id)
        await self._authz.require(ctx, permission, user_grant_resource(grant))
        return grant

    async def _set_user_grant_state(
        self, ctx: Context, grant_id: str, state: State, event_type: str
    ) -> UserGrant:
        await self._user_grant(ctx, "user.grant.write", grant_id)
        async with self._store.transaction() as tx:
            grant = await load_user_grant(tx, grant_id)
            if grant.state is state:
                raise PreconditionFailed(
                    f"user_grant.already_{state.value}", f"the user grant is already {state.value}"
                )
            await tx.user_grants.set_state(grant_id, state, at=ctx.now())
            await _record(tx, ctx, event_type, grant, {})
            return await load_user_grant(tx, grant_id)


async def _check_grantee(tx: Repositories, grant: UserGrant) -> None:
    """The user exists; through a project grant, in the granted org, and the grant is active."""
    user = await tx.users.find(grant.user_id)
    if user is None:
        raise NotFound("user.not_found", "no such user", field="user_id")
    if grant.project_grant_id is None:
        return
    project_grant = await load_grant(tx, grant.project_grant_id, field="project_grant_id")
    if user.org_id != project_grant.granted_org_id:
        raise InvalidArgument(
            "user_grant.user_outside_granted_org",
            "through a project grant, only users of the granted organisation get roles",
            field="user_id",
        )
    if project_grant.state is not State.ACTIVE:
        raise PreconditionFailed(
            "project_grant.inactive", "the project grant is deactivated", field="project_grant_id"
        )


async def _record(
    tx: Repositories, ctx: Context, event_type: str, grant: UserGrant, payload: Mapping[str, object]
) -> None:
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("user_grant", grant.id),
        org_id=grant.org_id,
        payload={"project_id": grant.project_id, **payload},
    )
