"""A user's SSH keys from the authenticators screen: adding one by pasting its line (a bad
line is told on the field), the list with fingerprints, and removing one after confirming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.self_service import events_of
from tests.tui_fixtures import (
    SIZE,
    cursor_to,
    error_messages,
    fill,
    opened_store,
    press,
    rows,
    sign_in,
    text,
)
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import User
from zitui.screens import make_app
from zitui.screens.authenticators import AuthenticatorsScreen
from zitui.screens.confirm import ConfirmModal
from zitui.screens.form import FormModal
from zitui.screens.ssh_keys import SshKeysScreen
from zitui.screens.user import UserScreen


@dataclass(frozen=True)
class Acme:
    services: Services
    ann: User


@pytest.fixture
async def acme(tmp_path: Path) -> AsyncIterator[Acme]:
    async with opened_store(tmp_path / "data") as (services, _):
        system = services.system_context()
        org = await services.orgs.create_org(system, "Acme")
        ann = await services.users.create_human_user(
            system, org.id, NewHumanUser("ann", "Ann", "Able", password="Ann-Pass-1")
        )
        yield Acme(services, ann)


async def test_a_manager_adds_and_removes_a_key_of_a_user(acme: Acme) -> None:
    services, ann = acme.services, acme.ann
    key = asyncssh.generate_private_key("ssh-ed25519", comment="ann@laptop")
    line = bytes(key.export_public_key("openssh")).decode().strip()
    fingerprint = key.get_fingerprint("sha256")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "admin", ADMIN_PASSWORD)
        await press(pilot, "u")
        await cursor_to(pilot, "users", "ann@acme.127.0.0.1")
        await press(pilot, "enter")
        assert isinstance(app.screen, UserScreen)
        await press(pilot, "a", "s")
        assert isinstance(app.screen, SshKeysScreen)
        assert rows(app, "ssh-keys") == []

        await press(pilot, "n")
        assert isinstance(app.screen, FormModal)
        await fill(pilot, "#public_key", "ssh-rsa not-a-key")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)
        assert "paste one public key line" in text(app, "#public_key-message").lower()
        await fill(pilot, "#public_key", line)
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, SshKeysScreen)
        [(shown, kind, comment, _, last_used)] = rows(app, "ssh-keys")
        assert (shown, kind, comment, last_used) == (
            fingerprint,
            "ssh-ed25519",
            "ann@laptop",
            "never",
        )

        await press(pilot, "d")
        assert isinstance(app.screen, ConfirmModal)
        assert fingerprint in text(app, "#confirm-question")
        await press(pilot, "y")
        assert isinstance(app.screen, SshKeysScreen)
        assert rows(app, "ssh-keys") == []
        said = error_messages(app)  # the bad line's, and no other
        assert len(said) == 1 and said[0].startswith("paste one public key line")
        await press(pilot, "escape")
        assert isinstance(app.screen, AuthenticatorsScreen)

    [added] = await events_of(services, "user.human.ssh_key.added", ann.id)
    assert added.payload["fingerprint"] == fingerprint
    assert await events_of(services, "user.human.ssh_key.removed", ann.id)
