"""Deleting what has expired, continuously, in small batches, off the request path.

Anonymous requests write rows: an authorization request per `/authorize`, login flows,
throttle counters, used assertion ids. Each server process runs `Housekeeper.run` as a
background task (the Starlette lifespan): every `interval_s` seconds it deletes expired rows
of each table, at most `batch_size` per write transaction, yielding to requests between
batches, until no table has a full batch left. Several `serve --workers` each run it; their
batches are small, and two deleting the same rows is harmless.

A row is deleted `GRACE` after it expired, so a request that read it a moment earlier still
finds it, processes with slightly different clocks agree, and an assertion id is kept past
any clock-skew allowance given to its `exp`. An auth request stays while a code issued from it
can still be redeemed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from zitui.core.background import Pause, every, in_background
from zitui.core.clock import Clock
from zitui.store import Repositories, Store

log = logging.getLogger("zitui.housekeeping")

GRACE = timedelta(minutes=10)
Purge = Callable[[Repositories, datetime, int], Awaitable[int]]

# What each table's batch deletes, given `now` and the batch size.
PURGES: dict[str, Purge] = {
    "auth_requests": lambda tx, now, n: tx.purge.auth_requests(now - GRACE, now=now, limit=n),
    "access_tokens": lambda tx, now, n: tx.purge.access_tokens(now - GRACE, limit=n),
    "refresh_tokens": lambda tx, now, n: tx.purge.refresh_tokens(now - GRACE, limit=n),
    "login_flows": lambda tx, now, n: tx.purge.login_flows(now - GRACE, limit=n),
    "throttles": lambda tx, now, n: tx.purge.throttles(now - GRACE, limit=n),
    "used_assertions": lambda tx, now, n: tx.purge.used_assertions(now - GRACE, limit=n),
}
TABLES = tuple(PURGES)


class Housekeeper:
    """The purge of expired rows: one batch (`purge_batch`), every batch (`purge_expired`),
    or forever in the background (`running`)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        interval_s: float,
        batch_size: int,
        pause: Pause = asyncio.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self.interval_s = interval_s
        self.batch_size = max(1, batch_size)
        self._pause = pause

    async def purge_batch(self, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
        """At most `batch_size` expired rows of each table, one write transaction each."""
        removed: dict[str, int] = {}
        for name in tables:
            async with self._store.transaction() as tx:
                removed[name] = await PURGES[name](tx, self._clock.now(), self.batch_size)
            await asyncio.sleep(0)  # requests waiting for the write lock go first
        return removed

    async def purge_expired(self) -> dict[str, int]:
        """Every expired row, batch after batch; how many of each table went."""
        total = dict.fromkeys(TABLES, 0)
        tables = TABLES
        while tables:
            removed = await self.purge_batch(tables)
            for name, count in removed.items():
                total[name] += count
            tables = tuple(name for name in tables if removed[name] >= self.batch_size)
        return total

    async def run(self) -> None:
        """Purge every `interval_s` seconds until cancelled; a failed round is logged and
        the next one tries again."""
        what = "purging expired rows"
        await every(self.interval_s, self._round, pause=self._pause, what=what, log=log)

    async def _round(self) -> None:
        removed = await self.purge_expired()
        if any(removed.values()):
            log.debug("purged expired rows: %s", removed)

    def running(self) -> AbstractAsyncContextManager[asyncio.Task[None]]:
        """`run` as a background task for the duration of the block."""
        return in_background(self.run, name="zitui-housekeeping")
