"""The home screen's activity: sign-ins per minute as a live sparkline, and the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Sparkline

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import SIZE, error_messages, opened_store, sign_in, text
from zitui.core.activity import CHART_MINUTES
from zitui.core.context import RequestMeta
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import Unauthenticated
from zitui.records import Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.home import HomeScreen

# Each wait for the next refresh ends at this many pauses, so a broken timer fails the test.
MAX_PAUSES = 200


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


def chart(app: ZituiApp) -> list[float]:
    return list(app.screen.query_one("#sign-ins", Sparkline).data or [])


async def refreshed(pilot: Pilot[None], selector: str, expected: str) -> str:
    """Wait, a frame at a time, until the screen's own timer has refreshed `selector`."""
    for _ in range(MAX_PAUSES):
        if expected in text(pilot.app, selector):  # type: ignore[arg-type]
            break
        await pilot.pause(0.02)
    return text(pilot.app, selector)  # type: ignore[arg-type]


async def queue_mails(services: Services) -> None:
    """Two messages waiting, one failed."""
    system = services.system_context()
    for to in ("ops@example.com", "dev@example.com"):
        await services.notifications.send_test_mail(system, to)
    failed = await services.notifications.send_test_mail(system, "old@example.com")
    async with services.store.transaction() as tx:
        await tx.outbox.mark_failed(failed, at=services.clock.now(), error="refused")


async def test_the_chart_counts_sign_ins_and_refreshes_itself(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("zitui.screens.home.ACTIVITY_REFRESH_S", 0.05)
    await queue_mails(services)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        # The operator's own sign-in is the first one.
        assert "1 in 30 min" in await refreshed(pilot, "#sign-ins-text", "1 in 30 min")
        data = chart(app)
        assert len(data) == CHART_MINUTES and sum(data) == 1
        assert text(app, "#outbox") == "Outbox: 2 pending, 1 failed"

        # Two more sign-ins elsewhere (another console, the hosted pages), and a failure.
        for _ in range(2):
            await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
        with pytest.raises(Unauthenticated):
            await services.auth.login_operator("admin", "a wrong one", RequestMeta())
        shown = await refreshed(pilot, "#sign-ins-text", "3 in 30 min")
        assert "3 in 30 min" in shown
        assert sum(chart(app)) == 3
        assert error_messages(app) == []


async def test_an_org_manager_sees_no_instance_activity(services: Services) -> None:
    system = services.system_context()
    acme = await services.orgs.create_org(system, "Acme")
    carol = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="carol", first_name="Carol", last_name="M", password="Carol-Pass-1"),
    )
    await services.memberships.add_member(system, carol.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "carol", "Carol-Pass-1")
        assert isinstance(app.screen, HomeScreen)
        assert not app.screen.query("#sign-ins") and not app.screen.query("#outbox")
        assert error_messages(app) == []
