"""Manager memberships: a user's roles at the instance, an organisation, a project or a grant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import Membership, Scope, UserState
from zitui.store.models import MembershipRow, UserRow
from zitui.store.repos.base import Repository, table

MEMBERSHIPS = table(MembershipRow)
USERS = table(UserRow)


@dataclass(frozen=True)
class RoleHolder:
    """A user holding a role, with what decides whether they can still use it."""

    user_id: str
    org_id: str
    state: UserState


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

    async def set_roles(self, membership_id: str, roles: tuple[str, ...]) -> None:
        await self.conn.execute(
            MEMBERSHIPS.update().where(MEMBERSHIPS.c.id == membership_id).values(roles=list(roles))
        )

    async def delete(self, membership_id: str) -> None:
        await self.conn.execute(MEMBERSHIPS.delete().where(MEMBERSHIPS.c.id == membership_id))

    async def holders(self, scope: Scope, role: str) -> list[RoleHolder]:
        """Users with `role` at `scope`. Roles are JSON, so the (few) rows are filtered here.

        The rows are locked (FOR UPDATE on PostgreSQL; SQLite writers are serial anyway), so
        two managers removing the last two IAM_OWNERs at once cannot both succeed.
        """
        query = (
            sa.select(MEMBERSHIPS.c.roles, USERS.c.id, USERS.c.org_id, USERS.c.state)
            .join(USERS, USERS.c.id == MEMBERSHIPS.c.user_id)
            .where(MEMBERSHIPS.c.scope == scope.value)
            .with_for_update()
        )
        rows = (await self.conn.execute(query)).all()
        return [
            RoleHolder(user_id=user_id, org_id=org_id, state=UserState(state))
            for roles, user_id, org_id, state in rows
            if role in roles
        ]
