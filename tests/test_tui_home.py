"""The operator's home: header, organisations, search, paging, help and signing out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    error_messages,
    opened_store,
    settle,
    sign_in,
    text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.help import HelpScreen
from zitui.screens.home import HomeScreen
from zitui.screens.login import LoginScreen
from zitui.screens.paged_table import PagedTable


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        for name in ("Acme", "Beta Corp", "Gamma"):
            await services.orgs.create_org(services.system_context(), name)
        yield services


def org_names(app: ZituiApp) -> list[str]:
    table = app.screen.query_one("#orgs-table", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_every_organisation_is_listed_by_name(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert org_names(app) == ["Acme", "Beta Corp", "Gamma", "ZITUI"]
        assert text(app, "#orgs-paging") == "Organisations 1–4 of 4"


async def test_slash_focuses_the_search_which_filters(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        search = app.screen.query_one("#orgs-search", Input)
        assert not search.has_focus
        await pilot.press("slash")
        assert search.has_focus
        await pilot.press(*"bet")
        await settle(pilot)
        assert org_names(app) == ["Beta Corp"]
        await pilot.press("q")  # typed into the search, not quitting
        await settle(pilot)
        assert org_names(app) == []
        assert text(app, "#orgs-paging") == "No organisation matches the search."
        assert app.is_running
        await pilot.press("enter")
        assert app.screen.query_one("#orgs-table", DataTable).has_focus


async def test_pages_turn_with_n_and_p(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        home = app.screen
        assert isinstance(home, HomeScreen)
        orgs = home.query_one("#orgs", PagedTable)
        orgs.page_size = 3
        orgs.reload()
        await settle(pilot)
        assert org_names(app) == ["Acme", "Beta Corp", "Gamma"]
        assert text(app, "#orgs-paging").startswith("Organisations 1–3 of 4")
        await pilot.press("p")
        await settle(pilot)
        assert org_names(app) == ["Acme", "Beta Corp", "Gamma"]
        await pilot.press("n")
        await settle(pilot)
        assert org_names(app) == ["ZITUI"]
        assert text(app, "#orgs-paging").startswith("Organisations 4–4 of 4")
        await pilot.press("n")
        await settle(pilot)
        assert org_names(app) == ["ZITUI"]
        await pilot.press("p")
        await settle(pilot)
        assert org_names(app) == ["Acme", "Beta Corp", "Gamma"]


async def test_an_org_manager_sees_only_their_organisation(services: Services) -> None:
    system = services.system_context()
    acme = (await services.orgs.list_orgs(system, search="Acme")).items[0]
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
        assert org_names(app) == ["Acme"]
        assert text(app, "#roles") == "Roles: ORG_OWNER on organisation Acme"
        assert error_messages(app) == []


async def test_help_opens_and_closes(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = text(app, "#help-keys")
        for description in ("Search", "Sign out", "Quit", "Help"):
            assert description in keys
        assert "Next page" not in keys  # one page only: the key does nothing now
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HomeScreen)


async def test_help_works_on_the_login_screen_too(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "Quit" in text(app, "#help-keys")
        await pilot.press("escape")
        assert isinstance(app.screen, LoginScreen)


async def test_ctrl_l_signs_out_to_a_fresh_login(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        assert len(app.screen_stack) == 2
        assert app.screen.query_one("#password", Input).value == ""
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert isinstance(app.screen, HomeScreen)


async def test_ctrl_q_quits_from_home(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await pilot.press("slash")
        await pilot.press("ctrl+q")
    assert app.return_code == 0
