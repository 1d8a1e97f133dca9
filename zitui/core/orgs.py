"""Organisations: create, rename, deactivate, remove, read and list (domains: org_domains)."""

from __future__ import annotations

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.memberships import ensure_iam_owner_remains, grant
from zitui.core.org_domains import OrgDomainCommands, load_org
from zitui.core.permissions import Resource
from zitui.errors import AlreadyExists, PreconditionFailed
from zitui.records import Organization, OrgState, Page, Scope
from zitui.store import Repositories, Store


class OrgService(OrgDomainCommands):
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def create_org(self, ctx: Context, name: str) -> Organization:
        """Create an organisation with its generated domain `{name}.{instance domain}`.

        A creator who does not already manage every organisation from the instance level
        becomes its ORG_OWNER, as in ZITADEL, so they can manage what they created.
        """
        await self._authz.require(ctx, "org.create", Resource.instance())
        name = validation.text(name, field="name")
        async with self._store.transaction() as tx:
            org = await add_org(tx, ctx, name, org_id=new_id())
            payload = {"name": org.name, "primary_domain": org.primary_domain}
            if ctx.actor is not None and ctx.org_scope("org.write") is not None:
                await grant(tx, ctx, ctx.actor.user_id, Scope.ORG, org.id, ("ORG_OWNER",))
                payload["owner_user_id"] = ctx.actor.user_id
            await record(
                tx, ctx, "org.added", aggregate=("org", org.id), org_id=org.id, payload=payload
            )
        return org

    async def rename_org(self, ctx: Context, org_id: str, name: str) -> Organization:
        await self._authz.require(ctx, "org.write", Resource(org_id=org_id))
        name = validation.text(name, field="name")
        async with self._store.transaction() as tx:
            org = await load_org(tx, org_id)
            if org.name == name:
                return org
            other = await tx.orgs.find_by_name(name)
            if other and other.id != org_id:
                raise AlreadyExists(
                    "org.name.taken", "an organisation with this name exists", field="name"
                )
            await tx.orgs.rename(org_id, name, at=ctx.now())
            await record(
                tx,
                ctx,
                "org.changed",
                aggregate=("org", org_id),
                org_id=org_id,
                payload={"name": name},
            )
        return await self.get_org(ctx, org_id)

    async def get_org(self, ctx: Context, org_id: str) -> Organization:
        await self._authz.require(ctx, "org.read", Resource(org_id=org_id))
        async with self._store.reader() as tx:
            return await load_org(tx, org_id)

    async def find_org_by_name(self, ctx: Context, name: str) -> Organization | None:
        """The organisation called `name` (any case), if the actor may read it."""
        scope = ctx.org_scope("org.read")
        async with self._store.reader() as tx:
            org = await tx.orgs.find_by_name(name.strip())
        if org is None or (scope is not None and org.id not in scope):
            return None
        return org

    async def deactivate_org(self, ctx: Context, org_id: str) -> Organization:
        return await self._set_state(ctx, org_id, OrgState.INACTIVE, "org.deactivated")

    async def reactivate_org(self, ctx: Context, org_id: str) -> Organization:
        return await self._set_state(ctx, org_id, OrgState.ACTIVE, "org.reactivated")

    async def remove_org(self, ctx: Context, org_id: str) -> None:
        """Remove an organisation with its domains, users, projects and managers.

        The instance's default organisation stays, and so does the last active IAM_OWNER.
        """
        await self._authz.require(ctx, "org.delete", Resource(org_id=org_id))
        async with self._store.transaction() as tx:
            org = await load_org(tx, org_id)
            instance = await tx.instances.find()
            if instance is not None and instance.default_org_id == org_id:
                raise PreconditionFailed(
                    "org.default.not_removable", "the default organisation cannot be removed"
                )
            await ensure_iam_owner_remains(tx, without_org=org_id)
            # Identity providers carry the organisation without a foreign key.
            idp_ids = await tx.idps.remove_for_org(org_id)
            await tx.orgs.delete(org_id)
            payload: dict[str, object] = {"name": org.name}
            if idp_ids:
                payload["idp_ids"] = idp_ids
            await record(
                tx,
                ctx,
                "org.removed",
                aggregate=("org", org_id),
                org_id=org_id,
                payload=payload,
            )

    async def _set_state(
        self, ctx: Context, org_id: str, state: OrgState, event_type: str
    ) -> Organization:
        await self._authz.require(ctx, "org.write", Resource(org_id=org_id))
        async with self._store.transaction() as tx:
            org = await load_org(tx, org_id)
            if org.state is state:
                raise PreconditionFailed(
                    f"org.already_{state.value}", f"the organisation is {state.value} already"
                )
            instance = await tx.instances.find()
            if state is OrgState.INACTIVE and instance and instance.default_org_id == org_id:
                # The default organisation holds the first administrator and receives
                # self-registrations; deactivating it would lock everyone out.
                raise PreconditionFailed(
                    "org.default.not_deactivatable",
                    "the default organisation cannot be deactivated",
                )
            await tx.orgs.set_state(org_id, state, at=ctx.now())
            await record(tx, ctx, event_type, aggregate=("org", org_id), org_id=org_id)
            return await load_org(tx, org_id)

    async def list_orgs(
        self, ctx: Context, *, search: str = "", offset: int = 0, limit: int = 50
    ) -> Page[Organization]:
        """The organisations the actor may read, by name."""
        offset, limit = validation.page(offset, limit)
        scope = ctx.org_scope("org.read")
        if scope is not None and not scope:
            return Page(items=(), total=0, offset=offset, limit=limit)
        async with self._store.scan() as tx:
            items, total = await tx.orgs.list(
                org_ids=scope, search=search.strip(), offset=offset, limit=limit
            )
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)


async def add_org(tx: Repositories, ctx: Context, name: str, *, org_id: str) -> Organization:
    """The organisation and its primary domain, inside the caller's transaction."""
    instance = await tx.instances.find()
    if instance is None:
        raise PreconditionFailed("instance.missing", "the instance is not set up")
    if await tx.orgs.find_by_name(name):
        raise AlreadyExists("org.name.taken", "an organisation with this name exists", field="name")
    domain = f"{validation.org_domain_label(name)}.{instance.domain}"
    if await tx.orgs.domain_exists(domain):
        raise AlreadyExists(
            "org.domain.taken", f"the domain {domain} belongs to another organisation", field="name"
        )
    org = Organization(
        id=org_id, name=name, state=OrgState.ACTIVE, primary_domain=domain, created_at=ctx.now()
    )
    await tx.orgs.insert(org)
    await tx.orgs.insert_domain(org.id, domain, primary=True, verified=True, at=ctx.now())
    return org
