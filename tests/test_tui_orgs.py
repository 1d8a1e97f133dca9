"""Organisations in the console: list, create (with the error on its field), rename, open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
    sign_in,
    text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Scope
from zitui.screens import make_app
from zitui.screens.confirm import ConfirmModal
from zitui.screens.form import FormModal
from zitui.screens.org import OrgScreen
from zitui.screens.orgs import OrgsScreen
from zitui.screens.secret import SecretModal


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        await services.orgs.create_org(services.system_context(), "Acme")
        yield services


async def test_o_opens_the_organisations_and_escape_goes_home(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "o")
        assert isinstance(app.screen, OrgsScreen)
        assert first_column(app, "orgs") == ["Acme", "ZITUI"]
        assert text(app, "#orgs-paging") == "Organisations 1–2 of 2"
        await press(pilot, "escape")
        assert first_column(app, "orgs") == ["Acme", "ZITUI"]  # home's own list
        assert not isinstance(app.screen, OrgsScreen)


async def test_creating_an_organisation_shows_a_taken_name_on_the_field(
    services: Services,
) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "o", "c")
        assert isinstance(app.screen, FormModal)
        await fill(pilot, "#name", "Acme")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)
        assert text(app, "#name-message") == "an organisation with this name exists"
        assert error_messages(app) == ["an organisation with this name exists"]

        await fill(pilot, "#name", "Initech")
        await press(pilot, "enter")
        assert isinstance(app.screen, OrgsScreen)
        assert first_column(app, "orgs") == ["Acme", "Initech", "ZITUI"]
    page = await services.orgs.list_orgs(services.system_context(), search="Initech")
    assert [org.primary_domain for org in page.items] == ["initech.127.0.0.1"]


async def test_escape_cancels_a_form_without_a_change(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "o", "c")
        await fill(pilot, "#name", "Never")
        await press(pilot, "escape")
        assert isinstance(app.screen, OrgsScreen)
    assert (await services.orgs.list_orgs(services.system_context())).total == 2


async def test_renaming_and_opening_an_organisation(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "o")
        await cursor_to(pilot, "orgs", "Acme")
        await press(pilot, "r")
        await fill(pilot, "#name", "Acme Ltd")
        await press(pilot, "ctrl+s")
        assert rows(app, "orgs")[0][:3] == ("Acme Ltd", "acme.127.0.0.1", "active")
        await press(pilot, "enter")
        assert isinstance(app.screen, OrgScreen)
        assert "Acme Ltd" in text(app, "#org-details")


async def test_an_org_owner_sees_only_their_organisation_and_cannot_create_one(
    services: Services,
) -> None:
    system = services.system_context()
    acme = (await services.orgs.list_orgs(system, search="Acme")).items[0]
    await services.orgs.create_org(system, "Globex")
    carol = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="carol", first_name="Carol", last_name="M", password="Carol-Pass-1"),
    )
    await services.memberships.add_member(system, carol.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "carol", "Carol-Pass-1")
        await press(pilot, "o")
        assert first_column(app, "orgs") == ["Acme"]
        bindings = {b.binding.action for b in app.screen.active_bindings.values()}
        assert "create" not in bindings
        assert "rename" in bindings
        await press(pilot, "c")
        assert isinstance(app.screen, OrgsScreen)  # the key does nothing
    assert error_messages(app) == []


async def test_deactivate_reactivate_and_remove_an_organisation(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await cursor_to(pilot, "orgs", "Acme")
        await press(pilot, "enter")
        assert isinstance(app.screen, OrgScreen)
        await press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "escape")
        assert "State           active" in text(app, "#org-details")
        await press(pilot, "d", "y")
        assert "State           inactive" in text(app, "#org-details")
        await press(pilot, "d")
        assert "State           active" in text(app, "#org-details")

        await press(pilot, "x", "escape")
        assert isinstance(app.screen, OrgScreen)
        await press(pilot, "x", "y")
        assert not isinstance(app.screen, OrgScreen)
        assert first_column(app, "orgs") == ["ZITUI"]
    assert (await services.orgs.list_orgs(services.system_context())).total == 1


async def test_a_domain_is_added_proved_and_made_primary(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await cursor_to(pilot, "orgs", "Acme")
        await press(pilot, "enter", "a")
        await fill(pilot, "#domain", "not a domain")
        await press(pilot, "enter")
        assert "DNS name" in text(app, "#domain-message")
        await fill(pilot, "#domain", "login.acme.com")
        await press(pilot, "enter")
        assert first_column(app, "domains") == ["acme.127.0.0.1", "login.acme.com"]

        await cursor_to(pilot, "domains", "login.acme.com")
        await press(pilot, "c", "ctrl+s")
        assert isinstance(app.screen, SecretModal)
        token = app.screen.secret
        assert "_zitadel-challenge.login.acme.com" in text(app, ".secret-detail")
        await press(pilot, "escape", "v")
        assert isinstance(app.screen, ConfirmModal)
        assert "_zitadel-challenge.login.acme.com" in text(app, "#confirm-question")
        await press(pilot, "y", "s", "y")
        assert "login.acme.com" in text(app, "#section-detail")
        assert rows(app, "domains")[1][:3] == ("login.acme.com", "yes", "yes")
    system = services.system_context()
    [acme] = (await services.orgs.list_orgs(system, search="Acme")).items
    assert acme.primary_domain == "login.acme.com"
    assert token
