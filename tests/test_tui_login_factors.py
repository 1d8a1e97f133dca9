"""The console's sign-in with a second factor: a code of the authenticator app or a recovery
code after the password, and forced MFA refusing a manager who has no factor yet."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest
from textual.widgets import Input

from tests.conftest import ADMIN_PASSWORD
from tests.self_service import events_of
from tests.tui_fixtures import SIZE, fill, opened_store, settle, sign_in, text
from zitui.core.services import Services
from zitui.core.setup import SetupResult
from zitui.records import User
from zitui.screens import make_app
from zitui.screens.home import HomeScreen
from zitui.screens.login import LoginScreen


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[tuple[Services, SetupResult]]:
    async with opened_store(tmp_path / "data") as opened:
        yield opened


async def admin_of(services: Services, setup: SetupResult) -> User:
    async with services.store.reader() as tx:
        instance = await tx.instances.find()
        assert instance is not None
        username = setup.admin_login_name.split("@")[0]
        user = await tx.users.find_by_username(instance.default_org_id, username)
    assert user is not None
    return user


async def give_totp(services: Services, user: User) -> tuple[str, list[str]]:
    """A ready TOTP factor and ten recovery codes, as the hosted login sets them up."""
    system = services.system_context()
    async with services.store.transaction() as tx:
        setup = await services.factors.start_totp(tx, system, user, issuer="zitui")
    async with services.store.transaction() as tx:
        code = pyotp.TOTP(setup.secret).now()
        assert await services.factors.confirm_totp(tx, system, user, setup.factor_id, code)
        codes = await services.factors.new_recovery_codes(tx, system, user)
    return setup.secret, codes


def wrong_code(secret: str) -> str:
    """Six digits no step near now accepts (the current one and one either side)."""
    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(
        c
        for c in ("000000", "111111", "222222", "333333", "444444", "555555", "666666")
        if c not in near
    )


def code_field_shown(app: object) -> bool:
    screen = app.screen  # type: ignore[attr-defined]
    return bool(screen.query_one("#code", Input).display)


async def test_a_manager_with_an_app_code_is_asked_for_it_after_the_password(
    opened: tuple[Services, SetupResult],
) -> None:
    services, setup = opened
    admin = await admin_of(services, setup)
    secret, _ = await give_totp(services, admin)
    app = make_app(services, setup=setup)
    async with app.run_test(size=SIZE) as pilot:
        assert not code_field_shown(app)
        await sign_in(pilot, setup.admin_login_name, ADMIN_PASSWORD)
        assert isinstance(app.screen, LoginScreen)
        assert code_field_shown(app)
        assert app.screen.focused is app.screen.query_one("#code", Input)
        assert "authenticator app" in text(app, "#login-message")

        await fill(pilot, "#code", wrong_code(secret))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LoginScreen)
        assert text(app, "#login-message") == "the code is wrong or was used"
        assert app.screen.query_one("#password", Input).value == ADMIN_PASSWORD

        # The set-up spent the current step's code; the next step's is within the window.
        await fill(pilot, "#code", pyotp.TOTP(secret).at(time.time() + 30))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
    assert await events_of(services, "user.human.mfa.otp.check.failed", admin.id)
    assert await events_of(services, "user.human.mfa.otp.check.succeeded", admin.id)


async def test_a_recovery_code_signs_a_manager_in_once(
    opened: tuple[Services, SetupResult],
) -> None:
    services, setup = opened
    admin = await admin_of(services, setup)
    _, codes = await give_totp(services, admin)
    for attempt, signed_in in ((1, True), (2, False)):
        app = make_app(services, setup=setup)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot, setup.admin_login_name, ADMIN_PASSWORD)
            await fill(pilot, "#code", codes[0].lower())
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, HomeScreen) is signed_in, attempt
    async with services.store.reader() as tx:
        assert await services.factors.recovery_codes_left(tx, admin.id) == len(codes) - 1


async def test_forced_mfa_refuses_a_manager_without_a_factor(
    opened: tuple[Services, SetupResult],
) -> None:
    services, setup = opened
    system = services.system_context()
    await services.policies.set(system, "login", {"force_mfa": True}, None)
    app = make_app(services, setup=setup)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, setup.admin_login_name, ADMIN_PASSWORD)
        assert isinstance(app.screen, LoginScreen)
        assert text(app, "#login-message") == "set up a second factor on the sign-in pages first"
        assert not code_field_shown(app)


async def test_a_manager_without_factors_signs_in_with_the_password_alone(
    opened: tuple[Services, SetupResult],
) -> None:
    services, setup = opened
    app = make_app(services, setup=setup)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, setup.admin_login_name, ADMIN_PASSWORD)
        assert isinstance(app.screen, HomeScreen)
