"""The purge of expired rows: in batches, in every table that anonymous requests write, and in
the background of a running server; old sent and failed notifications, never pending ones."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa

from tests import oidc_fixtures as fx
from tests.dbfile import rows
from tests.oidc_fixtures import OffsetClock, World
from zitui.config import load_settings
from zitui.core.factors import TotpSetup, time_step
from zitui.core.housekeeping import GRACE, PENDING_FACTOR_AGE, TABLES, Housekeeper, Retention
from zitui.core.notifications.delivery import Delivery, Sender
from zitui.core.services import Services, build_services
from zitui.core.smtp import SmtpSettings
from zitui.errors import InvalidArgument, StoreUnavailable
from zitui.records import User
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
    "user_codes": models.UserCodeRow,
    "outbox_sent": models.OutboxRow,
    "outbox_failed": models.OutboxRow,
    "pending_factors": models.UserFactorRow,
}
SEEDABLE = MODELS | {"auth_codes": models.AuthCodeRow, "outbox": models.OutboxRow}
EXPIRES = {
    "refresh_tokens": "idle_expires_at",
    "outbox_sent": "sent_at",
    "outbox_failed": "next_attempt_at",
    "pending_factors": "created_at",
}
# What each entry of the purge's report counts.
SELECTED = {
    "outbox_sent": "SELECT count(*) FROM outbox WHERE state = 'sent'",
    "outbox_failed": "SELECT count(*) FROM outbox WHERE state = 'failed'",
    "pending_factors": "SELECT count(*) FROM user_factors WHERE state = 'pending'",
}
COUNTED = {name: SELECTED.get(name, f"SELECT count(*) FROM {name}") for name in TABLES}


def cutoff(table: str, now: datetime) -> datetime:
    """The moment before which the purge deletes the rows of `table`."""
    at = Retention().cutoffs(now)
    ends = {"outbox_sent": at.sent, "outbox_failed": at.failed}
    return (ends | {"pending_factors": at.pending_factors}).get(table, at.expired)


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
    """In each table `expired` rows past the grace (or the retention), `live` unexpired ones
    and one that expired within the grace."""
    owners: dict[str, dict[str, Any]] = {
        "auth_requests": {"app_id": world.clients["basic"].app.id},
        "access_tokens": {"user_id": world.alice.id},
        "refresh_tokens": {"user_id": world.alice.id, "app_id": world.clients["basic"].app.id},
        "login_flows": {"auth_request_id": None},
        "user_codes": {"user_id": world.alice.id},
        "outbox_sent": {"state": "sent", "attempts": 1},
        "outbox_failed": {"state": "failed", "attempts": 10},
        "pending_factors": {"user_id": world.alice.id, "state": "pending"},
    }
    for table in TABLES:
        column = EXPIRES.get(table, "expires_at")
        fields = owners.get(table, {})
        end = cutoff(table, now)
        for expiry, count in (
            (end - timedelta(seconds=1), expired),
            (end + timedelta(hours=1), live),
            (end + timedelta(minutes=1), 1),
        ):
            if count:
                await seed(store, table, count, now, **fields, **{column: expiry})


async def counts(store: Store) -> dict[str, int]:
    def count(conn: sa.Connection) -> dict[str, int]:
        return {t: int(conn.scalar(sa.text(COUNTED[t])) or 0) for t in TABLES}

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


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sender(services: Services, *, max_attempts: int) -> Sender:
    return Sender(
        services.store,
        services.master_key,
        services.clock,
        credentials=services.smtp.smtp_credentials,
        mail_dir=services.settings.data_dir / "mail",
        delivery=Delivery(max_attempts=max_attempts),
    )


async def states(services: Services) -> dict[str, str]:
    messages = await services.notifications.list_messages(services.system_context())
    return {message.recipient: message.state for message in messages}


async def test_sent_and_failed_messages_go_after_their_retention_and_pending_ones_stay(
    services: Services, clock: OffsetClock
) -> None:
    system, test_mail = services.system_context(), services.notifications.send_test_mail
    await test_mail(system, "sent@example.org")
    assert await services.sender.deliver_due() == 1  # no SMTP: written as an .eml file
    unreachable = SmtpSettings("127.0.0.1", closed_port(), "zitui@example.com", tls="none")
    await services.smtp.set_smtp(system, unreachable)
    await test_mail(system, "failed@example.org")
    assert await sender(services, max_attempts=1).deliver_due() == 1
    await test_mail(system, "waiting@example.org")
    assert await sender(services, max_attempts=5).deliver_due() == 1
    await test_mail(system, "fresh@example.org")
    assert await states(services) == {
        "sent@example.org": "sent",
        "failed@example.org": "failed",
        "waiting@example.org": "pending",
        "fresh@example.org": "pending",
    }
    keeper = housekeeper(services, batch_size=500)

    clock.advance(timedelta(days=30) - timedelta(minutes=1))
    removed = await keeper.purge_expired()
    assert (removed["outbox_sent"], removed["outbox_failed"]) == (0, 0)
    clock.advance(timedelta(minutes=2))
    removed = await keeper.purge_expired()
    assert (removed["outbox_sent"], removed["outbox_failed"]) == (1, 0)
    assert "sent@example.org" not in await states(services)

    clock.advance(timedelta(days=59))
    assert (await keeper.purge_expired())["outbox_failed"] == 0
    clock.advance(timedelta(days=1))
    assert (await keeper.purge_expired())["outbox_failed"] == 1

    clock.advance(timedelta(days=3650))
    assert await keeper.purge_expired() == dict.fromkeys(TABLES, 0)
    assert await states(services) == {
        "waiting@example.org": "pending",
        "fresh@example.org": "pending",
    }


async def test_the_server_purges_with_the_retention_of_its_settings(
    services: Services, clock: OffsetClock
) -> None:
    settings = replace(services.settings, outbox_keep_sent_days=2, outbox_keep_failed_days=5)
    keeper = build_services(settings, services.store, services.master_key, clock).housekeeping
    assert keeper.retention == Retention(sent=timedelta(days=2), failed=timedelta(days=5))
    await services.notifications.send_test_mail(services.system_context(), "ann@example.org")
    await services.sender.deliver_due()
    clock.advance(timedelta(days=2, minutes=1))
    assert (await keeper.purge_expired())["outbox_sent"] == 1
    assert await states(services) == {}


def test_the_outbox_retention_is_a_setting() -> None:
    defaults = Retention.from_settings(load_settings(environ={}))
    assert defaults == Retention(sent=timedelta(days=30), failed=timedelta(days=90))
    environ = {"ZITUI_OUTBOX_KEEP_SENT_DAYS": "7", "ZITUI_OUTBOX_KEEP_FAILED_DAYS": "365"}
    retention = Retention.from_settings(load_settings(environ=environ))
    assert retention == Retention(sent=timedelta(days=7), failed=timedelta(days=365))
    for name in ("ZITUI_OUTBOX_KEEP_SENT_DAYS", "ZITUI_OUTBOX_KEEP_FAILED_DAYS"):
        with pytest.raises(InvalidArgument):
            load_settings(environ={name: "0"})


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


async def start_totp(services: Services, world: World, user: User) -> TotpSetup:
    async with services.store.transaction() as tx:
        return await services.factors.start_totp(tx, world.admin, user, issuer="Acme")


def factor_states(services: Services) -> dict[str, str]:
    found = rows(services.settings.data_dir, "SELECT id, state FROM user_factors")
    return {str(factor_id): str(state) for factor_id, state in found}


async def test_a_totp_set_up_never_confirmed_goes_after_a_day_and_ready_ones_stay(
    services: Services, world: World, clock: OffsetClock
) -> None:
    abandoned = await start_totp(services, world, world.alice)
    confirmed = await start_totp(services, world, world.bob)
    code = pyotp.TOTP(confirmed.secret).generate_otp(time_step(clock.now()))
    async with services.store.transaction() as tx:
        assert await services.factors.confirm_totp(
            tx, world.admin, world.bob, confirmed.factor_id, code
        )
    keeper = housekeeper(services, batch_size=500)

    clock.advance(PENDING_FACTOR_AGE - timedelta(minutes=1))
    fresh = await start_totp(services, world, world.bob)  # begun a day after the first
    assert (await keeper.purge_expired())["pending_factors"] == 0
    assert factor_states(services) == {
        abandoned.factor_id: "pending",
        confirmed.factor_id: "ready",
        fresh.factor_id: "pending",
    }

    clock.advance(timedelta(minutes=2))
    assert (await keeper.purge_expired())["pending_factors"] == 1
    assert factor_states(services) == {
        confirmed.factor_id: "ready",
        fresh.factor_id: "pending",
    }
    async with services.store.reader() as tx:
        [ready] = await services.factors.ready_factors(tx, world.bob.id)
    assert ready.id == confirmed.factor_id
