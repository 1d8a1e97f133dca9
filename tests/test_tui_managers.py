"""Managers in the console: add with roles, change, and remove only after a yes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import SelectionList

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    cursor_to,
    error_messages,
    first_column,
    opened_store,
    press,
    rows,
    sign_in,
    text,
    type_text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Organization, Scope
from zitui.screens import make_app
from zitui.screens.confirm import ConfirmModal
from zitui.screens.form import FormModal
from zitui.screens.managers import ManagersScreen
from zitui.screens.org import OrgScreen


@pytest.fixture
async def acme(tmp_path: Path) -> AsyncIterator[tuple[Services, Organization]]:
    async with opened_store(tmp_path / "data") as (services, _):
        system = services.system_context()
        acme = await services.orgs.create_org(system, "Acme")
        await services.users.create_human_user(system, acme.id, NewHumanUser("ann", "Ann", "A"))
        yield services, acme


async def open_acme_managers(pilot: Pilot[None]) -> None:
    await sign_in(pilot, "admin", ADMIN_PASSWORD)
    await cursor_to(pilot, "orgs", "Acme")
    await press(pilot, "enter")
    assert isinstance(pilot.app.screen, OrgScreen)
    await press(pilot, "m")
    assert isinstance(pilot.app.screen, ManagersScreen)


async def test_a_user_becomes_an_org_manager(acme: tuple[Services, Organization]) -> None:
    services, org = acme
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_acme_managers(pilot)
        assert rows(app, "managers") == []
        await press(pilot, "a")
        await type_text(pilot, "ann")
        await press(pilot, "enter", "enter")
        assert isinstance(app.screen, FormModal)
        await press(pilot, "ctrl+s")
        assert text(app, "#roles-message") == "choose at least one role"
        app.screen.query_one("#roles", SelectionList).select("ORG_USER_MANAGER")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, ManagersScreen)
        assert rows(app, "managers")[0][:2] == ("ann@acme.127.0.0.1", "ORG_USER_MANAGER")
    [member] = await services.memberships.list_members(services.system_context(), Scope.ORG, org.id)
    assert member.roles == ("ORG_USER_MANAGER",)


async def test_removing_a_manager_asks_first_and_escape_keeps_them(
    acme: tuple[Services, Organization],
) -> None:
    services, org = acme
    system = services.system_context()
    [ann] = (await services.users.list_users(system, search="ann")).items
    await services.memberships.add_member(system, ann.id, Scope.ORG, org.id, ["ORG_OWNER"])
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_acme_managers(pilot)
        assert first_column(app, "managers") == ["ann@acme.127.0.0.1"]
        await press(pilot, "x")
        assert isinstance(app.screen, ConfirmModal)
        assert "ann@acme.127.0.0.1" in text(app, "#confirm-question")
        await press(pilot, "escape")
        assert isinstance(app.screen, ManagersScreen)
        assert len(await services.memberships.list_members(system, Scope.ORG, org.id)) == 1

        await press(pilot, "x", "enter")  # Cancel has the focus: Enter is a no too
        assert len(await services.memberships.list_members(system, Scope.ORG, org.id)) == 1

        await press(pilot, "e")
        roles = app.screen.query_one("#roles", SelectionList)
        assert roles.selected == ["ORG_OWNER"]
        roles.deselect("ORG_OWNER")
        roles.select("ORG_OWNER_VIEWER")
        await press(pilot, "ctrl+s")
        assert rows(app, "managers")[0][1] == "ORG_OWNER_VIEWER"

        await press(pilot, "x", "y")
        assert rows(app, "managers") == []
    assert await services.memberships.list_members(system, Scope.ORG, org.id) == []


async def test_the_last_iam_owner_cannot_be_removed(acme: tuple[Services, Organization]) -> None:
    services, _ = acme
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "m")
        assert isinstance(app.screen, ManagersScreen)
        assert rows(app, "managers")[0][:2] == ("admin@zitui.127.0.0.1", "IAM_OWNER")
        await press(pilot, "x", "y")
        assert rows(app, "managers")[0][:2] == ("admin@zitui.127.0.0.1", "IAM_OWNER")
        [message] = error_messages(app)
        assert "last active IAM_OWNER" in message
