"""Deleting expired rows a batch at a time, for the housekeeping task.

Each delete is `DELETE … WHERE key IN (SELECT key … WHERE <expired> LIMIT n)`: the same on
SQLite and PostgreSQL, and a batch holds the write lock only as long as n rows take. The
subqueries use the tables' `expires_at` indexes; the outbox's use its state index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.store.models import (
    AccessTokenRow,
    AuthCodeRow,
    AuthRequestRow,
    LoginFlowRow,
    OutboxRow,
    RefreshTokenRow,
    ThrottleRow,
    UsedAssertionRow,
    UserCodeRow,
)
from zitui.store.repos.base import Repository, table
from zitui.store.repos.outbox import FAILED, SENT

AUTH_REQUESTS = table(AuthRequestRow)
CODES = table(AuthCodeRow)
ACCESS = table(AccessTokenRow)
REFRESH = table(RefreshTokenRow)
FLOWS = table(LoginFlowRow)
THROTTLES = table(ThrottleRow)
ASSERTIONS = table(UsedAssertionRow)
OUTBOX = table(OutboxRow)
USER_CODES = table(UserCodeRow)


class PurgeRepository(Repository):
    async def auth_requests(self, before: datetime, *, now: datetime, limit: int) -> int:
        """Requests that ended before `before` and hold no code still redeemable at `now`;
        their codes and login flows go with them (foreign keys, ON DELETE CASCADE)."""
        live_code = sa.exists().where(
            CODES.c.auth_request_id == AUTH_REQUESTS.c.id, CODES.c.expires_at > now
        )
        return await self._delete(
            AUTH_REQUESTS.c.id, sa.and_(AUTH_REQUESTS.c.expires_at <= before, ~live_code), limit
        )

    async def access_tokens(self, before: datetime, *, limit: int) -> int:
        return await self._delete(ACCESS.c.id, ACCESS.c.expires_at <= before, limit)

    async def refresh_tokens(self, before: datetime, *, limit: int) -> int:
        expired = sa.or_(
            REFRESH.c.absolute_expires_at <= before, REFRESH.c.idle_expires_at <= before
        )
        return await self._delete(REFRESH.c.id, expired, limit)

    async def login_flows(self, before: datetime, *, limit: int) -> int:
        return await self._delete(FLOWS.c.id, FLOWS.c.expires_at <= before, limit)

    async def throttles(self, before: datetime, *, limit: int) -> int:
        return await self._delete(THROTTLES.c.key, THROTTLES.c.expires_at <= before, limit)

    async def used_assertions(self, before: datetime, *, limit: int) -> int:
        return await self._delete(ASSERTIONS.c.jti_digest, ASSERTIONS.c.expires_at <= before, limit)

    async def user_codes(self, before: datetime, *, limit: int) -> int:
        """Codes sent to users that expired unused (keyed by user and purpose)."""
        key = sa.tuple_(USER_CODES.c.user_id, USER_CODES.c.purpose)
        batch = (
            sa.select(USER_CODES.c.user_id, USER_CODES.c.purpose)
            .where(USER_CODES.c.expires_at <= before)
            .limit(limit)
        )
        result = await self.conn.execute(USER_CODES.delete().where(key.in_(batch)))
        return int(result.rowcount or 0)

    async def sent_messages(self, before: datetime, *, limit: int) -> int:
        """Outbox messages delivered before `before`."""
        sent = sa.and_(OUTBOX.c.state == SENT, OUTBOX.c.sent_at <= before)
        return await self._delete(OUTBOX.c.id, sent, limit)

    async def failed_messages(self, before: datetime, *, limit: int) -> int:
        """Outbox messages that failed for good before `before` (a failed message's
        `next_attempt_at` is when its last attempt failed)."""
        failed = sa.and_(OUTBOX.c.state == FAILED, OUTBOX.c.next_attempt_at <= before)
        return await self._delete(OUTBOX.c.id, failed, limit)

    async def _delete(
        self, key: sa.Column[Any], expired: sa.ColumnElement[bool], limit: int
    ) -> int:
        batch = sa.select(key).where(expired).limit(limit)
        result = await self.conn.execute(key.table.delete().where(key.in_(batch)))
        return int(result.rowcount or 0)
