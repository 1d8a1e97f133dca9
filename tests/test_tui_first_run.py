"""First run: the generated administrator password is shown once and must be changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui_fixtures import SIZE, error_messages, fill, opened_store, settle, sign_in, text
from zitui.core.context import RequestMeta
from zitui.core.services import Services
from zitui.core.setup import SetupResult
from zitui.screens import make_app
from zitui.screens.change_password import MISMATCH, ChangePasswordScreen
from zitui.screens.first_run import FirstRunScreen
from zitui.screens.home import HomeScreen
from zitui.screens.login import LoginScreen

NEW_PASSWORD = "Brand-New-Pass-7"


@pytest.fixture
async def first_run(tmp_path: Path) -> AsyncIterator[tuple[Services, SetupResult]]:
    async with opened_store(tmp_path / "data", admin_password="") as opened:
        yield opened


async def change_password(pilot: Pilot[None], current: str, new: str, repeat: str) -> None:
    await fill(pilot, "#current_password", current)
    await fill(pilot, "#new_password", new)
    await fill(pilot, "#repeat_password", repeat)
    await pilot.press("enter")
    await settle(pilot)


async def test_the_generated_password_is_shown_once_over_the_login(
    first_run: tuple[Services, SetupResult],
) -> None:
    services, setup = first_run
    assert setup.generated_password
    app = make_app(services, setup=setup)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, FirstRunScreen)
        notice = text(app, "#first-run-notice")
        assert setup.generated_password in notice
        assert f"administrator {setup.admin_login_name}" in notice
        assert "shown only now" in notice
        assert "copy" in text(app, "#first-run-hint")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        assert app.screen.query_one("#username", Input).value == setup.admin_login_name


async def test_no_modal_when_the_password_was_configured(tmp_path: Path) -> None:
    async with opened_store(tmp_path / "data") as (services, setup):
        assert setup.created and not setup.generated_password
        app = make_app(services, setup=setup)
        async with app.run_test(size=SIZE):
            assert isinstance(app.screen, LoginScreen)


async def test_the_forced_change_leads_home_and_the_new_password_works(
    first_run: tuple[Services, SetupResult],
) -> None:
    services, setup = first_run
    app = make_app(services, setup=setup)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        await sign_in(pilot, setup.admin_login_name, setup.generated_password)
        assert isinstance(app.screen, ChangePasswordScreen)

        await change_password(pilot, setup.generated_password, NEW_PASSWORD, "Something-Else-1")
        assert isinstance(app.screen, ChangePasswordScreen)
        assert text(app, "#repeat_password-message") == MISMATCH

        await change_password(pilot, "Not-The-Current-1", NEW_PASSWORD, NEW_PASSWORD)
        assert isinstance(app.screen, ChangePasswordScreen)
        assert text(app, "#repeat_password-message") == ""
        assert text(app, "#current_password-message") == "the current password is wrong"
        assert error_messages(app) == ["the current password is wrong"]

        await change_password(pilot, setup.generated_password, NEW_PASSWORD, NEW_PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        assert "IAM_OWNER" in text(app, "#roles")

    login = await services.auth.login_operator(
        setup.admin_login_name, NEW_PASSWORD, RequestMeta(origin="test")
    )
    assert not login.password_change_required


async def test_a_weak_new_password_is_shown_on_its_field(
    first_run: tuple[Services, SetupResult],
) -> None:
    services, setup = first_run
    app = make_app(services, setup=setup)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        await sign_in(pilot, setup.admin_login_name, setup.generated_password)
        await change_password(pilot, setup.generated_password, "short", "short")
        assert isinstance(app.screen, ChangePasswordScreen)
        assert "at least 8 characters" in text(app, "#new_password-message")


async def test_leaving_the_change_signs_out(first_run: tuple[Services, SetupResult]) -> None:
    services, setup = first_run
    app = make_app(services, setup=setup)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        await sign_in(pilot, setup.admin_login_name, setup.generated_password)
        assert isinstance(app.screen, ChangePasswordScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        assert len(app.screen_stack) == 2
