"""Sharing projects: project grants from the owner, authorizations (user grants) from both
sides, and what a customer's ORG_OWNER sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    choose,
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
from zitui.records import Organization, Project, Scope, User
from zitui.screens import make_app
from zitui.screens.events import EventsScreen
from zitui.screens.form import FormModal
from zitui.screens.granted_projects import GrantedProjectsScreen
from zitui.screens.managers import ManagersScreen
from zitui.screens.project import ProjectScreen
from zitui.screens.project_grants import ProjectGrantsScreen
from zitui.screens.user import UserScreen
from zitui.screens.user_grants import UserGrantsScreen

GINA_PASSWORD = "Gina-Pass-12"


@dataclass
class World:
    services: Services
    acme: Organization
    globex: Organization
    portal: Project
    ann: User
    gus: User
    gina: User


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """Acme owns Portal (roles admin, reader); Globex is a customer with gus and gina."""
    async with opened_store(tmp_path / "data") as (services, _):
        system = services.system_context()
        acme = await services.orgs.create_org(system, "Acme")
        globex = await services.orgs.create_org(system, "Globex")
        await services.orgs.create_org(system, "Initech")
        portal = await services.projects.create_project(system, acme.id, "Portal")
        await services.projects.add_project_role(system, portal.id, "admin", "Administrator")
        await services.projects.add_project_role(system, portal.id, "reader", "Reader")
        users = services.users
        ann = await users.create_human_user(system, acme.id, NewHumanUser("ann", "Ann", "A"))
        gus = await users.create_human_user(system, globex.id, NewHumanUser("gus", "Gus", "G"))
        gina = await users.create_human_user(
            system, globex.id, NewHumanUser("gina", "Gina", "G", password=GINA_PASSWORD)
        )
        await services.memberships.add_member(system, gina.id, Scope.ORG, globex.id, ["ORG_OWNER"])
        yield World(services, acme, globex, portal, ann, gus, gina)


async def open_portal(pilot: object) -> None:
    await sign_in(pilot, "admin", ADMIN_PASSWORD)  # type: ignore[arg-type]
    await press(pilot, "r", "enter")  # type: ignore[arg-type]
    assert isinstance(pilot.app.screen, ProjectScreen)  # type: ignore[attr-defined]


async def test_the_owner_grants_a_project_and_the_customer_authorizes_a_user(
    world: World,
) -> None:
    services = world.services
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_portal(pilot)
        await press(pilot, "g")
        assert isinstance(app.screen, ProjectGrantsScreen)
        await press(pilot, "c")
        await type_text(pilot, "globex")
        await press(pilot, "enter", "enter")
        assert isinstance(app.screen, FormModal)
        await choose(pilot, "#role_keys", "reader")
        await press(pilot, "ctrl+s")
        assert rows(app, "grants")[0][:3] == ("Globex", "reader", "active")

        await press(pilot, "enter")
        assert isinstance(app.screen, UserGrantsScreen)
        await press(pilot, "a")
        assert first_column(app, "pick") == ["gina@globex.127.0.0.1", "gus@globex.127.0.0.1"]
        await type_text(pilot, "gus")
        await press(pilot, "enter", "enter")
        form = app.screen
        assert isinstance(form, FormModal)
        assert [f.choices for f in form.fields] == [(("reader", "reader"),)]  # the grant's
        await choose(pilot, "#role_keys", "reader")
        await press(pilot, "ctrl+s")
        [row] = rows(app, "user-grants")
        assert row[:5] == ("gus@globex.127.0.0.1", "Portal", "reader", "project grant", "active")

        await press(pilot, "escape", "escape", "escape", "escape", "e")
        assert isinstance(app.screen, EventsScreen)
        newest = [row[1:4] for row in rows(app, "events")[:2]]
        assert newest == [
            ("user.grant.added", "Globex", "admin@zitui.127.0.0.1"),
            ("project.grant.added", "Acme", "admin@zitui.127.0.0.1"),
        ]

    system = services.system_context()
    [grant] = (await services.grants.list_user_grants(system, user_id=world.gus.id)).items
    assert grant.role_keys == ("reader",)


async def test_a_direct_authorization_from_the_user_screen(world: World) -> None:
    services = world.services
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u")
        await cursor_to(pilot, "users", "ann@acme.127.0.0.1")
        await press(pilot, "enter", "g")
        assert isinstance(app.screen, UserGrantsScreen)
        await press(pilot, "a")
        await type_text(pilot, "portal")
        await press(pilot, "enter", "enter")
        await choose(pilot, "#role_keys", "admin", "reader")
        await press(pilot, "ctrl+s")
        assert rows(app, "user-grants")[0][:4] == (
            "ann@acme.127.0.0.1",
            "Portal",
            "admin, reader",
            "project",
        )
        await press(pilot, "e")
        await choose(pilot, "#role_keys", "reader")
        await press(pilot, "ctrl+s")
        assert rows(app, "user-grants")[0][2] == "reader"
        await press(pilot, "x", "escape")
        assert len(rows(app, "user-grants")) == 1
        await press(pilot, "x", "y")
        assert rows(app, "user-grants") == []
    assert (await services.grants.list_user_grants(services.system_context())).total == 0


async def test_a_project_manager_is_added_at_project_level(world: World) -> None:
    services = world.services
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_portal(pilot)
        await press(pilot, "m")
        assert isinstance(app.screen, ManagersScreen)
        await press(pilot, "a")
        await type_text(pilot, "ann")
        await press(pilot, "enter", "enter")
        await choose(pilot, "#roles", "PROJECT_OWNER")
        await press(pilot, "ctrl+s")
        assert rows(app, "managers")[0][:2] == ("ann@acme.127.0.0.1", "PROJECT_OWNER")
    members = await services.memberships.list_members(
        services.system_context(), Scope.PROJECT, world.portal.id
    )
    assert [m.roles for m in members] == [("PROJECT_OWNER",)]


async def test_the_events_screen_lists_what_the_console_did(world: World) -> None:
    services = world.services
    system = services.system_context()
    grant = await services.grants.grant_project(
        system, world.portal.id, world.globex.id, ["reader"]
    )
    await services.grants.add_user_grant(
        system, world.gus.id, world.portal.id, ["reader"], project_grant_id=grant.id
    )
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_portal(pilot)
        await press(pilot, "g", "x", "y")
        assert rows(app, "grants") == []
        await press(pilot, "escape", "escape", "escape", "e")
        assert isinstance(app.screen, EventsScreen)
        newest = rows(app, "events")[0]
        assert newest[1:4] == ("project.grant.removed", "Acme", "admin@zitui.127.0.0.1")
        types = [row[1] for row in rows(app, "events")]
        for expected in (
            "user.grant.added",
            "project.grant.added",
            "project.role.added",
            "project.added",
            "org.member.added",
            "user.human.added",
        ):
            assert expected in types


async def test_a_customer_org_owner_sees_only_their_org_and_its_granted_projects(
    world: World,
) -> None:
    services = world.services
    system = services.system_context()
    await services.grants.grant_project(system, world.portal.id, world.globex.id, ["reader"])
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "gina", GINA_PASSWORD)
        assert first_column(app, "orgs") == ["Globex"]  # not Acme, Initech or the default
        await press(pilot, "u")
        assert first_column(app, "users") == ["gina@globex.127.0.0.1", "gus@globex.127.0.0.1"]
        await press(pilot, "escape", "r")
        assert first_column(app, "projects") == []  # Portal is Acme's
        await press(pilot, "escape", "g")
        assert isinstance(app.screen, GrantedProjectsScreen)
        assert rows(app, "granted")[0][0] == "Portal"
        assert rows(app, "granted")[0][2:4] == ("reader", "active")
        await press(pilot, "enter", "a")
        await type_text(pilot, "gus")
        await press(pilot, "enter", "enter")
        await choose(pilot, "#role_keys", "reader")
        await press(pilot, "ctrl+s")
        assert rows(app, "user-grants")[0][:3] == ("gus@globex.127.0.0.1", "Portal", "reader")
    assert error_messages(app) == []
    [grant] = (await services.grants.list_user_grants(system, user_id=world.gus.id)).items
    assert grant.org_id == world.globex.id


async def test_the_user_screen_shows_manager_roles(world: World) -> None:
    app = make_app(world.services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u")
        await cursor_to(pilot, "users", "gina@globex.127.0.0.1")
        await press(pilot, "enter")
        assert isinstance(app.screen, UserScreen)
        assert "ORG_OWNER on organisation Globex" in text(app, "#user-details")
