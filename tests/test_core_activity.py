"""The console's activity figures, on SQLite and PostgreSQL: sign-ins per minute (each in the
minute it happened, only first-factor sign-ins), the outbox's state, and who may read them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from tests.test_core_orgs import sign_in_org_owner
from zitui.core.activity import CHART_MINUTES, OutboxState
from zitui.core.audit import record
from zitui.core.clock import FixedClock
from zitui.core.context import RequestMeta
from zitui.core.services import Services, open_services
from zitui.errors import PermissionDenied, Unauthenticated


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> AsyncIterator[Services]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
    services, _ = await open_services(make_settings(tmp_path, database_url=url), clock=clock)
    try:
        yield services
    finally:
        await services.close()


async def sign_in(services: Services, password: str = ADMIN_PASSWORD) -> None:
    await services.auth.login_operator("admin", password, RequestMeta())


async def test_sign_ins_fall_in_the_minute_they_happened(
    backend: Services, clock: FixedClock
) -> None:
    services = backend
    admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
    clock.advance(timedelta(minutes=3, seconds=1))  # 09:03:01
    await sign_in(services)
    await sign_in(services)
    with pytest.raises(Unauthenticated):
        await sign_in(services, "a wrong password")
    # A second factor's success is no second sign-in; other events are not sign-ins at all.
    async with services.store.transaction() as tx:
        for event_type in ("user.human.mfa.otp.check.succeeded", "org.added"):
            await record(tx, admin, event_type, aggregate=("user", "u"), org_id=None)
    clock.advance(timedelta(seconds=30))  # 09:03:31, in the minute of the last two

    chart = await services.activity.sign_ins_per_minute(admin)
    assert len(chart) == CHART_MINUTES
    assert chart[-1] == 2 and chart[-4] == 1 and sum(chart) == 3

    clock.advance(timedelta(minutes=27))  # 09:30:31: the chart starts at 09:01
    later = await services.activity.sign_ins_per_minute(admin)
    assert later[2] == 2 and sum(later) == 2


async def test_the_outbox_state_counts_waiting_and_failed_messages(backend: Services) -> None:
    services = backend
    admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
    assert await services.activity.outbox_state(admin) == OutboxState(pending=0, failed=0)
    sent = await services.notifications.send_test_mail(admin, "a@example.com")
    failed = await services.notifications.send_test_mail(admin, "b@example.com")
    await services.notifications.send_test_mail(admin, "c@example.com")
    async with services.store.transaction() as tx:
        await tx.outbox.mark_sent(sent, at=services.clock.now())
        await tx.outbox.mark_failed(failed, at=services.clock.now(), error="refused")
    assert await services.activity.outbox_state(admin) == OutboxState(pending=1, failed=1)


async def test_only_instance_managers_read_the_activity(services: Services, admin) -> None:
    owner = await sign_in_org_owner(services, admin, "Acme")
    with pytest.raises(PermissionDenied):
        await services.activity.sign_ins_per_minute(owner)
    with pytest.raises(PermissionDenied):
        await services.activity.outbox_state(owner)


async def test_readiness_on_postgres(postgres_url: str, tmp_path: Path, clock: FixedClock) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url)
    services, _ = await open_services(settings, clock=clock)
    try:
        assert await services.instance.readiness() is None
    finally:
        await services.close()
