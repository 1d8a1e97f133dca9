"""What the console's home screen shows of the instance's life: sign-ins per minute and the
outbox's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from zitui.core.authz import Authorizer
from zitui.core.clock import Clock
from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.sign_in_metrics import SIGN_IN_EVENTS
from zitui.store import Store

# The home screen's chart: one bar a minute over the last half hour.
CHART_MINUTES = 30


@dataclass(frozen=True)
class OutboxState:
    pending: int
    failed: int


class ActivityService:
    """What the console's home screen shows of the instance's life."""

    def __init__(self, store: Store, authz: Authorizer, clock: Clock) -> None:
        self._store = store
        self._authz = authz
        self._clock = clock

    async def sign_ins_per_minute(self, ctx: Context, *, minutes: int = CHART_MINUTES) -> list[int]:
        """Sign-ins in each of the last `minutes` whole minutes and the current one, oldest
        first; for instance managers (`iam.read`)."""
        await self._authz.require(ctx, "iam.read", Resource.instance())
        minutes = max(1, min(minutes, 24 * 60))
        now = self._clock.now()
        this_minute = now.replace(second=0, microsecond=0)
        since = this_minute - timedelta(minutes=minutes - 1)
        async with self._store.scan() as tx:
            counts = await tx.events.count_per_interval(
                SIGN_IN_EVENTS, since=since, step=timedelta(minutes=1), intervals=minutes
            )
        return list(counts)

    async def outbox_state(self, ctx: Context) -> OutboxState:
        """Messages waiting to be sent and those that failed; for instance managers."""
        await self._authz.require(ctx, "iam.read", Resource.instance())
        return await self.count_outbox()

    async def count_outbox(self) -> OutboxState:
        """The same figures without an actor, for the metrics scrape (its token is the check)."""
        async with self._store.reader() as tx:
            counts = await tx.outbox.count_unsent()
        return OutboxState(pending=counts["pending"], failed=counts["failed"])
