"""The audit log in the console: newest first, filters, and the payload of one event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    fill,
    opened_store,
    press,
    rows,
    sign_in,
    text,
    type_text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.event_detail import EventDetailModal
from zitui.screens.events import EventsScreen


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


def event_types(app: ZituiApp) -> list[str]:
    return [row[1] for row in rows(app, "events")]


async def test_what_the_console_did_is_listed_newest_first(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "o", "c")
        await fill(pilot, "#name", "Initech")
        await press(pilot, "ctrl+s", "escape", "e")
        assert isinstance(app.screen, EventsScreen)
        [newest, *_] = rows(app, "events")
        assert newest[1:4] == ("org.added", "Initech", "admin@zitui.127.0.0.1")
        assert event_types(app)[-1] == "instance.set_up"

        await press(pilot, "enter")
        assert isinstance(app.screen, EventDetailModal)
        assert '"name": "Initech"' in app.screen.payload
        assert "admin@zitui.127.0.0.1" in text(app, "#event-fields")
        await press(pilot, "escape")
        assert isinstance(app.screen, EventsScreen)


async def test_filters_by_type_time_and_organisation(services: Services) -> None:
    system = services.system_context()
    acme = await services.orgs.create_org(system, "Acme")
    await services.users.create_human_user(system, acme.id, NewHumanUser("ann", "Ann", "A"))
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "e")
        assert "user.human.added" in event_types(app)

        await fill(pilot, "#event_type", "user.human.added")
        await press(pilot, "enter")
        assert event_types(app) == ["user.human.added"]
        assert text(app, "#events-paging") == "Events 1–1 of 1"

        await fill(pilot, "#since", "tomorrow")
        await press(pilot, "enter")
        assert "2026-11-26" in text(app, "#since-message")
        await fill(pilot, "#since", "2000-01-01")
        await fill(pilot, "#until", "1999-01-01")
        await press(pilot, "enter")
        assert text(app, "#since-message") == "the start must lie before the end"
        await fill(pilot, "#until", "")
        await press(pilot, "enter")
        assert text(app, "#since-message") == ""
        assert event_types(app) == ["user.human.added"]

        await press(pilot, "x")
        assert "instance.set_up" in event_types(app)
        await press(pilot, "f")
        await type_text(pilot, "acme")
        await press(pilot, "enter", "enter")
        assert set(event_types(app)) == {"org.added", "user.human.added"}
        assert "organisation Acme" in text(app, "#section-detail")


async def test_an_org_owner_has_no_events_key(services: Services) -> None:
    """ORG_OWNER lacks events.read (ZITADEL's audit log is an instance-level view)."""
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
        assert "events" not in {b.binding.action for b in app.screen.active_bindings.values()}
        await press(pilot, "e")
        assert not isinstance(app.screen, EventsScreen)
