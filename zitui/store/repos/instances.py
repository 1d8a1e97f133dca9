"""The instance row: one per data directory."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from zitui.records import Instance
from zitui.store.models import InstanceRow
from zitui.store.repos.base import Repository, table

INSTANCES = table(InstanceRow)


class InstanceRepository(Repository):
    async def find(self) -> Instance | None:
        row = (await self.conn.execute(sa.select(INSTANCES).limit(1))).mappings().first()
        if row is None:
            return None
        return Instance(
            id=row["id"],
            name=row["name"],
            domain=row["domain"],
            default_org_id=row["default_org_id"],
            created_at=row["created_at"],
        )

    async def find_state(self) -> tuple[str, datetime | None] | None:
        """The key check and set-up completion time, or None before the first run."""
        row = (
            await self.conn.execute(
                sa.select(INSTANCES.c.key_check, INSTANCES.c.setup_completed_at).limit(1)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def insert(self, instance: Instance, *, key_check: str) -> None:
        await self.conn.execute(
            INSTANCES.insert(),
            {
                "id": instance.id,
                "name": instance.name,
                "domain": instance.domain,
                "default_org_id": instance.default_org_id,
                "key_check": key_check,
                "created_at": instance.created_at,
            },
        )

    async def mark_setup_completed(self, instance_id: str, at: datetime) -> None:
        await self.conn.execute(
            INSTANCES.update().where(INSTANCES.c.id == instance_id).values(setup_completed_at=at)
        )
