"""Project grants: an owner shares a project with another organisation and a subset of roles.

Two sides see a grant. The owner manages it as part of the project,
`Resource(org_id=owner, project_id=project, grant_id=grant)`, with `project.grant.*`. The
granted (customer) organisation sees it as a granted project, `Resource(org_id=granted,
grant_id=grant)`, and authorizes its own users through it (`user_grants.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.core.projects import load_project, project_resource, role_key
from zitui.core.reach import reach
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Page, ProjectGrant, State
from zitui.store import Repositories, Store


def owner_resource(grant: ProjectGrant) -> Resource:
    """The grant as the owning organisation manages it."""
    return Resource(org_id=grant.owner_org_id, project_id=grant.project_id, grant_id=grant.id)


def granted_resource(grant: ProjectGrant) -> Resource:
    """The grant as the granted organisation (and the grant's managers) use it."""
    return Resource(org_id=grant.granted_org_id, grant_id=grant.id)


def role_key_list(values: Sequence[str]) -> tuple[str, ...]:
    """Role keys as given, without repeats; each must be a well-formed key."""
    if isinstance(values, str):
        raise InvalidArgument("role_keys.not_list", "give role keys as a list", field="role_keys")
    return tuple(dict.fromkeys(role_key(value, field="role_keys") for value in values))


def require_known(keys: Collection[str], allowed: Collection[str], *, of: str) -> None:
    unknown = [key for key in keys if key not in allowed]
    if unknown:
        raise InvalidArgument(
            "role_keys.unknown", f"{unknown[0]} is not a role of {of}", field="role_keys"
        )


async def load_grant(tx: Repositories, grant_id: str, *, field: str = "grant_id") -> ProjectGrant:
    grant = await tx.project_grants.find(grant_id)
    if grant is None:
        raise NotFound("project_grant.not_found", "no such project grant", field=field)
    return grant


class ProjectGrants:
    """The project-grant half of `GrantService`."""

    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def grant_project(
        self, ctx: Context, project_id: str, granted_org_id: str, role_keys: Sequence[str]
    ) -> ProjectGrant:
        """Share a project with another organisation, with some of the project's roles."""
        async with self._store.reader() as tx:
            project = await load_project(tx, project_id)
        await self._authz.require(ctx, "project.grant.write", project_resource(project))
        keys = role_key_list(role_keys)
        if granted_org_id == project.org_id:
            raise InvalidArgument(
                "project_grant.own_org",
                "a project cannot be granted to the organisation that owns it",
                field="granted_org_id",
            )
        grant = ProjectGrant(
            id=new_id(),
            project_id=project.id,
            project_name=project.name,
            owner_org_id=project.org_id,
            granted_org_id=granted_org_id,
            role_keys=keys,
            state=State.ACTIVE,
            created_at=ctx.now(),
        )
        async with self._store.transaction() as tx:
            await load_project(tx, project_id)
            if await tx.orgs.find(granted_org_id) is None:
                raise NotFound("org.not_found", "no such organisation", field="granted_org_id")
            require_known(keys, await tx.projects.role_keys(project_id), of="the project")
            if await tx.project_grants.find_for_org(project_id, granted_org_id):
                raise AlreadyExists(
                    "project_grant.exists",
                    "the project is already granted to this organisation",
                    field="granted_org_id",
                )
            await tx.project_grants.insert(grant)
            payload = {"granted_org_id": granted_org_id, "role_keys": list(keys)}
            await _record(tx, ctx, "project.grant.added", grant, payload)
        return grant

    async def change_project_grant(
        self, ctx: Context, grant_id: str, role_keys: Sequence[str]
    ) -> ProjectGrant:
        """Set the grant's roles; roles taken away also leave the user grants made through it."""
        await self._owned_grant(ctx, "project.grant.write", grant_id)
        keys = role_key_list(role_keys)
        async with self._store.transaction() as tx:
            grant = await load_grant(tx, grant_id)
            if set(keys) == set(grant.role_keys):
                return grant
            require_known(keys, await tx.projects.role_keys(grant.project_id), of="the project")
            removed = [key for key in grant.role_keys if key not in keys]
            now = ctx.now()
            await tx.project_grants.set_role_keys(grant_id, keys, at=now)
            changed_user_grants = (
                await tx.user_grants.remove_role_keys(removed, project_grant_id=grant_id, at=now)
                if removed
                else 0
            )
            payload = {
                "role_keys": list(keys),
                "removed_role_keys": removed,
                "user_grants": changed_user_grants,
            }
            await _record(tx, ctx, "project.grant.changed", grant, payload)
            return await load_grant(tx, grant_id)

    async def deactivate_project_grant(self, ctx: Context, grant_id: str) -> ProjectGrant:
        """The granted organisation keeps the grant but its users lose the project's roles."""
        return await self._set_grant_state(
            ctx, grant_id, State.INACTIVE, "project.grant.deactivated"
        )

    async def reactivate_project_grant(self, ctx: Context, grant_id: str) -> ProjectGrant:
        return await self._set_grant_state(ctx, grant_id, State.ACTIVE, "project.grant.reactivated")

    async def remove_project_grant(self, ctx: Context, grant_id: str) -> None:
        """Remove the grant with the user grants made through it and its managers."""
        await self._owned_grant(ctx, "project.grant.delete", grant_id)
        async with self._store.transaction() as tx:
            grant = await load_grant(tx, grant_id)
            removed = await tx.project_grants.delete(grant_id)
            payload = {"granted_org_id": grant.granted_org_id, "user_grants": removed}
            await _record(tx, ctx, "project.grant.removed", grant, payload)

    async def get_project_grant(self, ctx: Context, grant_id: str) -> ProjectGrant:
        """Readable by the owner's managers and by the granted organisation's."""
        async with self._store.reader() as tx:
            grant = await load_grant(tx, grant_id)
        if not ctx.can("project.read", granted_resource(grant)):
            await self._authz.require(ctx, "project.grant.read", owner_resource(grant))
        return grant

    async def list_project_grants(
        self, ctx: Context, project_id: str, *, offset: int = 0, limit: int = 50
    ) -> Page[ProjectGrant]:
        """The owner's view: the organisations a project is granted to, oldest first."""
        offset, limit = validation.page(offset, limit)
        async with self._store.reader() as tx:
            project = await load_project(tx, project_id)
        await self._authz.require(ctx, "project.grant.read", project_resource(project))
        async with self._store.scan() as tx:
            items, total = await tx.project_grants.list_for_project(
                project_id, offset=offset, limit=limit
            )
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)

    async def list_granted_projects(
        self, ctx: Context, org_id: str, *, offset: int = 0, limit: int = 50
    ) -> Page[ProjectGrant]:
        """The customer's view: projects granted to `org_id` that the actor may read.

        An organisation's managers with `project.read` see all of them; a grant's own
        managers (PROJECT_GRANT_OWNER) see their grant.
        """
        offset, limit = validation.page(offset, limit)
        where = reach(ctx, "project.read")
        grant_ids = None if where is None or org_id in where.org_ids else where.grant_ids
        if grant_ids is not None and not grant_ids:
            return Page(items=(), total=0, offset=offset, limit=limit)
        async with self._store.scan() as tx:
            items, total = await tx.project_grants.list_for_granted_org(
                org_id, grant_ids=grant_ids, offset=offset, limit=limit
            )
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)

    async def _owned_grant(self, ctx: Context, permission: str, grant_id: str) -> ProjectGrant:
        """Load a grant and require `permission` on the owner's side of it."""
        async with self._store.reader() as tx:
            grant = await load_grant(tx, grant_id)
        await self._authz.require(ctx, permission, owner_resource(grant))
        return grant

    async def _set_grant_state(
        self, ctx: Context, grant_id: str, state: State, event_type: str
    ) -> ProjectGrant:
        await self._owned_grant(ctx, "project.grant.write", grant_id)
        async with self._store.transaction() as tx:
            grant = await load_grant(tx, grant_id)
            if grant.state is state:
                raise PreconditionFailed(
                    f"project_grant.already_{state.value}",
                    f"the project grant is already {state.value}",
                )
            await tx.project_grants.set_state(grant_id, state, at=ctx.now())
            await _record(tx, ctx, event_type, grant, {})
            return await load_grant(tx, grant_id)


async def _record(
    tx: Repositories,
    ctx: Context,
    event_type: str,
    grant: ProjectGrant,
    payload: Mapping[str, object],
) -> None:
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("project_grant", grant.id),
        org_id=grant.owner_org_id,
        payload={"project_id": grant.project_id, **payload},
    )
