"""The purge and the pending cap on PostgreSQL: the same statements, no SQLite-only SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests import oidc_fixtures as fx
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from tests.test_core_housekeeping import counts, seed_every_table
from zitui.core.context import RequestMeta
from zitui.core.housekeeping import TABLES, Housekeeper
from zitui.core.services import Services, open_services

clock = fx.clock


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


@pytest.fixture
async def services(
    postgres_url: str, tmp_path: Path, clock: fx.OffsetClock
) -> AsyncIterator[Services]:
    settings = make_settings(
        tmp_path, database_url=postgres_url, pending_auth_requests_per_address=2
    )
    services, _ = await open_services(settings, clock=clock)
    try:
        yield services
    finally:
        await services.close()


async def test_expired_rows_go_in_batches_and_the_cap_holds_on_postgres(
    services: Services, clock: fx.OffsetClock
) -> None:
    login = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
    world = await fx.build_world(services, login.context)
    before = await counts(services.store)
    await seed_every_table(services.store, world, clock.now(), expired=3, live=1)
    keeper = Housekeeper(services.store, services.clock, interval_s=60, batch_size=2)
    assert await keeper.purge_expired() == dict.fromkeys(TABLES, 3)
    assert await counts(services.store) == {t: n + 2 for t, n in before.items()}

    harness = fx.Harness(services)
    try:
        params = fx.authorize_params(world.clients["basic"])
        for _ in range(2):
            fx.login_redirect_id(await harness.authorize(params))
        refused = await harness.authorize(params)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 3500
    finally:
        await harness.close()
