"""A user's authenticators from the user screen: the list, removing one and voiding the recovery
codes after a confirmation, and the keys a manager without the credential permission lacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from textual.pilot import Pilot

from tests.conftest import ADMIN_PASSWORD
from tests.self_service import events_of
from tests.tui_fixtures import (
    SIZE,
    cursor_to,
    error_messages,
    notifications,
    opened_store,
    press,
    rows,
    sign_in,
    text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Scope, User
from zitui.screens import make_app
from zitui.screens.authenticators import AuthenticatorsScreen
from zitui.screens.confirm import ConfirmModal
from zitui.screens.help import key_rows
from zitui.screens.user import UserScreen

EDITOR_PASSWORD = "Editor-Pass-1"


@dataclass(frozen=True)
class Acme:
    services: Services
    ann: User
    factor_id: str


async def add_totp(services: Services, user: User, name: str) -> str:
    """A ready TOTP factor, set up as the login flow does: start, then a code from the app."""
    system = services.system_context()
    async with services.store.transaction() as tx:
        setup = await services.factors.start_totp(tx, system, user, issuer="Acme")
    code = pyotp.TOTP(setup.secret).now()
    async with services.store.transaction() as tx:
        factors = services.factors
        assert await factors.confirm_totp(tx, system, user, setup.factor_id, code, name=name)
        await factors.new_recovery_codes(tx, system, user)
    return setup.factor_id


@pytest.fixture
async def acme(tmp_path: Path) -> AsyncIterator[Acme]:
    async with opened_store(tmp_path / "data") as (services, _):
        system = services.system_context()
        org = await services.orgs.create_org(system, "Acme")
        ann = await services.users.create_human_user(
            system, org.id, NewHumanUser("ann", "Ann", "Able", password="Ann-Pass-1")
        )
        factor_id = await add_totp(services, ann, "Ann's phone")
        editor = await services.users.create_human_user(
            system, org.id, NewHumanUser("eve", "Eve", "Editor", password=EDITOR_PASSWORD)
        )
        roles = ["ORG_USER_PERMISSION_EDITOR"]
        await services.memberships.add_member(system, editor.id, Scope.ORG, org.id, roles)
        yield Acme(services, ann, factor_id)


async def open_authenticators(pilot: Pilot[None], username: str, password: str) -> None:
    await sign_in(pilot, username, password)
    await press(pilot, "u")
    await cursor_to(pilot, "users", "ann@acme.127.0.0.1")
    await press(pilot, "enter")
    assert isinstance(pilot.app.screen, UserScreen)
    await press(pilot, "a")
    assert isinstance(pilot.app.screen, AuthenticatorsScreen)


async def test_a_manager_removes_a_lost_phone_after_confirming(acme: Acme) -> None:
    services, ann = acme.services, acme.ann
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_authenticators(pilot, "admin", ADMIN_PASSWORD)
        [(kind, name, created, last_used)] = rows(app, "authenticators")
        assert (kind, name, last_used) == ("Authenticator app (TOTP)", "Ann's phone", "never")
        assert created.startswith(services.clock.now().strftime("%Y-%m-%d"))
        assert text(app, "#recovery-codes") == "Recovery codes left: 10"
        described = {description for _, description in key_rows(app.screen)}
        assert {"Remove selected", "Void recovery codes"} <= described

        await press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        assert "Ann's phone" in text(app, "#confirm-question")
        await press(pilot, "n")
        assert isinstance(app.screen, AuthenticatorsScreen)
        assert len(rows(app, "authenticators")) == 1

        await press(pilot, "d", "y")
        assert isinstance(app.screen, AuthenticatorsScreen)
        assert rows(app, "authenticators") == []
        said = [n.message for n in notifications(app)]
        assert any("Ann's phone" in m and "is removed" in m for m in said)
        assert error_messages(app) == []

    [event] = await events_of(services, "user.human.mfa.otp.removed", ann.id)
    assert event.payload["factor_id"] == acme.factor_id
    assert event.actor_id != ann.id
    listed = await services.factors.authenticators(services.system_context(), ann.id)
    assert listed.factors == ()


async def test_voiding_the_recovery_codes_asks_first_and_then_shows_none_left(acme: Acme) -> None:
    services, ann = acme.services, acme.ann
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_authenticators(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "escape")
        assert text(app, "#recovery-codes") == "Recovery codes left: 10"

        await press(pilot, "r", "y")
        assert text(app, "#recovery-codes") == "Recovery codes left: 0"
        assert len(rows(app, "authenticators")) == 1  # the app itself stays
        await press(pilot, "r")  # nothing left to void: the key is off
        assert isinstance(app.screen, AuthenticatorsScreen)
    [event] = await events_of(services, "user.human.recovery_codes.removed", ann.id)
    assert event.payload["count"] == 10


async def test_a_manager_who_may_only_read_sees_the_list_without_the_remove_keys(
    acme: Acme,
) -> None:
    app = make_app(acme.services)
    async with app.run_test(size=SIZE) as pilot:
        await open_authenticators(pilot, "eve", EDITOR_PASSWORD)
        assert [row[1] for row in rows(app, "authenticators")] == ["Ann's phone"]
        described = {description for _, description in key_rows(app.screen)}
        assert "Remove selected" not in described and "Void recovery codes" not in described
        await press(pilot, "d")
        assert isinstance(app.screen, AuthenticatorsScreen)
        assert len(rows(app, "authenticators")) == 1
    assert await events_of(acme.services, "user.human.mfa.otp.removed", acme.ann.id) == []


async def test_a_factor_removed_elsewhere_meanwhile_is_reported(acme: Acme) -> None:
    services = acme.services
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_authenticators(pilot, "admin", ADMIN_PASSWORD)
        system = services.system_context()
        await services.factors.remove_authenticator(system, acme.ann.id, acme.factor_id)

        await press(pilot, "d", "y")

        assert isinstance(app.screen, AuthenticatorsScreen)
        assert error_messages(app) == ["no such factor"]
