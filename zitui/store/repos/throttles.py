"""Attempt counters shared by every process: one `throttles` row per key.

A counter changes only while its row is locked for the transaction: `lock` makes a missing row
(an insert that ignores an existing one) and then reads it `FOR UPDATE` on PostgreSQL. On
SQLite every write transaction holds the database's write lock, so the read is already safe.
Parallel attempts therefore see each other's counts, whichever process they run in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from zitui.records import ThrottleCount
from zitui.store.models import ThrottleRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

THROTTLES = table(ThrottleRow)

_INSERT_MISSING = {
    "sqlite": Prepared(sqlite.insert(THROTTLES).on_conflict_do_nothing(index_elements=["key"])),
    "postgresql": postgresql.insert(THROTTLES).on_conflict_do_nothing(index_elements=["key"]),
}
_SELECT = sa.select(
    THROTTLES.c.key,
    THROTTLES.c.attempts,
    THROTTLES.c.window_started_at,
    THROTTLES.c.blocked_until,
    THROTTLES.c.expires_at,
)
_BY_KEY = Prepared(_SELECT.where(THROTTLES.c.key == sa.bindparam("key")))
_LOCK = Prepared(_SELECT.where(THROTTLES.c.key == sa.bindparam("key")).with_for_update())
_SAVE = Prepared(
    THROTTLES.update()
    .where(THROTTLES.c.key == sa.bindparam("b_key"))
    .values(
        attempts=sa.bindparam("attempts"),
        window_started_at=sa.bindparam("window_started_at"),
        blocked_until=sa.bindparam("blocked_until"),
        expires_at=sa.bindparam("expires_at"),
    )
)
_DELETE = Prepared(THROTTLES.delete().where(THROTTLES.c.key == sa.bindparam("key")))
_RELEASE = Prepared(
    THROTTLES.update()
    .where(THROTTLES.c.key == sa.bindparam("b_key"), THROTTLES.c.attempts > 0)
    .values(
        attempts=THROTTLES.c.attempts - 1,
        blocked_until=sa.case(
            (THROTTLES.c.attempts - 1 < sa.bindparam("limit", type_=sa.Integer), None),
            else_=THROTTLES.c.blocked_until,
        ),
    )
)


def _count(row: Any) -> ThrottleCount:
    return ThrottleCount(
        key=row[0],
        attempts=row[1],
        window_started_at=row[2],
        blocked_until=row[3],
        expires_at=row[4],
    )


class ThrottleRepository(Repository):
    async def lock(self, key: str, *, now: datetime) -> ThrottleCount:
        """The counter of `key`, made empty (no attempts, expired) when missing, and locked
        until the transaction ends."""
        insert = _INSERT_MISSING.get(self.conn.dialect.name, _INSERT_MISSING["postgresql"])
        values = {"key": key, "attempts": 0, "window_started_at": now, "expires_at": now}
        await self.conn.execute(insert, values)
        row = (await self.conn.execute(_LOCK, {"key": key})).first()
        assert row is not None  # inserted above, and only `delete` removes it
        return _count(row)

    async def find(self, key: str) -> ThrottleCount | None:
        row = (await self.conn.execute(_BY_KEY, {"key": key})).first()
        return None if row is None else _count(row)

    async def save(self, count: ThrottleCount) -> None:
        await self.conn.execute(
            _SAVE,
            {
                "b_key": count.key,
                "attempts": count.attempts,
                "window_started_at": count.window_started_at,
                "blocked_until": count.blocked_until,
                "expires_at": count.expires_at,
            },
        )

    async def delete(self, key: str) -> None:
        await self.conn.execute(_DELETE, {"key": key})

    async def release(self, key: str, *, limit: int) -> None:
        """Give back one attempt (one that turned out to be no guess); below `limit` again,
        the counter waits no more."""
        await self.conn.execute(_RELEASE, {"b_key": key, "limit": limit})

    async def delete_expired(self, before: datetime, limit: int) -> int:
        """Remove up to `limit` counters that expired before `before`; returns how many."""
        keys = (
            sa.select(THROTTLES.c.key)
            .where(THROTTLES.c.expires_at < before)
            .order_by(THROTTLES.c.expires_at)
            .limit(limit)
        )
        result = await self.conn.execute(THROTTLES.delete().where(THROTTLES.c.key.in_(keys)))
        return int(result.rowcount or 0)
