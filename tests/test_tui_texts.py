"""The custom texts screen: the instance's texts from the home screen, an organisation's own
from its screen; override a key with its default in view, see it, reset it."""

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
    opened_store,
    press,
    rows,
    sign_in,
    text,
    type_text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.i18n import catalogue
from zitui.records import Organization, Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.confirm import ConfirmModal
from zitui.screens.form import FormModal
from zitui.screens.home import HomeScreen
from zitui.screens.org import OrgScreen
from zitui.screens.texts import TextsScreen

TITLE = "login.name.title"
# Key, Default, Override, Shown (instance); Key, Default, Instance, Override, Shown (org).
INSTANCE_OVERRIDE, ORG_OVERRIDE = 2, 3


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


@pytest.fixture
async def acme(services: Services) -> Organization:
    return await services.orgs.create_org(services.system_context(), "Acme")


def keys(app: ZituiApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()}


def row(app: ZituiApp, key: str) -> tuple[str, ...]:
    [found] = [r for r in rows(app, "texts") if r[0] == key]
    return found


async def show_key(pilot: Pilot[None], key: str) -> None:
    """Search the table for `key` and put the cursor on its row."""
    await press(pilot, "slash")
    await type_text(pilot, key)
    await cursor_to(pilot, "texts", key)


async def test_override_a_text_see_it_and_reset_it(services: Services) -> None:
    default = catalogue("en")[TITLE]
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "i")
        assert isinstance(app.screen, TextsScreen)
        assert "Language: English (en)" in text(app, "#section-detail")
        assert "reset" not in keys(app)
        await show_key(pilot, TITLE)
        assert row(app, TITLE) == (TITLE, default, "", default)

        await press(pilot, "e")
        assert isinstance(app.screen, FormModal)
        assert text(app, ".form-hint") == f"Default: {default}"
        await fill(pilot, "#text", "Welcome {name}")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)  # the default has no {name}
        assert "{name} is not a placeholder" in text(app, "#text-message")
        await fill(pilot, "#text", "Welcome to Acme")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, TextsScreen)
        assert row(app, TITLE) == (TITLE, default, "Welcome to Acme", "Welcome to Acme")
        assert (await services.texts.overrides(None, "en"))[TITLE] == "Welcome to Acme"

        await press(pilot, "delete")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "y")
        assert row(app, TITLE) == (TITLE, default, "", default)
        assert TITLE not in await services.texts.overrides(None, "en")
        await press(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)
    assert error_messages(app) == ["{name} is not a placeholder of login.name.title (it has: none)"]


async def test_the_language_key_switches_the_table(services: Services) -> None:
    await services.texts.set(services.system_context(), "de", TITLE, "Willkommen")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "i")
        await show_key(pilot, TITLE)
        assert row(app, TITLE)[INSTANCE_OVERRIDE] == ""
        await press(pilot, "l")  # the cursor is in the table, still searching for the key
        assert "Language: German (de)" in text(app, "#section-detail")
        assert row(app, TITLE)[INSTANCE_OVERRIDE] == "Willkommen"
        assert row(app, TITLE)[1] == catalogue("de")[TITLE]


async def test_an_org_owner_overrides_their_organisation_s_text_over_the_instance_s(
    services: Services, acme: Organization
) -> None:
    system = services.system_context()
    await services.texts.set(system, "en", TITLE, "Welcome")
    owner = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="olga", first_name="Olga", last_name="O", password="Olga-Pass-1"),
    )
    await services.memberships.add_member(system, owner.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "olga", "Olga-Pass-1")
        assert "texts" not in keys(app)  # the instance's texts are not hers
        await press(pilot, "o")
        assert first_column(app, "orgs") == ["Acme"]
        await press(pilot, "enter")
        assert isinstance(app.screen, OrgScreen)
        await press(pilot, "i")
        assert isinstance(app.screen, TextsScreen)
        assert "Organisation Acme" in text(app, "#section-title")
        await show_key(pilot, TITLE)
        assert row(app, TITLE)[1:] == (catalogue("en")[TITLE], "Welcome", "", "Welcome")

        await press(pilot, "enter")
        assert isinstance(app.screen, FormModal)
        await fill(pilot, "#text", "Welcome to Acme")
        await press(pilot, "ctrl+s")
        assert row(app, TITLE)[ORG_OVERRIDE:] == ("Welcome to Acme", "Welcome to Acme")
        await press(pilot, "delete", "y")
        assert row(app, TITLE)[ORG_OVERRIDE:] == ("", "Welcome")
    assert error_messages(app) == []
    assert (await services.texts.overrides(None, "en"))[TITLE] == "Welcome"
