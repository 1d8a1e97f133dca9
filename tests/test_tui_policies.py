"""The policies screen: the instance defaults from the home screen, an organisation's overrides
from its screen; edit with errors under the field, inherit, reset, and no edit for others."""

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
    settle,
    sign_in,
    text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import PermissionDenied
from zitui.records import Organization, Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.confirm import ConfirmModal
from zitui.screens.form import FormModal
from zitui.screens.home import HomeScreen
from zitui.screens.org import OrgScreen
from zitui.screens.policies import PoliciesScreen


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


@pytest.fixture
async def acme(services: Services) -> Organization:
    return await services.orgs.create_org(services.system_context(), "Acme")


async def add_owner(services: Services, org: Organization, username: str) -> None:
    system = services.system_context()
    owner = await services.users.create_human_user(
        system,
        org.id,
        NewHumanUser(username=username, first_name="O", last_name="O", password="Owner-Pass-1"),
    )
    await services.memberships.add_member(system, owner.id, Scope.ORG, org.id, ["ORG_OWNER"])


def keys(app: ZituiApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()}


def row(app: ZituiApp, policy: str) -> tuple[str, ...]:
    [found] = [r for r in rows(app, "policies") if r[0] == policy]
    return found


async def open_policy(pilot: Pilot[None], policy: str) -> None:
    await cursor_to(pilot, "policies", policy)
    await press(pilot, "enter")
    assert isinstance(pilot.app.screen, FormModal)


async def test_the_iam_owner_edits_an_instance_default(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "l")
        assert isinstance(app.screen, PoliciesScreen)
        assert first_column(app, "policies") == [
            "Login",
            "Password complexity",
            "Password age",
            "Lockout",
            "Legal and support",
            "Domain",
            "Notification",
        ]
        assert row(app, "Lockout")[1] == "instance default"
        assert "reset" not in keys(app)

        await open_policy(pilot, "Password complexity")
        await fill(pilot, "#min_length", "0")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)
        assert "from 1 to 72" in text(app, "#min_length-message")
        await fill(pilot, "#min_length", "12")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, PoliciesScreen)
        policy = await services.policies.get(services.system_context(), "password_complexity")
        assert policy.effective.min_length == 12

        await open_policy(pilot, "Login")
        await fill(pilot, "#password_check_lifetime", "never")
        await press(pilot, "ctrl+s")
        assert "240h, 30m or 18h" in text(app, "#password_check_lifetime-message")
        await fill(pilot, "#password_check_lifetime", "30m")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, PoliciesScreen)
        login = await services.policies.get(services.system_context(), "login")
        assert login.effective.password_check_lifetime_s == 1800
        await press(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)
    assert len(error_messages(app)) == 2


async def test_an_org_owner_overrides_inherits_and_resets(
    services: Services, acme: Organization
) -> None:
    await add_owner(services, acme, "olga")
    system = services.system_context()
    await services.policies.set(system, "lockout", {"max_password_attempts": 3})
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "olga", "Owner-Pass-1")
        assert "policies" not in keys(app)  # the instance defaults are not hers
        await press(pilot, "o", "enter")
        assert isinstance(app.screen, OrgScreen)
        await press(pilot, "l")
        assert isinstance(app.screen, PoliciesScreen)
        assert "Organisation Acme" in text(app, "#section-title")
        assert row(app, "Lockout")[1:] == ("inherited", "")
        assert "reset" not in keys(app)

        await open_policy(pilot, "Lockout")
        assert "Inherited from the instance default" in text(app, "#form-intro")
        assert app.screen.query_one("#max_password_attempts").value == "3"  # type: ignore[attr-defined]
        await fill(pilot, "#max_password_attempts", "5")
        await press(pilot, "ctrl+s")
        assert row(app, "Lockout")[1:] == ("own", "max_password_attempts")
        own = await services.policies.get(system, "lockout", acme.id)
        assert own.effective.max_password_attempts == 5
        # The instance default is untouched.
        default = await services.policies.get(system, "lockout")
        assert default.effective.max_password_attempts == 3

        await open_policy(pilot, "Lockout")
        assert "own; default: 3" in [str(h.content) for h in app.screen.query(".form-hint")]
        await press(pilot, "escape")
        await cursor_to(pilot, "policies", "Lockout")
        await press(pilot, "delete")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "y")
        assert row(app, "Lockout")[1:] == ("inherited", "")
        assert (await services.policies.get(system, "lockout", acme.id)).inherited
    assert error_messages(app) == []


async def test_an_owner_of_another_organisation_cannot_edit(
    services: Services, acme: Organization
) -> None:
    beta = await services.orgs.create_org(services.system_context(), "Beta")
    await add_owner(services, beta, "bert")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "bert", "Owner-Pass-1")
        await press(pilot, "o")
        assert first_column(app, "orgs") == ["Beta"]  # Acme is not in his list
        context = app.screen.context  # type: ignore[attr-defined]
        await app.push_screen(PoliciesScreen(services, context, org=acme))
        await settle(pilot)
        assert rows(app, "policies") == []
        assert "edit" not in keys(app) and "reset" not in keys(app)
        assert error_messages(app)
    with pytest.raises(PermissionDenied):
        await services.policies.set(context, "lockout", {"max_password_attempts": 1}, acme.id)
    assert (await services.policies.get(services.system_context(), "lockout", acme.id)).inherited
