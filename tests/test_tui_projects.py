"""Projects in the console: create with roles and an app (its secret shown once), settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Select, SelectionList

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    choose,
    cursor_to,
    error_messages,
    fill,
    first_column,
    notifications,
    opened_store,
    press,
    rows,
    sign_in,
    text,
    type_text,
    write_lines,
)
from zitui.core.apps import NewOidcApp
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import AppType, AuthMethod, Organization, PrivateLabeling, Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.application import AppScreen
from zitui.screens.apps import AppsScreen
from zitui.screens.confirm import ConfirmModal
from zitui.screens.form import FormModal
from zitui.screens.project import ProjectScreen
from zitui.screens.projects import ProjectsScreen
from zitui.screens.roles import ProjectRolesScreen
from zitui.screens.secret import SecretModal


@pytest.fixture
async def acme(tmp_path: Path) -> AsyncIterator[tuple[Services, Organization]]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services, await services.orgs.create_org(services.system_context(), "Acme")


async def test_a_project_with_a_role_and_an_app_whose_secret_is_shown_once(
    acme: tuple[Services, Organization],
) -> None:
    services, org = acme
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "r")
        assert isinstance(app.screen, ProjectsScreen)
        await press(pilot, "c")
        await type_text(pilot, "acme")
        await press(pilot, "enter", "enter")
        assert isinstance(app.screen, FormModal)
        await fill(pilot, "#name", "Portal")
        app.screen.query_one("#role_check", Checkbox).value = True
        await press(pilot, "ctrl+s")
        assert rows(app, "projects")[0][:4] == ("Portal", "Acme", "active", "no")

        await press(pilot, "enter")
        assert isinstance(app.screen, ProjectScreen)
        assert "Role check      yes" in text(app, "#project-details")
        await press(pilot, "o")
        assert isinstance(app.screen, ProjectRolesScreen)
        await press(pilot, "c")
        await fill(pilot, "#key", "bad key")
        await press(pilot, "ctrl+s")
        assert text(app, "#key-message") != ""
        assert error_messages(app) == [text(app, "#key-message")]
        await fill(pilot, "#key", "admin")
        await fill(pilot, "#display_name", "Administrator")
        await press(pilot, "ctrl+s")
        assert rows(app, "roles") == [("admin", "Administrator", "")]
        await press(pilot, "escape", "a")
        assert isinstance(app.screen, AppsScreen)

        await press(pilot, "c")
        await fill(pilot, "#name", "Portal web")
        await write_lines(pilot, "#redirect_uris", "portal.example.com/callback")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)
        assert text(app, "#redirect_uris-message") != ""
        await write_lines(pilot, "#redirect_uris", "https://portal.example.com/callback")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, SecretModal)
        secret = app.screen.secret
        assert len(secret) == 64
        assert secret in text(app, "#secret-value")
        assert "shown only now" in text(app, "#secret-hint")
        await press(pilot, "c")  # copy to the clipboard
        assert "clipboard" in notifications(app)[-1].message
        await press(pilot, "escape")
        assert isinstance(app.screen, AppsScreen)
        [(name, app_type, method, client_id, state)] = rows(app, "apps")
        assert (name, app_type, method, state) == ("Portal web", "web", "basic", "active")
        assert client_id.endswith("@portal")

        await press(pilot, "enter")
        assert isinstance(app.screen, AppScreen)
        details = text(app, "#app-details")
        assert "Client secret          set" in details
        assert secret not in details
        assert "https://portal.example.com/callback" in details
        project_id = app.screen.app_record.project_id
    [created] = (await services.apps.list_apps(services.system_context(), project_id)).items
    assert created.auth_method is AuthMethod.BASIC and created.has_secret


async def test_app_settings_change_and_the_secret_is_replaced_only_after_a_yes(
    acme: tuple[Services, Organization],
) -> None:
    services, org = acme
    system = services.system_context()
    project = await services.projects.create_project(system, org.id, "Portal")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "r", "enter", "a", "c")
        await fill(pilot, "#name", "SPA")
        await write_lines(pilot, "#redirect_uris", "https://spa.example.com/cb")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, SecretModal)
        await press(pilot, "escape", "enter")
        assert isinstance(app.screen, AppScreen)

        await press(pilot, "s")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "escape")
        assert isinstance(app.screen, AppScreen)
        await press(pilot, "s", "y")
        assert isinstance(app.screen, SecretModal)
        await press(pilot, "enter")

        await press(pilot, "e")
        app.screen.query_one("#dev_mode", Checkbox).value = True
        await fill(pilot, "#clock_skew_s", "9")
        await press(pilot, "ctrl+s")
        assert text(app, "#clock_skew_s-message") == "clock skew is 0 to 5 seconds"
        await fill(pilot, "#clock_skew_s", "3")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, AppScreen)
        assert "Development mode       yes" in text(app, "#app-details")
    [spa] = (await services.apps.list_apps(system, project.id)).items
    assert (spa.dev_mode, spa.clock_skew_s) == (True, 3)


async def test_the_login_branding_of_a_project_is_chosen_in_its_settings(
    acme: tuple[Services, Organization],
) -> None:
    services, org = acme
    system = services.system_context()
    project = await services.projects.create_project(system, org.id, "Portal")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "r", "enter")
        assert isinstance(app.screen, ProjectScreen)
        assert "Login branding  Instance's, then the user's organisation's" in text(
            app, "#project-details"
        )
        await press(pilot, "s")
        assert isinstance(app.screen, FormModal)
        select = app.screen.query_one("#private_labeling_setting", Select)
        assert select.value == "unspecified"
        select.value = "enforce_project_resource_owner_policy"
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, ProjectScreen)
        assert "Login branding  Project owner's, always" in text(app, "#project-details")
    changed = await services.projects.get_project(system, project.id)
    assert changed.private_labeling_setting is PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY


async def test_removing_a_project_asks_and_escape_keeps_it(
    acme: tuple[Services, Organization],
) -> None:
    services, org = acme
    system = services.system_context()
    await services.projects.create_project(system, org.id, "Portal")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "r", "enter", "x")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "escape")
        assert isinstance(app.screen, ProjectScreen)
        assert (await services.projects.list_projects(system)).total == 1
        await press(pilot, "d", "y")
        assert "State           inactive" in text(app, "#project-details")
        await press(pilot, "d")  # reactivating asks nothing
        assert "State           active" in text(app, "#project-details")
        await press(pilot, "x", "y")
        assert isinstance(app.screen, ProjectsScreen)
        assert first_column(app, "projects") == []
    assert (await services.projects.list_projects(system)).total == 0


async def test_a_project_owner_sees_only_their_project(
    acme: tuple[Services, Organization],
) -> None:
    services, org = acme
    system = services.system_context()
    portal = await services.projects.create_project(system, org.id, "Portal")
    await services.projects.create_project(system, org.id, "Billing")
    pete = await services.users.create_human_user(
        system, org.id, NewHumanUser("pete", "Pete", "P", password="Pete-Pass-12")
    )
    await services.memberships.add_member(
        system, pete.id, Scope.PROJECT, portal.id, ["PROJECT_OWNER"]
    )
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "pete", "Pete-Pass-12")
        await press(pilot, "r")
        assert first_column(app, "projects") == ["Portal"]
        assert "create" not in actions(app)  # project.create is an organisation's right
        await press(pilot, "enter")
        assert isinstance(app.screen, ProjectScreen)
        assert {"roles", "apps", "grants", "managers", "settings", "remove"} <= actions(app)
        await press(pilot, "a", "c")
        await fill(pilot, "#name", "Portal API")
        app.screen.query_one("#app_type", Select).value = "api"
        app.screen.query_one("#auth_method", Select).value = "none"
        await press(pilot, "ctrl+s")
        assert (
            text(app, "#auth_method-message") == "api apps authenticate with basic, private_key_jwt"
        )
        app.screen.query_one("#auth_method", Select).value = "private_key_jwt"
        await press(pilot, "ctrl+s")
        assert rows(app, "apps")[0][:3] == ("Portal API", "api", "private_key_jwt")


def actions(app: ZituiApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()}


def choices(app: ZituiApp, selector: str) -> list[str]:
    selection = app.screen.query_one(selector, SelectionList)
    return [selection.get_option_at_index(i).value for i in range(selection.option_count)]


def chosen(app: ZituiApp, selector: str) -> list[str]:
    return list(app.screen.query_one(selector, SelectionList).selected)


async def test_the_app_form_offers_only_the_flows_the_provider_serves(
    acme: tuple[Services, Organization],
) -> None:
    services, org = acme
    system = services.system_context()
    project = await services.projects.create_project(system, org.id, "Portal")
    legacy, _ = await services.apps.create_oidc_app(
        system,
        project.id,
        NewOidcApp("Legacy", AppType.WEB, AuthMethod.BASIC, ["https://legacy.example.com/cb"]),
    )
    async with services.store.transaction() as tx:  # as stored before the offer was narrowed
        stale = ("authorization_code", "device_code", "token_exchange")
        await tx.apps.update(replace(legacy, grant_types=stale))
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "r", "enter", "a", "c")
        assert isinstance(app.screen, FormModal)
        assert choices(app, "#response_types") == ["code"]
        assert choices(app, "#grant_types") == ["authorization_code", "refresh_token"]
        assert chosen(app, "#grant_types") == ["authorization_code"]
        await fill(pilot, "#name", "Web")
        await write_lines(pilot, "#redirect_uris", "https://web.example.com/cb")
        await choose(pilot, "#grant_types", "authorization_code", "refresh_token")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, SecretModal)
        await press(pilot, "escape")

        await cursor_to(pilot, "apps", "Legacy")
        await press(pilot, "enter")
        assert isinstance(app.screen, AppScreen)
        details = text(app, "#app-details")
        assert "device_code" not in details and "token_exchange" not in details
        await press(pilot, "e")
        assert choices(app, "#grant_types") == ["authorization_code", "refresh_token"]
        assert chosen(app, "#grant_types") == ["authorization_code"]
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, AppScreen)
    apps = {a.name: a for a in (await services.apps.list_apps(system, project.id)).items}
    assert apps["Web"].grant_types == ("authorization_code", "refresh_token")
    async with services.store.reader() as tx:
        stored = await tx.apps.find(legacy.id)
    assert stored is not None and stored.grant_types == ("authorization_code",)
