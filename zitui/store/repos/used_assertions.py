"""Spent assertion ids (RFC 7523 §3 item 7): one row per `jti` until its assertion expires."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.store.models import UsedAssertionRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

USED = table(UsedAssertionRow)

_INSERT = Prepared(USED.insert())
_RENEW_EXPIRED = Prepared(
    USED.update()
    .where(
        USED.c.jti_digest == sa.bindparam("b_digest"), USED.c.expires_at <= sa.bindparam("b_now")
    )
    .values(expires_at=sa.bindparam("b_expires_at", type_=USED.c.expires_at.type))
)


class UsedAssertionRepository(Repository):
    async def add(self, digest: str, *, expires_at: datetime, now: datetime) -> bool:
        """Mark an assertion id used; False when it is in use already.

        One insert: the primary key refuses a second use, also from a concurrent request.
        Only then is the row looked at again, in case it has expired and awaits its purge.
        """
        values = {"jti_digest": digest, "expires_at": expires_at}
        try:
            if self.conn.dialect.name == "sqlite":
                # A failed statement leaves a SQLite transaction usable: no savepoint needed.
                await self.conn.execute(_INSERT, values)
            else:
                async with self.conn.begin_nested():
                    await self.conn.execute(_INSERT, values)
        except sa_exc.IntegrityError:
            renewed = await self.conn.execute(
                _RENEW_EXPIRED, {"b_digest": digest, "b_now": now, "b_expires_at": expires_at}
            )
            return renewed.rowcount == 1
        return True

    async def delete_expired(self, before: datetime) -> int:
        """Remove the ids of assertions expired before `before`; how many went."""
        result = await self.conn.execute(USED.delete().where(USED.c.expires_at < before))
        return result.rowcount
