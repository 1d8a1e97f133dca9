"""Spent assertion ids (RFC 7523 §3 item 7) on SQLite and PostgreSQL: the primary key refuses a
second use without spoiling the transaction, and an expired id can be spent again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.postgres import temporary_postgres
from zitui.core.clock import FixedClock
from zitui.core.services import open_services
from zitui.store import Store

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SOON = NOW + timedelta(minutes=1)
LATER = NOW + timedelta(minutes=10)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    settings = make_settings(tmp_path / "data", database_url=url)
    services, _ = await open_services(settings, clock=FixedClock(NOW))
    try:
        yield services.store
    finally:
        await services.close()


async def test_an_id_is_spent_once_and_the_transaction_goes_on(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.used_assertions.add("a" * 64, expires_at=LATER, now=NOW)
        assert not await tx.used_assertions.add("a" * 64, expires_at=LATER, now=NOW)
        assert await tx.used_assertions.add("b" * 64, expires_at=LATER, now=NOW)
    async with store.transaction() as tx:
        assert not await tx.used_assertions.add("b" * 64, expires_at=LATER, now=NOW)


async def test_an_expired_id_may_be_spent_again_and_is_purged(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.used_assertions.add("c" * 64, expires_at=LATER, now=NOW)
        after = LATER + timedelta(seconds=1)
        assert await tx.used_assertions.add(
            "c" * 64, expires_at=after + timedelta(hours=1), now=after
        )
        assert not await tx.used_assertions.add("c" * 64, expires_at=after, now=after)
        assert await tx.used_assertions.add("d" * 64, expires_at=SOON, now=NOW)
    async with store.transaction() as tx:
        assert await tx.used_assertions.delete_expired(SOON + timedelta(seconds=1)) == 1
        assert await tx.used_assertions.add("d" * 64, expires_at=SOON, now=NOW)
