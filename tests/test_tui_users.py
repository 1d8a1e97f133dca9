"""Users in the console: server-side search and paging, org filter, create, set password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    cursor_to,
    error_messages,
    fill,
    first_column,
    opened_store,
    press,
    rows,
    settle,
    sign_in,
    text,
    type_text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Organization, Scope, UserState
from zitui.screens import make_app
from zitui.screens.form import FormModal
from zitui.screens.pick import PickModal
from zitui.screens.secret import SecretModal
from zitui.screens.user import UserScreen
from zitui.screens.users import UsersScreen

MANY = 230


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


async def make_org(services: Services, name: str, users: int = 0) -> Organization:
    """An organisation with `users` password-less users, all in one transaction."""
    system = services.system_context()
    org = await services.orgs.create_org(system, name)
    async with services.store.atomic():
        for i in range(users):
            new = NewHumanUser(
                username=f"{name.lower()}-{i:04}", first_name=name, last_name=f"No {i}"
            )
            await services.users.create_human_user(system, org.id, new)
    return org


async def test_pages_of_many_users_come_from_the_store_one_at_a_time(services: Services) -> None:
    await make_org(services, "Acme", MANY)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u")
        assert isinstance(app.screen, UsersScreen)
        total = MANY + 1
        assert len(rows(app, "users")) == 50
        assert first_column(app, "users")[0] == "acme-0000@acme.127.0.0.1"
        assert text(app, "#users-paging").startswith(f"Users 1–50 of {total}")
        await press(pilot, "n")
        assert first_column(app, "users")[0] == "acme-0050@acme.127.0.0.1"
        assert text(app, "#users-paging").startswith(f"Users 51–100 of {total}")
        for _ in range(3):
            await press(pilot, "n")
        assert text(app, "#users-paging").startswith(f"Users 201–{total} of {total}")
        assert len(rows(app, "users")) == total - 200
        await press(pilot, "n")  # nothing further
        assert text(app, "#users-paging").startswith(f"Users 201–{total} of {total}")
        await press(pilot, "p")
        assert text(app, "#users-paging").startswith(f"Users 151–200 of {total}")

        await press(pilot, "slash")
        await type_text(pilot, "0199")
        assert first_column(app, "users") == ["acme-0199@acme.127.0.0.1"]
        assert text(app, "#users-paging") == "Users 1–1 of 1"


async def test_creating_a_user_shows_each_error_on_its_field(services: Services) -> None:
    acme = await make_org(services, "Acme")
    await services.users.create_human_user(
        services.system_context(), acme.id, NewHumanUser("taken", "Tak", "En")
    )
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u", "c")
        assert isinstance(app.screen, PickModal)
        await type_text(pilot, "acme")
        await press(pilot, "enter", "enter")
        assert isinstance(app.screen, FormModal)
        await fill(pilot, "#username", "taken")
        await fill(pilot, "#first_name", "Dana")
        await fill(pilot, "#last_name", "Scully")
        await fill(pilot, "#email", "dana@example.com")
        await fill(pilot, "#password", "weak")
        await press(pilot, "ctrl+s")
        assert text(app, "#password-message") == "password too weak: use at least 8 characters"
        assert app.screen.query_one("#password", Input).has_focus

        await fill(pilot, "#password", "Dana-Pass-12")
        await press(pilot, "ctrl+s")
        assert text(app, "#password-message") == ""
        assert text(app, "#username-message") == "this username is taken in the organisation"
        assert app.screen.query_one("#first_name", Input).value == "Dana"  # input kept
        assert error_messages(app)[-1] == "this username is taken in the organisation"

        await fill(pilot, "#username", "dana")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, UsersScreen)  # a password: no initialisation code
        assert "dana@acme.127.0.0.1" in first_column(app, "users")
    [dana] = (await services.users.list_users(services.system_context(), search="dana")).items
    assert (dana.email, dana.state, dana.password_change_required) == (
        "dana@example.com",
        UserState.ACTIVE,
        True,
    )


async def test_a_user_without_password_gets_an_initialisation_code_shown_once(
    services: Services,
) -> None:
    await make_org(services, "Acme")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u", "c")
        await type_text(pilot, "acme")
        await press(pilot, "enter", "enter")
        await fill(pilot, "#username", "ivy")
        await fill(pilot, "#first_name", "Ivy")
        await fill(pilot, "#last_name", "Init")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, SecretModal)
        assert len(app.screen.secret) == 6 and app.screen.secret.isalnum()
        assert "ivy@acme.127.0.0.1" in text(app, "#secret-title")
        await press(pilot, "enter")
        assert "ivy@acme.127.0.0.1" in first_column(app, "users")
    [ivy] = (await services.users.list_users(services.system_context(), search="ivy")).items
    assert ivy.state is UserState.INITIAL


async def test_the_organisation_filter_narrows_the_list(services: Services) -> None:
    await make_org(services, "Acme", 3)
    await make_org(services, "Globex", 2)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u")
        assert len(rows(app, "users")) == 6
        await press(pilot, "f")
        await type_text(pilot, "glob")
        await press(pilot, "enter", "enter")
        assert isinstance(app.screen, UsersScreen)
        assert first_column(app, "users") == [
            "globex-0000@globex.127.0.0.1",
            "globex-0001@globex.127.0.0.1",
        ]
        assert "Globex" in text(app, "#section-detail")
        await press(pilot, "a")
        assert len(rows(app, "users")) == 6


async def test_a_manager_sets_a_password_from_the_user_screen(services: Services) -> None:
    acme = await make_org(services, "Acme", 1)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u")
        await cursor_to(pilot, "users", "acme-0000@acme.127.0.0.1")
        await press(pilot, "enter")
        assert isinstance(app.screen, UserScreen)
        assert "initial" in text(app, "#user-details")
        await press(pilot, "w")
        await fill(pilot, "#password", "Fresh-Pass-12")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, UserScreen)
        assert "Must change password  yes" in text(app, "#user-details")
    [user] = (await services.users.list_users(services.system_context(), org_id=acme.id)).items
    assert user.password_change_required


async def test_an_org_owner_sees_only_the_users_of_their_organisation(services: Services) -> None:
    acme = await make_org(services, "Acme", 2)
    await make_org(services, "Globex", 2)
    system = services.system_context()
    carol = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="carol", first_name="Carol", last_name="M", password="Carol-Pass-1"),
    )
    await services.memberships.add_member(system, carol.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "carol", "Carol-Pass-1")
        assert first_column(app, "orgs") == ["Acme"]  # Globex and the default org: not theirs
        await press(pilot, "u")
        assert first_column(app, "users") == [
            "acme-0000@acme.127.0.0.1",
            "acme-0001@acme.127.0.0.1",
            "carol@acme.127.0.0.1",
        ]
        await press(pilot, "slash")
        await type_text(pilot, "globex")
        await settle(pilot)
        assert rows(app, "users") == []
        assert text(app, "#users-paging") == "No user matches the search."
    assert error_messages(app) == []
