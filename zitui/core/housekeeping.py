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

Notifications do not expire but would pile up: a sent message goes `Retention.sent` after it
was delivered, a failed one `Retention.failed` after its last attempt, so operators see
failures for longer. A pending (or sending) message is never deleted: mail is not dropped.

A second factor whose set-up was never confirmed (a TOTP secret nobody typed a code from)
goes `PENDING_FACTOR_AGE` after the set-up began; a new set-up replaces it anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from zitui.config import Settings
from zitui.core.background import Pause, every, in_background
from zitui.core.clock import Clock
from zitui.store import Repositories, Store

log = logging.getLogger("zitui.housekeeping")

GRACE = timedelta(minutes=10)
PENDING_FACTOR_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class Cutoffs:
    """One batch's limits: rows that ended before these moments go."""

    now: datetime
    expired: datetime
    sent: datetime
    failed: datetime
    pending_factors: datetime


@dataclass(frozen=True)
class Retention:
    """How long finished notifications stay for operators to see."""

    sent: timedelta = timedelta(days=30)
    failed: timedelta = timedelta(days=90)

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            sent=timedelta(days=settings.outbox_keep_sent_days),
            failed=timedelta(days=settings.outbox_keep_failed_days),
        )

    def cutoffs(self, now: datetime) -> Cutoffs:
        return Cutoffs(
            now=now,
            expired=now - GRACE,
            sent=now - self.sent,
            failed=now - self.failed,
            pending_factors=now - PENDING_FACTOR_AGE,
        )


Purge = Callable[[Repositories, Cutoffs, int], Awaitable[int]]

# What each batch deletes, given the cutoffs and the batch size; the keys name the counts of
# the purge's report.
PURGES: dict[str, Purge] = {
    "auth_requests": lambda tx, at, n: tx.purge.auth_requests(at.expired, now=at.now, limit=n),
    "access_tokens": lambda tx, at, n: tx.purge.access_tokens(at.expired, limit=n),
    "refresh_tokens": lambda tx, at, n: tx.purge.refresh_tokens(at.expired, limit=n),
    "login_flows": lambda tx, at, n: tx.purge.login_flows(at.expired, limit=n),
    "throttles": lambda tx, at, n: tx.purge.throttles(at.expired, limit=n),
    "used_assertions": lambda tx, at, n: tx.purge.used_assertions(at.expired, limit=n),
    "user_codes": lambda tx, at, n: tx.purge.user_codes(at.expired, limit=n),
    "outbox_sent": lambda tx, at, n: tx.purge.sent_messages(at.sent, limit=n),
    "outbox_failed": lambda tx, at, n: tx.purge.failed_messages(at.failed, limit=n),
    "pending_factors": lambda tx, at, n: tx.factors.purge_pending(at.pending_factors, limit=n),
}
TABLES = tuple(PURGES)


class Housekeeper:
    """The purge of expired rows and old notifications: one batch (`purge_batch`), every
    batch (`purge_expired`), or forever in the background (`running`)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        interval_s: float,
        batch_size: int,
        retention: Retention | None = None,
        pause: Pause = asyncio.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self.interval_s = interval_s
        self.batch_size = max(1, batch_size)
        self.retention = retention or Retention()
        self._pause = pause

    async def purge_batch(self, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
        """At most `batch_size` expired rows of each table, one write transaction each."""
        removed: dict[str, int] = {}
        for name in tables:
            async with self._store.transaction() as tx:
                cutoffs = self.retention.cutoffs(self._clock.now())
                removed[name] = await PURGES[name](tx, cutoffs, self.batch_size)
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
