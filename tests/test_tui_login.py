"""Signing in to the operator console."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, DataTable, Input

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    error_messages,
    fill,
    opened_store,
    settle,
    sign_in,
    text,
)
from zitui.core.auth import OperatorLogin
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.screens import make_app
from zitui.screens.home import HomeScreen
from zitui.screens.login import LoginScreen


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


async def test_admin_signs_in_and_sees_the_default_organisation(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LoginScreen)
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        table = app.screen.query_one("#orgs-table", DataTable)
        assert table.row_count == 1
        name, domain, state = (str(cell) for cell in table.get_row_at(0))
        assert name == "ZITUI"
        assert domain.startswith("zitui.")
        assert state == "active"
        assert "IAM_OWNER on the instance" in text(app, "#roles")
        assert "admin" in text(app, "#operator")
        assert "ZITUI" in text(app, "#instance")
        assert "127.0.0.1" in text(app, "#instance")
        await pilot.press("q")
    assert app.return_code == 0


async def test_the_sign_in_button_works_like_enter(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#username", Input).value = "admin"
        app.screen.query_one("#password", Input).value = ADMIN_PASSWORD
        await pilot.click("#sign-in")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_the_form_is_disabled_while_the_check_runs(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = asyncio.Event()
    real_login = services.auth.login_operator

    async def slow_login(*args: Any, **kwargs: Any) -> OperatorLogin:
        await gate.wait()
        return await real_login(*args, **kwargs)

    monkeypatch.setattr(services.auth, "login_operator", slow_login)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await fill(pilot, "#username", "admin")
        await fill(pilot, "#password", ADMIN_PASSWORD)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#login-form").disabled
        assert app.screen.query_one("#sign-in", Button).is_disabled
        gate.set()
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_a_wrong_password_shows_an_error_and_stays(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", "Wrong-Pass-1")
        assert isinstance(app.screen, LoginScreen)
        assert text(app, "#login-message") == "the username or password is wrong"
        assert error_messages(app) == ["the username or password is wrong"]
        assert app.screen.query_one("#password", Input).value == ""
        assert not app.screen.query_one("#login-form").disabled


async def test_an_empty_username_is_asked_for_without_a_call(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "", "whatever")
        assert isinstance(app.screen, LoginScreen)
        assert text(app, "#login-message") == "Enter your username."
        assert error_messages(app) == []


async def test_a_user_who_is_not_a_manager_cannot_get_in(services: Services) -> None:
    system = services.system_context()
    org_id = (await services.instance.get_instance(system)).default_org_id
    await services.users.create_human_user(
        system,
        org_id,
        NewHumanUser(username="bob", first_name="Bob", last_name="Plain", password="Bob-Pass-12"),
    )
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "bob", "Bob-Pass-12")
        assert isinstance(app.screen, LoginScreen)
        assert text(app, "#login-message") == "only managers may use the operator console"
        assert error_messages(app) == ["only managers may use the operator console"]


async def test_an_unexpected_failure_is_a_notification_not_a_crash(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.auth, "login_operator", broken)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert isinstance(app.screen, LoginScreen)
        [message] = error_messages(app)
        assert "unexpected" in message
        assert "disk on fire" not in message
        assert "unexpected" in text(app, "#login-message")
        await pilot.press("ctrl+q")
    assert app.return_code == 0
