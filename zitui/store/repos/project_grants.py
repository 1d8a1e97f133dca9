"""Project grants: a project shared with another organisation, with a subset of its roles."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import ProjectGrant, Scope, State
from zitui.store.models import MembershipRow, ProjectGrantRow, ProjectRow, UserGrantRow
from zitui.store.repos.base import Repository, table

PROJECT_GRANTS = table(ProjectGrantRow)
PROJECTS = table(ProjectRow)
USER_GRANTS = table(UserGrantRow)
MEMBERSHIPS = table(MembershipRow)

_SELECT = sa.select(
    PROJECT_GRANTS,
    PROJECTS.c.name.label("project_name"),
    PROJECTS.c.org_id.label("owner_org_id"),
).join(PROJECTS, PROJECTS.c.id == PROJECT_GRANTS.c.project_id)


def _grant(row: Any) -> ProjectGrant:
    return ProjectGrant(
        id=row["id"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        owner_org_id=row["owner_org_id"],
        granted_org_id=row["granted_org_id"],
        role_keys=tuple(row["role_keys"]),
        state=State(row["state"]),
        created_at=row["created_at"],
    )


def _conflict(_: str) -> AlreadyExists:
    return AlreadyExists(
        "project_grant.exists",
        "the project is already granted to this organisation",
        field="granted_org_id",
    )


class ProjectGrantRepository(Repository):
    async def insert(self, grant: ProjectGrant) -> None:
        values = {
            "id": grant.id,
            "project_id": grant.project_id,
            "granted_org_id": grant.granted_org_id,
            "role_keys": list(grant.role_keys),
            "state": grant.state.value,
            "created_at": grant.created_at,
            "updated_at": grant.created_at,
        }
        await self._insert(PROJECT_GRANTS, values, conflict=_conflict)

    async def find(self, grant_id: str) -> ProjectGrant | None:
        query = _SELECT.where(PROJECT_GRANTS.c.id == grant_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _grant(row)

    async def find_for_org(self, project_id: str, granted_org_id: str) -> ProjectGrant | None:
        query = _SELECT.where(
            PROJECT_GRANTS.c.project_id == project_id,
            PROJECT_GRANTS.c.granted_org_id == granted_org_id,
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _grant(row)

    async def list_for_project(
        self, project_id: str, *, offset: int, limit: int
    ) -> tuple[list[ProjectGrant], int]:
        """The owner's view: every grant of the project, oldest first."""
        query = _SELECT.where(PROJECT_GRANTS.c.project_id == project_id)
        return await self._page(query, offset=offset, limit=limit)

    async def list_for_granted_org(
        self, org_id: str, *, grant_ids: Collection[str] | None, offset: int, limit: int
    ) -> tuple[list[ProjectGrant], int]:
        """The customer's view: grants to `org_id` (only `grant_ids` unless None), by project."""
        query = _SELECT.where(PROJECT_GRANTS.c.granted_org_id == org_id)
        if grant_ids is not None:
            query = query.where(PROJECT_GRANTS.c.id.in_(sorted(grant_ids)))
        return await self._page(query, offset=offset, limit=limit, by_name=True)

    async def _page(
        self, query: sa.Select[Any], *, offset: int, limit: int, by_name: bool = False
    ) -> tuple[list[ProjectGrant], int]:
        total = await self._count(query)
        order = (PROJECTS.c.name,) if by_name else ()
        page = query.order_by(*order, PROJECT_GRANTS.c.created_at, PROJECT_GRANTS.c.id)
        rows = (await self.conn.execute(page.offset(offset).limit(limit))).mappings().all()
        return [_grant(row) for row in rows], total

    async def set_role_keys(
        self, grant_id: str, role_keys: Collection[str], *, at: datetime
    ) -> None:
        await self.conn.execute(
            PROJECT_GRANTS.update()
            .where(PROJECT_GRANTS.c.id == grant_id)
            .values(role_keys=list(role_keys), updated_at=at)
        )

    async def set_state(self, grant_id: str, state: State, *, at: datetime) -> None:
        await self.conn.execute(
            PROJECT_GRANTS.update()
            .where(PROJECT_GRANTS.c.id == grant_id)
            .values(state=state.value, updated_at=at)
        )

    async def remove_role_key(self, project_id: str, key: str, *, at: datetime) -> int:
        """Drop `key` from every grant of the project; returns how many grants held it.

        Role keys are a JSON list, which SQLite and PostgreSQL query differently, so the
        (few) grants of one project are filtered here.
        """
        query = sa.select(PROJECT_GRANTS.c.id, PROJECT_GRANTS.c.role_keys).where(
            PROJECT_GRANTS.c.project_id == project_id
        )
        changed = 0
        for grant_id, keys in (await self.conn.execute(query)).all():
            if key in keys:
                await self.set_role_keys(grant_id, [k for k in keys if k != key], at=at)
                changed += 1
        return changed

    async def delete(self, grant_id: str) -> int:
        """The grant with its user grants and managers; returns how many user grants went.

        Memberships name their scope without a foreign key, so they are deleted here.
        """
        await self.conn.execute(
            MEMBERSHIPS.delete().where(
                MEMBERSHIPS.c.scope == Scope.PROJECT_GRANT.value,
                MEMBERSHIPS.c.scope_id == grant_id,
            )
        )
        removed = await self.conn.execute(
            USER_GRANTS.delete().where(USER_GRANTS.c.project_grant_id == grant_id)
        )
        await self.conn.execute(PROJECT_GRANTS.delete().where(PROJECT_GRANTS.c.id == grant_id))
        return int(removed.rowcount or 0)
