"""The purge of expired rows: in batches, in every table that anonymous requests write, and in
the background of a running server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests import oidc_fixtures as fx
from tests.dbfile import rows
from tests.oidc_fixtures import OffsetClock, World
from zitui.config import load_settings
from zitui.core.housekeeping import GRACE, TABLES, Housekeeper
from zitui.core.services import Services
from zitui.errors import InvalidArgument, StoreUnavailable
from zitui.server.app import create_app
from zitui.store import Store, models
from zitui.store.types import UTCDateTime

clock, world = fx.clock, fx.world

MODELS: dict[str, Any] = {
    "auth_requests": models.AuthRequestRow,
    "access_tokens": models.AccessTokenRow,
    "refresh_tokens": models.RefreshTokenRow,
    "login_flows": models.LoginFlowRow,
    "throttles": models.ThrottleRow,
    "used_assertions": models.UsedAssertionRow,
}
SEEDABLE = MODELS | {"auth_codes": models.AuthCodeRow}
EXPIRES = {"refresh_tokens": "idle_expires_at"}


def _default(column: sa.Column[Any], now: datetime) -> Any:
    if column.nullable and not column.primary_key:
        return None
    if isinstance(column.type, sa.JSON):
        return []
    if isinstance(column.type, sa.Integer | sa.Boolean):
        return 0
    if isinstance(column.type, UTCDateTime):
        return now + timedelta(days=400)
    return uuid.uuid4().hex[: min(16, getattr(column.type, "length", None) or 16)]


async def seed(store: Store, table: str, count: int, now: datetime, **values: Any) -> list[str]:
    """Rows written as zitui writes them (its column types), the rest filled with defaults."""
    model_table: sa.Table = SEEDABLE[table].__table__
    key = next(iter(model_table.primary_key.columns)).name
    batch = [
        {c.name: values[c.name] if c.name in values else _default(c, now) for c in model_table.c}
        for _ in range(count)
    ]
    await store.run_sync(lambda conn: conn.execute(model_table.insert(), batch), write=True)
    return [row[key] for row in batch]


async def seed_every_table(
    store: Store, world: World, now: datetime, *, expired: int, live: int
) -> None:
    """In each table `expired` rows past the grace, `live` unexpired ones and one that
    expired within the grace."""
    owners: dict[str, dict[str, Any]] = {
        "auth_requests": {"app_id": world.clients["basic"].app.id},
        "access_tokens": {"user_id": world.alice.id},
        "refresh_tokens": {"user_id": world.alice.id, "app_id": world.clients["basic"].app.id},
        "login_flows": {"auth_request_id": None},
    }
    for table in TABLES:
        column = EXPIRES.get(table, "expires_at")
        fields = owners.get(table, {})
        for expiry, count in (
            (now - GRACE - timedelta(seconds=1), expired),
            (now + timedelta(hours=1), live),
            (now - GRACE + timedelta(minutes=1), 1),
        ):
            if count:
                await seed(store, table, count, now, **fields, **{column: expiry})


async def counts(store: Store) -> dict[str, int]:
    def count(conn: sa.Connection) -> dict[str, int]:
        return {t: int(conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}

    return await store.run_sync(count)


def housekeeper(services: Services, **kwargs: Any) -> Housekeeper:
    options: dict[str, Any] = {"interval_s": 60, "batch_size": 2} | kwargs
    return Housekeeper(services.store, services.clock, **options)


async def test_a_batch_takes_at_most_batch_size_rows_of_each_table(
    services: Services, world: World, clock: OffsetClock
) -> None:
    await seed_every_table(services.store, world, clock.now(), expired=5, live=2)
    before = await counts(services.store)
    keeper = housekeeper(services, batch_size=2)

    assert await keeper.purge_batch() == dict.fromkeys(TABLES, 2)
    assert await counts(services.store) == {t: n - 2 for t, n in before.items()}

    assert await keeper.purge_expired() == dict.fromkeys(TABLES, 3)
    assert await counts(services.store) == {t: n - 5 for t, n in before.items()}
    assert await keeper.purge_expired() == dict.fromkeys(TABLES, 0)


async def test_an_expired_request_stays_while_its_code_can_be_redeemed(
    services: Services, world: World, clock: OffsetClock
) -> None:
    settings, now = services.settings, clock.now()
    old = now - GRACE - timedelta(seconds=1)
    app = {"app_id": world.clients["basic"].app.id, "expires_at": old}
    store = services.store
    redeemable, spent = await seed(store, "auth_requests", 2, now, **app)
    await seed(store, "login_flows", 1, now, auth_request_id=spent)
    await seed(store, "auth_codes", 1, now, auth_request_id=redeemable, expires_at=now + GRACE)
    await seed(store, "auth_codes", 1, now, auth_request_id=spent, expires_at=old)

    removed = await housekeeper(services).purge_expired()

    assert removed["auth_requests"] == 1
    assert rows(settings.data_dir, "SELECT id FROM auth_requests") == [(redeemable,)]
    assert rows(settings.data_dir, "SELECT auth_request_id FROM auth_codes") == [(redeemable,)]
    flows = "SELECT count(*) FROM login_flows WHERE auth_request_id = ?"
    assert rows(settings.data_dir, flows, spent) == [(0,)]


class Ticks:
    """The housekeeper's pause, moved on by the test instead of by time."""

    def __init__(self) -> None:
        self.asked: asyncio.Queue[float] = asyncio.Queue()
        self._go: asyncio.Queue[None] = asyncio.Queue()

    async def pause(self, seconds: float) -> None:
        self.asked.put_nowait(seconds)
        await self._go.get()

    async def tick(self) -> float:
        """Let one round run; returns once the next pause has begun."""
        self._go.put_nowait(None)
        return await self.asked.get()


