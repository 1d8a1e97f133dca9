"""Policies: instance defaults and organisation overrides, stored as JSON settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.store.models import PolicyRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

POLICIES = table(PolicyRow)


_SETTINGS = Prepared(
    sa.select(POLICIES.c.settings).where(
        POLICIES.c.kind == sa.bindparam("kind"), POLICIES.c.org_id == sa.bindparam("org_id")
    )
)


class PolicyRepository(Repository):
    async def find(self, kind: str, org_id: str = "") -> dict[str, Any] | None:
        settings = await self.conn.scalar(_SETTINGS, {"kind": kind, "org_id": org_id})
        return None if settings is None else dict(settings)

    async def find_effective(self, kind: str, org_id: str) -> dict[str, Any] | None:
        """The organisation's override when it has one, else the instance default."""
        return await self.find(kind, org_id) or await self.find(kind, "")

    async def insert(
        self, policy_id: str, kind: str, settings: dict[str, Any], *, org_id: str, at: datetime
    ) -> None:
        await self.conn.execute(
            POLICIES.insert(),
            {
                "id": policy_id,
                "kind": kind,
                "org_id": org_id,
                "settings": settings,
                "updated_at": at,
            },
        )

    async def update(
        self, kind: str, settings: dict[str, Any], *, org_id: str, at: datetime
    ) -> None:
        await self.conn.execute(
            POLICIES.update()
            .where(POLICIES.c.kind == kind, POLICIES.c.org_id == org_id)
            .values(settings=settings, updated_at=at)
        )

    async def delete(self, kind: str, org_id: str) -> bool:
        """Remove an organisation's override (or a stored default); True if there was one."""
        result = await self.conn.execute(
            POLICIES.delete().where(POLICIES.c.kind == kind, POLICIES.c.org_id == org_id)
        )
        return bool(result.rowcount)

    async def kinds(self, org_id: str = "") -> set[str]:
        query = sa.select(POLICIES.c.kind).where(POLICIES.c.org_id == org_id)
        return set((await self.conn.scalars(query)).all())
