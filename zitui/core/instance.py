"""The instance: what it is called, and whether the store behind it answers."""

from __future__ import annotations

from zitui.core.context import Context
from zitui.errors import NotFound, Unauthenticated
from zitui.records import Instance
from zitui.store import Store


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
