"""Audit events: each command appends exactly one, inside its own transaction."""

from __future__ import annotations

from typing import Any

from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.sign_in_metrics import note_check
from zitui.records import Event
from zitui.store import Repositories


async def record(
    tx: Repositories,
    ctx: Context,
    event_type: str,
    *,
    aggregate: tuple[str, str],
    org_id: str | None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Append an event for the change made in `tx`; it commits or rolls back with it."""
    aggregate_type, aggregate_id = aggregate
    event = Event(
        id=new_id(),
        created_at=ctx.now(),
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        org_id=org_id,
        actor_id=ctx.actor_id,
        payload=payload or {},
    )
    await tx.events.append(event, request_ip=ctx.request.ip, user_agent=ctx.request.user_agent)
    note_check(tx, event_type, event.payload)
    return event
