"""The password-hash queue is bounded: when every slot is busy and the queue is full, a sign-in
is refused at once (503 with Retry-After on the pages, a message in the console)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.test_login_pages import login_client, services_of, sign_in
from tests.tui_fixtures import SIZE, error_messages, opened_store, text
from tests.tui_fixtures import sign_in as tui_sign_in
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher
from zitui.errors import Overloaded
from zitui.screens import make_app
from zitui.screens.login import LoginScreen

CHEAP = Argon2Profile(memory_kib=1024, time_cost=1)


class HeldHashes:
    """argon2 hashes that wait in their worker thread until `release`; nothing is timed.
    Installed once the store is open: the first run hashes the administrator's password."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.released = threading.Event()
        self.passwords: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = argon2.PasswordHasher.hash

        def held(hasher: argon2.PasswordHasher, password: str | bytes, **kw: Any) -> str:
            self.passwords.append(str(password))
            self.started.release()
            self.released.wait()
            return real(hasher, password, **kw)

        monkeypatch.setattr(argon2.PasswordHasher, "hash", held)

    async def fill(self, hasher: PasswordHasher, *, slots: int, waiting: int) -> list[Any]:
        """Every slot busy in its thread, and `waiting` callers queued behind them."""
        running = [asyncio.create_task(hasher.hash(f"slot-{i}")) for i in range(slots)]
        for _ in range(slots):
            await asyncio.to_thread(self.started.acquire)
        queued = [asyncio.create_task(hasher.hash(f"queued-{i}")) for i in range(waiting)]
        await asyncio.sleep(0)  # one turn of the loop: each queued task reaches the semaphore
        assert hasher.waiting == waiting
        return running + queued

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def held() -> Iterator[HeldHashes]:
    held = HeldHashes()
    try:
        yield held
    finally:
        held.release()  # never leave a worker thread waiting


async def test_a_full_queue_refuses_at_once_without_hashing(
    held: HeldHashes, monkeypatch: pytest.MonkeyPatch
) -> None:
    held.install(monkeypatch)
    hasher = PasswordHasher(CHEAP, max_concurrency=2, max_waiting=3)
    tasks = await held.fill(hasher, slots=2, waiting=3)

    for attempt in (hasher.hash("one too many"), hasher.verify(None, "unknown user")):
        with pytest.raises(Overloaded) as refused:
            await attempt
        assert refused.value.code == "password.busy"
        assert refused.value.retry_after >= 1
    assert len(held.passwords) == 2  # the refusals computed nothing

    held.release()
    hashes = await asyncio.gather(*tasks)
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert hasher.waiting == 0
    assert await hasher.verify(await hasher.hash("after"), "after")


async def test_the_queue_defaults_to_eight_waiters_a_slot(
    held: HeldHashes, monkeypatch: pytest.MonkeyPatch
) -> None:
    held.install(monkeypatch)
    hasher = PasswordHasher(CHEAP, max_concurrency=1)
    tasks = await held.fill(hasher, slots=1, waiting=8)
    with pytest.raises(Overloaded):
        await hasher.hash("ninth")
    held.release()
    await asyncio.gather(*tasks)


def test_settings_give_the_queue_its_size(tmp_path: Path) -> None:
    assert make_settings(tmp_path, hash_concurrency=3).hash_waiters == 24
    assert make_settings(tmp_path, hash_concurrency=3, hash_queue=5).hash_waiters == 5


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    settings = make_settings(settings.data_dir, hash_concurrency=1, hash_queue=1)
    with login_client(settings, clock, monkeypatch) as client:
        yield client


def test_the_password_page_answers_503_with_retry_after(
    client: TestClient, held: HeldHashes, monkeypatch: pytest.MonkeyPatch
) -> None:
    held.install(monkeypatch)
    hasher = services_of(client).hasher
    assert client.portal is not None
    tasks = client.portal.call(lambda: held.fill(hasher, slots=1, waiting=1))

    refused = sign_in(client, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert "busy checking passwords" in refused.text

    held.release()
    client.portal.call(lambda: asyncio.gather(*tasks))
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 303


async def test_the_console_says_the_server_is_busy(
    tmp_path: Path, held: HeldHashes, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with opened_store(tmp_path / "data", hash_concurrency=1, hash_queue=1) as (services, _):
        held.install(monkeypatch)
        tasks = await held.fill(services.hasher, slots=1, waiting=1)
        app = make_app(services)
        async with app.run_test(size=SIZE) as pilot:
            await tui_sign_in(pilot, "admin", ADMIN_PASSWORD)
            assert isinstance(app.screen, LoginScreen)
            message = text(app, "#login-message")
            assert "busy" in message and "try again in 1 s" in message
            assert error_messages(app) == [message]
        held.release()
        await asyncio.gather(*tasks)
