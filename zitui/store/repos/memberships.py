"""Manager memberships: a user's roles at the instance, an organisation, a project or a grant."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import Membership, Scope
from zitui.store.models import MembershipRow
from zitui.store.repos.base import Repository, table

MEMBERSHIPS = table(MembershipRow)


def _membership(row: Any) -> Membership:
    return Membership(
        id=row["id"],
        user_id=row["user_id"],
        scope=Scope(row["scope"]),
        scope_id=row["scope_id"],
        org_id=row["org_id"],
        roles=tuple(row["roles"]),
        created_at=row["created_at"],
    )


def _conflict(_: str) -> AlreadyExists:
    return AlreadyExists("membership.exists", "the user is already a manager here", field="user_id")


class MembershipRepository(Repository):
    async def insert(self, membership: Membership) -> None:
        values = {
            "id": membership.id,
            "user_id": membership.user_id,
            "scope": membership.scope.value,
            "scope_id": membership.scope_id,
            "org_id": membership.org_id,
            "roles": list(membership.roles),
            "created_at": membership.created_at,
        }
        await self._insert(MEMBERSHIPS, values, conflict=_conflict)

    async def list_for_user(self, user_id: str) -> list[Membership]:
        query = (
            sa.select(MEMBERSHIPS)
            .where(MEMBERSHIPS.c.user_id == user_id)
            .order_by(MEMBERSHIPS.c.created_at, MEMBERSHIPS.c.id)
        )
        return [_membership(row) for row in (await self.conn.execute(query)).mappings()]

    async def list_for_scope(self, scope: Scope, scope_id: str) -> list[Membership]:
        query = (
            sa.select(MEMBERSHIPS)
            .where(MEMBERSHIPS.c.scope == scope.value, MEMBERSHIPS.c.scope_id == scope_id)
            .order_by(MEMBERSHIPS.c.created_at, MEMBERSHIPS.c.id)
        )
        return [_membership(row) for row in (await self.conn.execute(query)).mappings()]

    async def find(self, user_id: str, scope: Scope, scope_id: str) -> Membership | None:
        query = sa.select(MEMBERSHIPS).where(
            MEMBERSHIPS.c.user_id == user_id,
            MEMBERSHIPS.c.scope == scope.value,
            MEMBERSHIPS.c.scope_id == scope_id,
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _membership(row)
