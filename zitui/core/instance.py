"""The instance: what it is called, and whether the store behind it answers."""

from __future__ import annotations

import logging

from zitui.core.context import Context
from zitui.errors import NotFound, Unauthenticated
from zitui.records import Instance
from zitui.store import Store

log = logging.getLogger("zitui.core")
STORE_UNAVAILABLE = "store_unavailable"
MIGRATIONS_PENDING = "migrations_pending"


class InstanceService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get_instance(self, ctx: Context) -> Instance:
        """Any signed-in manager may see which instance they work on."""
        if ctx.actor is None:
            raise Unauthenticated("auth.required", "sign in first")
        async with self._store.reader() as tx:
            instance = await tx.instances.find()
        if instance is None:
            raise NotFound("instance.missing", "the instance is not set up")
        return instance

    async def check_ready(self) -> None:
        """Raise unless the store answers; for health checks."""
        await self._store.ping()

    async def readiness(self) -> str | None:
        """Why this process should not take traffic now, or None when it may: the store
        must answer ("store_unavailable") and stand at this zitui's newest migration
        ("migrations_pending", as while another process upgrades it, or after a downgrade)."""
        try:
            await self._store.ping()
            current = await self._store.schema_is_current()
        except Exception:
            # Whatever the store raises, the answer is "not ready"; the reason goes to the log.
            log.warning("readiness check failed", exc_info=True)
            return STORE_UNAVAILABLE
        return None if current else MIGRATIONS_PENDING
