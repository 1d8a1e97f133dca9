"""Blueprints' `ssh_keys` on `[[orgs.users]]`: keys added once, kept on a second run, a bad
line or another user's key refused at its path."""

from __future__ import annotations

import tomllib

import asyncssh
import pytest

from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import parse
from zitui.blueprint.state import Outcome
from zitui.core.services import Services


def key_line(comment: str) -> tuple[str, str]:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return bytes(key.export_public_key("openssh")).decode().strip(), key.get_fingerprint("sha256")


def blueprint(alice_keys: list[str], bob_keys: list[str] | None = None) -> str:
    def quoted(lines: list[str]) -> str:
        return "[" + ", ".join(f'"{line}"' for line in lines) + "]"

    bob = (
        f"""
[[orgs.users]]
username = "bob"
first_name = "Bob"
last_name = "Brown"
ssh_keys = {quoted(bob_keys)}
"""
        if bob_keys is not None
        else ""
    )
    return f"""
[[orgs]]
name = "Acme"

[[orgs.users]]
username = "alice"
first_name = "Alice"
last_name = "Anders"
managers = ["ORG_OWNER"]
ssh_keys = {quoted(alice_keys)}
{bob}"""


async def apply(services: Services, text: str) -> Outcome:
    return await apply_blueprint(services, parse(tomllib.loads(text)))


async def alice_fingerprints(services: Services) -> list[str]:
    ctx = services.system_context()
    [org] = [o for o in (await services.orgs.list_orgs(ctx)).items if o.name == "Acme"]
    alice = await services.users.find_user_by_username(ctx, org.id, "alice")
    assert alice is not None
    return [k.fingerprint for k in await services.ssh_keys.list_keys(ctx, alice.id)]


async def test_keys_are_added_once_and_kept(services: Services):
    first, first_fp = key_line("alice@laptop")
    second, second_fp = key_line("alice@desk")

    outcome = await apply(services, blueprint([first]))
    assert f"created SSH key {first_fp} of user Acme/alice" in outcome.lines
    again = await apply(services, blueprint([second, first]))

    assert [line for line in again.lines if "SSH key" in line] == [
        f"created SSH key {second_fp} of user Acme/alice"
    ]
    assert sorted(await alice_fingerprints(services)) == sorted([first_fp, second_fp])
    await apply(services, blueprint([second]))
    assert len(await alice_fingerprints(services)) == 2  # a key left out of the file stays


def test_a_line_that_is_no_key_is_refused_at_its_path():
    with pytest.raises(BlueprintError) as refused:
        parse(tomllib.loads(blueprint(["ssh-ed25519 AAAA-not-a-key me"])))
    assert str(refused.value).startswith("orgs[0].users[0].ssh_keys[0]: paste one public key")


async def test_another_users_key_is_refused_and_nothing_is_kept(services: Services):
    line, _ = key_line("shared")
    with pytest.raises(BlueprintError) as refused:
        await apply(services, blueprint([line], bob_keys=[line]))
    assert "orgs[0].users[1].ssh_keys[0]" in str(refused.value)
    assert "registered already" in str(refused.value)
