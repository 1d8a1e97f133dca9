"""Service (machine) users: create, and keys, tokens and a client secret each shown once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Select

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    fill,
    opened_store,
    press,
    rows,
    sign_in,
    text,
    type_text,
)
from zitui.core.services import Services
from zitui.records import TokenType, UserKind
from zitui.screens import make_app
from zitui.screens.confirm import ConfirmModal
from zitui.screens.credentials import MachineCredentialsScreen
from zitui.screens.secret import SecretModal
from zitui.screens.user import UserScreen


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        await services.orgs.create_org(services.system_context(), "Acme")
        yield services


async def test_a_service_user_gets_a_key_a_token_and_a_secret_each_shown_once(
    services: Services,
) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u", "s")
        await type_text(pilot, "acme")
        await press(pilot, "enter", "enter")
        await fill(pilot, "#username", "robot")
        await fill(pilot, "#name", "Robot")
        app.screen.query_one("#access_token_type", Select).value = "jwt"
        await press(pilot, "ctrl+s")
        assert ("robot@acme.127.0.0.1", "Robot", "", "machine", "active") in rows(app, "users")

        await press(pilot, "slash")
        await type_text(pilot, "robot")
        await press(pilot, "enter", "enter")
        assert isinstance(app.screen, UserScreen)
        assert "Access token type  jwt" in text(app, "#user-details")
        await press(pilot, "k")
        assert isinstance(app.screen, MachineCredentialsScreen)

        await press(pilot, "k")
        await fill(pilot, "#expires_at", "2000-01-01")
        await press(pilot, "ctrl+s")
        assert text(app, "#expires_at-message") == "the expiry must lie in the future"
        await fill(pilot, "#expires_at", "")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, SecretModal)
        key_file = json.loads(app.screen.secret)
        assert key_file["type"] == "serviceaccount"
        assert "PRIVATE KEY" in key_file["key"]
        await press(pilot, "escape")
        [key_row] = rows(app, "keys")
        assert key_row[0] == key_file["keyId"] and key_row[2] == "never"

        await press(pilot, "t", "ctrl+s")
        assert isinstance(app.screen, SecretModal)
        token = app.screen.secret
        await press(pilot, "escape")
        assert len(rows(app, "tokens")) == 1

        await press(pilot, "s")
        assert isinstance(app.screen, SecretModal)  # the first secret needs no yes
        assert "robot" in text(app, ".secret-detail")
        await press(pilot, "escape", "s")
        assert isinstance(app.screen, ConfirmModal)  # replacing one does
        await press(pilot, "escape")

        app.screen.query_one("#tokens-table").focus()
        await press(pilot, "delete")
        assert isinstance(app.screen, ConfirmModal)
        await press(pilot, "y")
        assert rows(app, "tokens") == []
        assert len(token) > 20

    [robot] = (await services.users.list_users(services.system_context(), search="robot")).items
    assert (robot.kind, robot.access_token_type, robot.has_secret) == (
        UserKind.MACHINE,
        TokenType.JWT,
        True,
    )
