"""SSH public keys of users: parsing and fingerprints as OpenSSH shows them, one key per user,
the self and manager permissions, events, and the console's key sign-in (managers only)."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import asyncssh
import pytest

from tests import test_core_sessions as session_tests
from tests.self_service import events_of
from tests.test_core_sessions import add_human
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import user_context
from zitui.core.services import Services
from zitui.core.ssh_keys import parse_public_key
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from zitui.records import Organization, Scope, User

acme, alice = session_tests.acme, session_tests.alice
META = RequestMeta(origin="ssh", ip="192.0.2.7")


def new_key_line(comment: str = "alice@laptop") -> str:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return bytes(key.export_public_key("openssh")).decode().strip()


async def as_user(services: Services, user: User) -> Context:
    """The user acting on their own user (no manager role)."""
    return user_context(services.clock, user, META)


def test_a_key_line_is_parsed_and_fingerprinted_as_openssh_does(tmp_path: Path):
    key_file = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "op@host", "-f", str(key_file)],
        check=True,
    )
    line = (tmp_path / "id_ed25519.pub").read_text()
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(key_file) + ".pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]

    parsed = parse_public_key(line)

    assert parsed.fingerprint == shown and shown.startswith("SHA256:")
    assert parsed.algorithm == "ssh-ed25519" and parsed.comment == "op@host"
    assert parsed.line == line.strip()


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("", "ssh_key.invalid"),
        ("ssh-ed25519", "ssh_key.invalid"),
        ("ssh-ed25519 bm90IGEga2V5 x", "ssh_key.invalid"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "ssh_key.invalid"),
        ("ssh-ed25519 AAAA\nssh-ed25519 AAAA", "ssh_key.invalid"),
    ],
)
def test_anything_but_one_public_key_line_is_refused(line: str, code: str):
    with pytest.raises(InvalidArgument) as refused:
        parse_public_key(line)
    assert refused.value.code == code and refused.value.field == "public_key"


def test_short_rsa_keys_are_refused():
    small = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    line = bytes(small.export_public_key("openssh")).decode()
    with pytest.raises(InvalidArgument) as refused:
        parse_public_key(line)
    assert refused.value.code == "ssh_key.algorithm_refused"


async def test_a_user_adds_lists_and_removes_their_own_key(services: Services, alice: User):
    me = await as_user(services, alice)
    line = new_key_line()

    added = await services.ssh_keys.add_key(me, alice.id, line)
    listed = await services.ssh_keys.list_keys(me, alice.id)

    assert [k.fingerprint for k in listed] == [parse_public_key(line).fingerprint]
    assert listed[0].line == line and listed[0].comment == "alice@laptop"
    [event] = await events_of(services, "user.human.ssh_key.added", alice.id)
    assert event.payload["fingerprint"] == added.fingerprint
    await services.ssh_keys.remove_key(me, alice.id, added.id)
    assert await services.ssh_keys.list_keys(me, alice.id) == ()
    assert await events_of(services, "user.human.ssh_key.removed", alice.id)


async def test_one_key_belongs_to_one_user(
    services: Services, admin: Context, acme: Organization, alice: User
):
    bob = await add_human(services, admin, acme.id, "bob")
    line = new_key_line()
    await services.ssh_keys.add_key(admin, alice.id, line)

    with pytest.raises(AlreadyExists) as taken:
        await services.ssh_keys.add_key(admin, bob.id, line.replace("alice@laptop", "other"))
    assert taken.value.code == "ssh_key.already_registered"
    assert await services.ssh_keys.list_keys(admin, bob.id) == ()


async def test_another_user_neither_reads_nor_removes_a_key(
    services: Services, admin: Context, acme: Organization, alice: User
):
    bob = await add_human(services, admin, acme.id, "bob")
    added = await services.ssh_keys.add_key(admin, alice.id, new_key_line())
    as_bob = await as_user(services, bob)

    with pytest.raises(PermissionDenied):
        await services.ssh_keys.list_keys(as_bob, alice.id)
    with pytest.raises(PermissionDenied):
        await services.ssh_keys.add_key(as_bob, alice.id, new_key_line("bob's"))
    with pytest.raises(NotFound):  # bob's own user holds no such key
        await services.ssh_keys.remove_key(as_bob, bob.id, added.id)
    assert len(await services.ssh_keys.list_keys(admin, alice.id)) == 1


async def test_a_manager_signs_in_with_a_key_and_others_are_refused(
    services: Services, admin: Context, acme: Organization, alice: User
):
    line = new_key_line()
    fingerprint = parse_public_key(line).fingerprint
    await services.ssh_keys.add_key(admin, alice.id, line)

    assert await services.console.key_matches(alice.login_name, fingerprint)
    assert not await services.console.key_matches("admin", fingerprint)
    with pytest.raises(PermissionDenied) as refused:
        await services.console.sign_in_with_key(alice.login_name, fingerprint, META)
    assert refused.value.code == "auth.not_manager"
    assert await events_of(services, "user.human.console.refused", alice.id)

    await services.memberships.add_member(admin, alice.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    login = await services.console.sign_in_with_key(alice.login_name, fingerprint, META)

    assert login.user.id == alice.id and login.context.actor is not None
    assert [m.roles for m in login.context.actor.memberships] == [("ORG_OWNER",)]
    [event] = await events_of(services, "user.human.ssh_key.check.succeeded", alice.id)
    assert event.payload["fingerprint"] == fingerprint
    [key] = await services.ssh_keys.list_keys(admin, alice.id)
    assert key.last_used_at is not None
    with pytest.raises(Unauthenticated):
        await services.console.sign_in_with_key("admin", fingerprint, META)


async def test_a_locked_user_is_refused_with_the_key(
    services: Services, admin: Context, acme: Organization, alice: User
):
    line = new_key_line()
    await services.ssh_keys.add_key(admin, alice.id, line)
    await services.memberships.add_member(admin, alice.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    await services.users.lock_user(admin, alice.id)

    with pytest.raises(Unauthenticated):
        await services.console.sign_in_with_key(
            alice.login_name, parse_public_key(line).fingerprint, META
        )
    [event] = await events_of(services, "user.human.ssh_key.check.failed", alice.id)
    assert event.payload["refused"] == "locked"


async def test_a_hand_off_token_works_once_and_within_its_minute(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
):
    line = new_key_line()
    await services.ssh_keys.add_key(admin, alice.id, line)
    await services.memberships.add_member(admin, alice.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    login = await services.console.sign_in_with_key(
        alice.login_name, parse_public_key(line).fingerprint, META
    )

    first, second = await services.console.hand_off(login), await services.console.hand_off(login)
    redeemed = await services.console.redeem(first, META)
    assert redeemed.user.id == alice.id and redeemed.context.actor is not None
    assert login.context.actor is not None
    assert redeemed.context.actor.memberships == login.context.actor.memberships
    with pytest.raises(Unauthenticated):
        await services.console.redeem(first, META)  # spent
    forged = second[:-4] + ("AAAA" if not second.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthenticated):
        await services.console.redeem(forged, META)
    clock.advance(timedelta(minutes=1))
    with pytest.raises(Unauthenticated):
        await services.console.redeem(second, META)  # expired
    with pytest.raises(Unauthenticated):
        await services.console.redeem("not-a-token", META)
