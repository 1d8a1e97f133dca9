"""A user's lifecycle and profile from the user screen; destructive steps ask first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    cursor_to,
    error_messages,
    fill,
    first_column,
    notifications,
    opened_store,
    press,
    sign_in,
    text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Organization, UserState
from zitui.screens import ZituiApp, make_app
from zitui.screens.confirm import ConfirmModal
from zitui.screens.user import UserScreen
from zitui.screens.users import UsersScreen


@pytest.fixture
async def acme(tmp_path: Path) -> AsyncIterator[tuple[Services, Organization]]:
    async with opened_store(tmp_path / "data") as (services, _):
        system = services.system_context()
        acme = await services.orgs.create_org(system, "Acme")
        await services.users.create_human_user(
            system, acme.id, NewHumanUser("ann", "Ann", "Able", email="ann@example.com")
        )
        yield services, acme


async def open_ann(pilot: Pilot[None]) -> None:
    await sign_in(pilot, "admin", ADMIN_PASSWORD)
    await press(pilot, "u")
    await cursor_to(pilot, "users", "ann@acme.127.0.0.1")
    await press(pilot, "enter")
    assert isinstance(pilot.app.screen, UserScreen)


def state_of(app: ZituiApp) -> str:
    details = text(app, "#user-details")
    return next(line.split()[-1] for line in details.splitlines() if line.startswith("State"))


async def ann_state(services: Services) -> UserState:
    [ann] = (await services.users.list_users(services.system_context(), search="ann")).items
    return ann.state


async def test_lock_deactivate_and_delete_ask_first_and_escape_cancels(
    acme: tuple[Services, Organization],
) -> None:
    services, _ = acme
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_ann(pilot)
        assert state_of(app) == "initial"
        await press(pilot, "l")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "escape")
        assert state_of(app) == "initial"
        assert await ann_state(services) is UserState.INITIAL

        await press(pilot, "l", "y")
        assert state_of(app) == "locked"
        await press(pilot, "l")  # unlocking asks nothing
        assert state_of(app) == "initial"

        await press(pilot, "d")  # an initial user cannot be deactivated: no such key now
        assert not isinstance(app.screen, ConfirmModal)

        await press(pilot, "x")
        assert isinstance(app.screen, ConfirmModal)
        assert "ann@acme.127.0.0.1" in text(app, "#confirm-question")
        await press(pilot, "n")
        assert isinstance(app.screen, UserScreen)
        await press(pilot, "x", "y")
        assert isinstance(app.screen, UsersScreen)
        assert "ann@acme.127.0.0.1" not in first_column(app, "users")
    assert (await services.users.list_users(services.system_context(), search="ann")).total == 0


async def test_the_initialisation_code_goes_to_the_users_mailbox_not_the_screen(
    acme: tuple[Services, Organization],
) -> None:
    services, _ = acme
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_ann(pilot)
        await press(pilot, "i")
        assert isinstance(app.screen, UserScreen)
        said = [n.message for n in notifications(app)]
        assert any("initialisation mail to ann@example.com is queued" in m for m in said)
    messages = await services.notifications.list_messages(services.system_context())
    kinds = [(m.kind, m.recipient) for m in messages if m.kind == "user.init"]
    # One at creation, one now (the first code no longer works).
    assert kinds == [("user.init", "ann@example.com")] * 2


async def test_editing_the_profile_keeps_input_and_marks_the_bad_field(
    acme: tuple[Services, Organization],
) -> None:
    services, _ = acme
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_ann(pilot)
        await press(pilot, "e")
        await fill(pilot, "#nickname", "Annie")
        await fill(pilot, "#email", "not an address")
        await press(pilot, "ctrl+s")
        assert text(app, "#email-message") == "this is not an email address"
        await fill(pilot, "#email", "annie@example.com")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, UserScreen)
        details = text(app, "#user-details")
        assert "Annie" in details
        assert "annie@example.com (verified: no)" in details
    assert error_messages(app) == ["this is not an email address"]
    [ann] = (await services.users.list_users(services.system_context(), search="ann")).items
    assert (ann.nickname, ann.email) == ("Annie", "annie@example.com")


async def test_the_last_iam_owner_cannot_lock_themselves_out(
    acme: tuple[Services, Organization],
) -> None:
    services, _ = acme
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u")
        await cursor_to(pilot, "users", "admin@zitui.127.0.0.1")
        await press(pilot, "enter", "l", "y")
        assert state_of(app) == "active"
        [message] = error_messages(app)
        assert "last active IAM_OWNER" in message
