"""User grants (authorizations): a user's roles in a project, directly or through a grant."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import State, UserGrant
from zitui.store.models import UserGrantRow
from zitui.store.repos.base import Repository, table
from zitui.store.repos.projects import Reach

USER_GRANTS = table(UserGrantRow)


@dataclass(frozen=True)
class UserGrantFilter:
    project_id: str | None = None
    user_id: str | None = None
    org_id: str | None = None


def _user_grant(row: Any) -> UserGrant:
    return UserGrant(
        id=row["id"],
        user_id=row["user_id"],
        project_id=row["project_id"],
        project_grant_id=row["project_grant_id"],
        org_id=row["org_id"],
        role_keys=tuple(row["role_keys"]),
        state=State(row["state"]),
        created_at=row["created_at"],
    )


def _conflict(_: str) -> AlreadyExists:
    return AlreadyExists(
        "user_grant.exists", "the user already has a grant on this project", field="user_id"
    )


def _visible(reach: Reach) -> sa.ColumnElement[bool]:
    """Mirror of the permission check: a user grant belongs to its organisation, a direct one
    also to its project, one made through a project grant also to that grant."""
    return sa.or_(
        USER_GRANTS.c.org_id.in_(sorted(reach.org_ids)),
        sa.and_(
            USER_GRANTS.c.project_grant_id.is_(None),
            USER_GRANTS.c.project_id.in_(sorted(reach.project_ids)),
        ),
        USER_GRANTS.c.project_grant_id.in_(sorted(reach.grant_ids)),
    )


class UserGrantRepository(Repository):
    async def insert(self, grant: UserGrant) -> None:
        values = {
            "id": grant.id,
            "user_id": grant.user_id,
            "project_id": grant.project_id,
            "project_grant_id": grant.project_grant_id,
            "org_id": grant.org_id,
            "role_keys": list(grant.role_keys),
            "state": grant.state.value,
            "created_at": grant.created_at,
            "updated_at": grant.created_at,
        }
        await self._insert(USER_GRANTS, values, conflict=_conflict)

    async def find(self, grant_id: str) -> UserGrant | None:
        query = sa.select(USER_GRANTS).where(USER_GRANTS.c.id == grant_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _user_grant(row)

    async def list_for_user_project(self, user_id: str, project_id: str) -> list[UserGrant]:
        """A user's grants on a project (at most one: the pair is unique)."""
        query = sa.select(USER_GRANTS).where(
            USER_GRANTS.c.user_id == user_id, USER_GRANTS.c.project_id == project_id
        )
        return [_user_grant(row) for row in (await self.conn.execute(query)).mappings()]

    async def list(
        self, where: UserGrantFilter, *, reach: Reach | None, offset: int, limit: int
    ) -> tuple[list[UserGrant], int]:
        """Oldest first; `reach=None` means every user grant."""
        query = sa.select(USER_GRANTS)
        if reach is not None:
            query = query.where(_visible(reach))
        if where.project_id is not None:
            query = query.where(USER_GRANTS.c.project_id == where.project_id)
        if where.user_id is not None:
            query = query.where(USER_GRANTS.c.user_id == where.user_id)
        if where.org_id is not None:
            query = query.where(USER_GRANTS.c.org_id == where.org_id)
        total = await self._count(query)
        page = query.order_by(USER_GRANTS.c.created_at, USER_GRANTS.c.id)
        rows = (await self.conn.execute(page.offset(offset).limit(limit))).mappings().all()
        return [_user_grant(row) for row in rows], total

    async def set_role_keys(
        self, grant_id: str, role_keys: Collection[str], *, at: datetime
    ) -> None:
        await self.conn.execute(
            USER_GRANTS.update()
            .where(USER_GRANTS.c.id == grant_id)
            .values(role_keys=list(role_keys), updated_at=at)
        )

    async def set_state(self, grant_id: str, state: State, *, at: datetime) -> None:
        await self.conn.execute(
            USER_GRANTS.update()
            .where(USER_GRANTS.c.id == grant_id)
            .values(state=state.value, updated_at=at)
        )

    async def delete(self, grant_id: str) -> None:
        await self.conn.execute(USER_GRANTS.delete().where(USER_GRANTS.c.id == grant_id))

    async def remove_role_keys(
        self,
        keys: Collection[str],
        *,
        project_id: str | None = None,
        project_grant_id: str | None = None,
        at: datetime,
    ) -> int:
        """Drop `keys` from the user grants of a project or of one project grant.

        Returns how many user grants changed. Role keys are a JSON list, which SQLite and
        PostgreSQL query differently, so the rows are filtered here.
        """
        if (project_id is None) == (project_grant_id is None):
            raise ValueError("give exactly one of project_id and project_grant_id")
        column = USER_GRANTS.c.project_id if project_id else USER_GRANTS.c.project_grant_id
        query = sa.select(USER_GRANTS.c.id, USER_GRANTS.c.role_keys).where(
            column == (project_id or project_grant_id)
        )
        dropped = set(keys)
        changed = 0
        for grant_id, held in (await self.conn.execute(query)).all():
            if dropped.intersection(held):
                await self.set_role_keys(grant_id, [k for k in held if k not in dropped], at=at)
                changed += 1
        return changed