class Lifespan:
    """The ASGI lifespan protocol, as uvicorn drives it."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _send(self, message: dict[str, str]) -> None:
        await self._outbox.put(message)

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self._app(scope, self._inbox.get, self._send))
        await self._inbox.put({"type": "lifespan.startup"})
        assert (await self._outbox.get())["type"] == "lifespan.startup.complete"

    async def stop(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        assert (await self._outbox.get())["type"] == "lifespan.shutdown.complete"
        assert self._task is not None
        await self._task


async def test_the_server_purges_in_the_background_until_it_shuts_down(
    services: Services, world: World, clock: OffsetClock
) -> None:
    ticks = Ticks()
    services.housekeeping = housekeeper(services, interval_s=30, batch_size=2, pause=ticks.pause)
    lifespan = Lifespan(create_app(services.settings, services))
    await lifespan.start()
    try:
        assert await ticks.asked.get() == 30  # started, waiting for its first round
        before = await counts(services.store)
        await seed_every_table(services.store, world, clock.now(), expired=3, live=1)
        assert await ticks.tick() == 30
        assert await counts(services.store) == {t: n + 2 for t, n in before.items()}

        clock.advance(timedelta(days=2))  # everything seeded (and the sign-in's flow) expires
        await ticks.tick()
        assert await counts(services.store) == dict.fromkeys(TABLES, 0)
    finally:
        await lifespan.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "zitui-housekeeping"]


async def test_a_failed_round_is_logged_and_the_next_one_runs(
    services: Services, world: World, clock: OffsetClock, caplog: pytest.LogCaptureFixture
) -> None:
    ticks = Ticks()
    keeper = housekeeper(services, pause=ticks.pause)
    real, calls = keeper.purge_expired, list[int]()

    async def locked_once() -> dict[str, int]:
        calls.append(len(calls))
        if len(calls) == 1:
            raise StoreUnavailable("store.locked", "the database is locked by another program")
        return await real()

    keeper.purge_expired = locked_once  # type: ignore[method-assign]
    await seed_every_table(services.store, world, clock.now(), expired=1, live=0)
    async with keeper.running() as task:
        await ticks.asked.get()
        await ticks.tick()
        assert "the database is locked" in caplog.text
        await ticks.tick()
        assert calls == [0, 1] and not task.done()
    assert task.cancelled()
    assert (await counts(services.store))["throttles"] == 1  # the one within the grace


def test_the_purge_and_the_caps_are_settings() -> None:
    environ = {"ZITUI_PURGE_INTERVAL_S": "5", "ZITUI_PURGE_BATCH_SIZE": "50"}
    environ |= {"ZITUI_PENDING_AUTH_REQUESTS_PER_ADDRESS": "0", "ZITUI_HASH_QUEUE": "3"}
    settings = load_settings(environ=environ)
    assert (settings.purge_interval_s, settings.purge_batch_size) == (5, 50)
    assert (settings.pending_auth_requests_per_address, settings.hash_waiters) == (0, 3)
    for name, value in (
        ("ZITUI_PURGE_INTERVAL_S", "0"),
        ("ZITUI_PURGE_BATCH_SIZE", "0"),
        ("ZITUI_PENDING_AUTH_REQUESTS_PER_ADDRESS", "-1"),
        ("ZITUI_HASH_QUEUE", "-1"),
    ):
        with pytest.raises(InvalidArgument):
            load_settings(environ={name: value})
