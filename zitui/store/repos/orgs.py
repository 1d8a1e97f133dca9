"""Organisations and their domains."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import Organization, OrgDomain, OrgState, Scope
from zitui.store.models import (
    MembershipRow,
    OrgDomainRow,
    OrgRow,
    PolicyRow,
    ProjectGrantRow,
    ProjectRow,
)
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, escape_like, table
from zitui.store.repos.branding import ASSETS as BRANDING_ASSETS
from zitui.store.repos.branding import BRANDING
from zitui.store.repos.custom_texts import TEXTS

ORGS = table(OrgRow)
DOMAINS = table(OrgDomainRow)
MEMBERSHIPS = table(MembershipRow)
POLICIES = table(PolicyRow)
PROJECTS = table(ProjectRow)
GRANTS = table(ProjectGrantRow)

_SELECT = sa.select(ORGS, DOMAINS.c.domain.label("primary_domain")).join(
    DOMAINS, sa.and_(DOMAINS.c.org_id == ORGS.c.id, DOMAINS.c.is_primary.is_(True)), isouter=True
)


def _org(row: Any) -> Organization:
    return Organization(
        id=row["id"],
        name=row["name"],
        state=OrgState(row["state"]),
        primary_domain=row["primary_domain"] or "",
        created_at=row["created_at"],
    )


def _domain(row: Any) -> OrgDomain:
    return OrgDomain(
        org_id=row["org_id"],
        domain=row["domain"],
        is_primary=row["is_primary"],
        is_verified=row["is_verified"],
        validation_type=row["validation_type"],
        validation_token=row["validation_token"],
        created_at=row["created_at"],
    )


def _name_conflict(_: str) -> AlreadyExists:
    return AlreadyExists("org.name.taken", "an organisation with this name exists", field="name")


def _domain_conflict(_: str) -> AlreadyExists:
    return AlreadyExists(
        "org.domain.taken", "this domain belongs to an organisation", field="domain"
    )


_BY_ID = Prepared(_SELECT.where(ORGS.c.id == sa.bindparam("org_id")))


class OrgRepository(Repository):
    async def insert(self, org: Organization) -> None:
        values = {
            "id": org.id,
            "name": org.name,
            "state": org.state.value,
            "created_at": org.created_at,
            "updated_at": org.created_at,
        }
        await self._insert(ORGS, values, conflict=_name_conflict)

    async def insert_domain(
        self,
        org_id: str,
        domain: str,
        *,
        primary: bool,
        verified: bool,
        at: Any,
        validation_token: str = "",
    ) -> None:
        values = {
            "domain": domain,
            "org_id": org_id,
            "is_primary": primary,
            "is_verified": verified,
            "validation_token": validation_token,
            "created_at": at,
        }
        await self._insert(DOMAINS, values, conflict=_domain_conflict)

    async def find(self, org_id: str) -> Organization | None:
        row = (await self.conn.execute(_BY_ID, {"org_id": org_id})).mappings().first()
        return None if row is None else _org(row)

    async def find_by_name(self, name: str) -> Organization | None:
        query = _SELECT.where(sa.func.lower(ORGS.c.name) == name.lower())
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _org(row)

    async def domain_exists(self, domain: str) -> bool:
        query = sa.select(DOMAINS.c.domain).where(DOMAINS.c.domain == domain.lower())
        return (await self.conn.scalar(query)) is not None

    async def find_by_verified_domain(self, domain: str) -> Organization | None:
        """The organisation that verified `domain` (domains are unique across organisations)."""
        query = sa.select(DOMAINS.c.org_id).where(
            DOMAINS.c.domain == domain.lower(), DOMAINS.c.is_verified.is_(True)
        )
        org_id = await self.conn.scalar(query)
        return None if org_id is None else await self.find(org_id)

    async def list_domains(self, org_id: str) -> list[OrgDomain]:
        query = sa.select(DOMAINS).where(DOMAINS.c.org_id == org_id).order_by(DOMAINS.c.domain)
        return [_domain(row) for row in (await self.conn.execute(query)).mappings()]

    async def list(
        self, *, org_ids: Collection[str] | None, search: str, offset: int, limit: int
    ) -> tuple[list[Organization], int]:
        """Organisations by name; `org_ids=None` means every organisation."""
        query = _SELECT
        if org_ids is not None:
            query = query.where(ORGS.c.id.in_(list(org_ids)))
        if search:
            query = query.where(ORGS.c.name.ilike(f"%{escape_like(search)}%", escape="\\"))
        total = await self._count(query)
        page = query.order_by(ORGS.c.name, ORGS.c.id).offset(offset).limit(limit)
        rows = (await self.conn.execute(page)).mappings().all()
        return [_org(row) for row in rows], total

    async def rename(self, org_id: str, name: str, *, at: Any) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    ORGS.update().where(ORGS.c.id == org_id).values(name=name, updated_at=at)
                )
        except sa.exc.IntegrityError as exc:
            raise _name_conflict(str(exc.orig)) from exc

    async def set_state(self, org_id: str, state: OrgState, *, at: Any) -> None:
        await self.conn.execute(
            ORGS.update().where(ORGS.c.id == org_id).values(state=state.value, updated_at=at)
        )

    async def delete(self, org_id: str) -> None:
        """Remove the organisation; its domains, users and projects go by foreign key.

        Memberships, policy overrides, custom texts and branding carry the organisation without
        a foreign key, so they are deleted here, before the projects and grants they point at
        disappear.
        """
        await self.conn.execute(
            MEMBERSHIPS.delete().where(
                sa.or_(MEMBERSHIPS.c.org_id == org_id, *_memberships_on_projects_of(org_id))
            )
        )
        await self.conn.execute(POLICIES.delete().where(POLICIES.c.org_id == org_id))
        await self.conn.execute(TEXTS.delete().where(TEXTS.c.org_id == org_id))
        await self.conn.execute(BRANDING_ASSETS.delete().where(BRANDING_ASSETS.c.org_id == org_id))
        await self.conn.execute(BRANDING.delete().where(BRANDING.c.org_id == org_id))
        await self.conn.execute(ORGS.delete().where(ORGS.c.id == org_id))

    async def find_domain(self, org_id: str, domain: str) -> OrgDomain | None:
        query = sa.select(DOMAINS).where(DOMAINS.c.domain == domain, DOMAINS.c.org_id == org_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _domain(row)

    async def set_domain_validation(self, domain: str, *, method: str, token: str) -> None:
        await self.conn.execute(
            DOMAINS.update()
            .where(DOMAINS.c.domain == domain)
            .values(validation_type=method, validation_token=token)
        )

    async def mark_domain_verified(self, domain: str) -> None:
        await self.conn.execute(
            DOMAINS.update().where(DOMAINS.c.domain == domain).values(is_verified=True)
        )

    async def set_primary_domain(self, org_id: str, domain: str) -> None:
        await self.conn.execute(
            DOMAINS.update()
            .where(DOMAINS.c.org_id == org_id)
            .values(is_primary=DOMAINS.c.domain == domain)
        )

    async def delete_domain(self, domain: str) -> None:
        await self.conn.execute(DOMAINS.delete().where(DOMAINS.c.domain == domain))


def _memberships_on_projects_of(org_id: str) -> list[Any]:
    """Project and project-grant memberships on the projects this organisation owns."""
    project_ids = sa.select(PROJECTS.c.id).where(PROJECTS.c.org_id == org_id)
    grant_ids = sa.select(GRANTS.c.id).where(GRANTS.c.project_id.in_(project_ids))
    return [
        sa.and_(
            MEMBERSHIPS.c.scope == Scope.PROJECT.value, MEMBERSHIPS.c.scope_id.in_(project_ids)
        ),
        sa.and_(
            MEMBERSHIPS.c.scope == Scope.PROJECT_GRANT.value, MEMBERSHIPS.c.scope_id.in_(grant_ids)
        ),
    ]
