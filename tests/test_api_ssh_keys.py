"""The account API's SSH keys: a user lists, adds and removes their own console keys with a
token from a real code flow; bad lines and taken keys are clear errors."""

from __future__ import annotations

from typing import Any

import asyncssh
import pytest

from tests import oidc_fixtures as fx
from tests.api_fixtures import api_tokens, bearer
from tests.oidc_fixtures import Harness, World
from zitui.server.api.routes import PREFIX

clock, harness, world = fx.clock, fx.harness, fx.world
KEYS = f"{PREFIX}/users/me/ssh_keys"


def key_line(comment: str) -> tuple[str, str]:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    line = bytes(key.export_public_key("openssh")).decode().strip()
    return line, str(key.get_fingerprint("sha256"))


@pytest.fixture
async def alice_token(harness: Harness, world: World) -> str:
    return (await api_tokens(harness, world.clients["basic"], world.alice))["access_token"]


async def call(harness: Harness, method: str, path: str, token: str, **kwargs: Any) -> Any:
    return await harness.http.request(method, path, headers=bearer(token), **kwargs)


async def test_a_user_adds_lists_and_removes_a_key(harness: Harness, alice_token: str) -> None:
    line, fingerprint = key_line("alice@laptop")

    added = await call(harness, "POST", KEYS, alice_token, json={"publicKey": line})
    assert added.status_code == 200, added.text
    key = added.json()["key"]
    assert key["fingerprint"] == fingerprint and key["publicKey"] == line
    assert key["comment"] == "alice@laptop" and key["algorithm"] == "ssh-ed25519"

    listed = await call(harness, "GET", KEYS, alice_token)
    assert [k["fingerprint"] for k in listed.json()["result"]] == [fingerprint]

    removed = await call(harness, "DELETE", f"{KEYS}/{key['id']}", alice_token)
    assert removed.status_code == 200, removed.text
    assert (await call(harness, "GET", KEYS, alice_token)).json()["result"] == []
    again = await call(harness, "DELETE", f"{KEYS}/{key['id']}", alice_token)
    assert again.status_code == 404 and again.json()["code"] == "ssh_key.not_found"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"publicKey": "ssh-ed25519 not-base64 x"}, 400, "ssh_key.invalid"),
        ({"publicKey": ""}, 400, "ssh_key.invalid"),
        ({"publicKey": "x" * 20_000}, 400, None),
        ({"key": "ssh-ed25519 AAAA"}, 400, None),
    ],
)
async def test_bad_bodies_are_clear_errors(
    harness: Harness, alice_token: str, body: dict[str, str], status: int, code: str | None
) -> None:
    response = await call(harness, "POST", KEYS, alice_token, json=body)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["code"] == code
    assert response.json()["kind"] == "invalid_argument"


async def test_a_key_registered_already_is_a_conflict(harness: Harness, alice_token: str) -> None:
    line, _ = key_line("one")
    assert (await call(harness, "POST", KEYS, alice_token, json={"publicKey": line})).is_success
    taken = await call(harness, "POST", KEYS, alice_token, json={"publicKey": line})
    assert taken.status_code == 409 and taken.json()["code"] == "ssh_key.already_registered"
