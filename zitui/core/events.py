"""The audit log as managers read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from zitui.core import validation
from zitui.core.context import Context
from zitui.errors import InvalidArgument
from zitui.records import Event, Page
from zitui.store import EventFilter, Store


@dataclass(frozen=True)
class EventQuery:
    org_id: str | None = None
    actor_id: str | None = None
    event_type: str | None = None
    aggregate_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class EventService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_events(
        self, ctx: Context, query: EventQuery, *, offset: int = 0, limit: int = 50
    ) -> Page[Event]:
        """Newest first; only events of organisations where the actor holds `events.read`."""
        offset, limit = validation.page(offset, limit)
        if query.since and query.until and query.since >= query.until:
            raise InvalidArgument(
                "events.range", "the start must lie before the end", field="since"
            )
        scope = ctx.org_scope("events.read")
        if query.org_id is not None:
            scope = (
                frozenset({query.org_id}) if scope is None or query.org_id in scope else frozenset()
            )
        if scope is not None and not scope:
            return Page(items=(), total=0, offset=offset, limit=limit)
        where = EventFilter(
            org_ids=scope,
            actor_id=query.actor_id or None,
            event_type=query.event_type or None,
            aggregate_id=query.aggregate_id or None,
            since=query.since,
            until=query.until,
        )
        async with self._store.scan() as tx:
            items, total = await tx.events.list(where, offset=offset, limit=limit)
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)
