"""The notification outbox: messages written with the change that causes them, then claimed,
delivered and marked by the sender. Bodies arrive here already encrypted by the core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.store.models import OutboxRow
from zitui.store.repos.base import Repository, table

OUTBOX = table(OutboxRow)
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"

_SUMMARY = (
    OUTBOX.c.id,
    OUTBOX.c.kind,
    OUTBOX.c.channel,
    OUTBOX.c.recipient,
    OUTBOX.c.subject,
    OUTBOX.c.language,
    OUTBOX.c.state,
    OUTBOX.c.attempts,
    OUTBOX.c.next_attempt_at,
    OUTBOX.c.last_error,
    OUTBOX.c.created_at,
    OUTBOX.c.sent_at,
    OUTBOX.c.user_id,
    OUTBOX.c.org_id,
)


@dataclass(frozen=True)
class OutboxEntry:
    """A message as operators see it: everything but the bodies."""

    id: str
    kind: str
    channel: str
    recipient: str
    subject: str
    language: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    user_id: str | None
    org_id: str | None


@dataclass(frozen=True)
class ClaimedMessage:
    """A message claimed for one delivery attempt, bodies still encrypted."""

    entry: OutboxEntry
    text_enc: str
    html_enc: str


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(**{column.name: row[column.name] for column in _SUMMARY})


class OutboxRepository(Repository):
    async def add(self, values: dict[str, Any]) -> None:
        await self.conn.execute(OUTBOX.insert(), values)

    async def any_due(self, now: datetime) -> bool:
        """Whether a message waits to be sent (one read on the state index)."""
        due = sa.and_(OUTBOX.c.state.in_((PENDING, SENDING)), OUTBOX.c.next_attempt_at <= now)
        return bool(await self.conn.scalar(sa.select(sa.exists().where(due))))

    async def claim_due(
        self, now: datetime, *, lease_until: datetime, limit: int
    ) -> list[ClaimedMessage]:
        """Up to `limit` due messages, each marked `sending` until `lease_until` with one more
        attempt counted. A `sending` message whose lease ran out (its process died) is due
        again. The conditional update keeps two processes from claiming one message."""
        due = sa.and_(OUTBOX.c.state.in_((PENDING, SENDING)), OUTBOX.c.next_attempt_at <= now)
        query = (
            sa.select(*_SUMMARY, OUTBOX.c.text_enc, OUTBOX.c.html_enc)
            .where(due)
            .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
            .limit(limit)
        )
        rows = (await self.conn.execute(query)).mappings().all()
        claimed: list[ClaimedMessage] = []
        for row in rows:
            result = await self.conn.execute(
                OUTBOX.update()
                .where(OUTBOX.c.id == row["id"], due)
                .values(state=SENDING, attempts=OUTBOX.c.attempts + 1, next_attempt_at=lease_until)
            )
            if result.rowcount != 1:
                continue
            values = dict(row) | {
                "state": SENDING,
                "attempts": row["attempts"] + 1,
                "next_attempt_at": lease_until,
            }
            claimed.append(
                ClaimedMessage(_entry(values), text_enc=row["text_enc"], html_enc=row["html_enc"])
            )
        return claimed

    async def mark_sent(self, message_id: str, *, at: datetime) -> None:
        await self._set(message_id, state=SENT, sent_at=at, last_error="")

    async def mark_waiting(self, message_id: str, *, until: datetime, error: str) -> None:
        await self._set(message_id, state=PENDING, next_attempt_at=until, last_error=error[:400])

    async def mark_failed(self, message_id: str, *, at: datetime, error: str) -> None:
        await self._set(message_id, state=FAILED, next_attempt_at=at, last_error=error[:400])

    async def find(self, message_id: str) -> OutboxEntry | None:
        query = sa.select(*_SUMMARY).where(OUTBOX.c.id == message_id)
        row = (await self.conn.execute(query)).mappings().first()
        return _entry(row) if row is not None else None

    async def requeue(self, message_id: str, *, at: datetime) -> None:
        """Due now, with its attempts counted afresh."""
        await self._set(message_id, state=PENDING, attempts=0, next_attempt_at=at)

    async def count_unsent(self) -> dict[str, int]:
        """How many messages are pending (sending included) and failed; one read on the
        state index, which never touches the sent messages."""
        query = (
            sa.select(OUTBOX.c.state, sa.func.count())
            .where(OUTBOX.c.state.in_((PENDING, SENDING, FAILED)))
            .group_by(OUTBOX.c.state)
        )
        counts = {PENDING: 0, FAILED: 0}
        for state, count in (await self.conn.execute(query)).all():
            key = FAILED if state == FAILED else PENDING
            counts[key] += int(count)
        return counts

    async def list_recent(self, *, limit: int) -> list[OutboxEntry]:
        query = sa.select(*_SUMMARY).order_by(OUTBOX.c.created_at.desc(), OUTBOX.c.id.desc())
        rows = (await self.conn.execute(query.limit(limit))).mappings().all()
        return [_entry(row) for row in rows]

    async def _set(self, message_id: str, **values: Any) -> None:
        await self.conn.execute(OUTBOX.update().where(OUTBOX.c.id == message_id).values(**values))
