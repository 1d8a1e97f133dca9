"""Machine users: creation, JWT-profile keys, personal access tokens and client secrets."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from tests.test_core_permissions import _sign_in, _user_in
from zitui.core.access import AccessEnded
from zitui.core.context import Context
from zitui.core.services import Services
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Organization, Scope, TokenType, User, UserKind, UserState

NOTHING_ENDED = AccessEnded().payload()  # the user had no sessions or tokens


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


@pytest.fixture
async def robot(services: Services, admin: Context, acme: Organization) -> User:
    return await services.machines.create_machine_user(admin, acme.id, "robot", "Robot")


@pytest.fixture
async def outsider(services: Services, admin: Context) -> Context:
    return await sign_in_org_owner(services, admin, "Other")


async def test_create_machine_user(services, admin, acme):
    created: list[User] = []

    async def create() -> None:
        created.append(
            await services.machines.create_machine_user(
                admin,
                acme.id,
                "ci-bot",
                "  CI   Bot ",
                description="Deploys things",
                access_token_type=TokenType.JWT,
            )
        )

    event = await _one_event(services, create)
    user = created[0]
    assert (user.kind, user.state, user.display_name) == (
        UserKind.MACHINE,
        UserState.ACTIVE,
        "CI Bot",
    )
    assert (user.description, user.access_token_type, user.has_secret) == (
        "Deploys things",
        TokenType.JWT,
        False,
    )
    assert user.login_name == f"ci-bot@{acme.primary_domain}"
    assert (event.event_type, event.aggregate_id) == ("user.machine.added", user.id)
    assert event.payload == {
        "username": "ci-bot",
        "name": "CI Bot",
        "description": "Deploys things",
        "access_token_type": "jwt",
    }
    assert (await services.users.get_user(admin, user.id)) == user


async def test_create_machine_user_refusals(services, admin, acme, robot):
    await _user_in(services, admin, acme.id, "bob")
    machines = services.machines
    for username in ("robot", "BOB"):
        with pytest.raises(AlreadyExists) as caught:
            await machines.create_machine_user(admin, acme.id, username, "Again")
        assert caught.value.field == "username"
    cases = [
        (lambda: machines.create_machine_user(admin, acme.id, "has space", "X"), "username"),
        (lambda: machines.create_machine_user(admin, acme.id, "x", "  "), "name"),
        (
            lambda: machines.create_machine_user(
                admin, acme.id, "x", "X", access_token_type="paseto"
            ),
            "access_token_type",
        ),
        (
            lambda: machines.create_machine_user(admin, acme.id, "x", "X", description="d" * 501),
            "description",
        ),
    ]
    for command, field in cases:
        with pytest.raises(InvalidArgument) as caught:
            await command()
        assert caught.value.field == field
    await _no_event(
        services, lambda: machines.create_machine_user(admin, "nope", "x", "X"), NotFound
    )


async def test_machine_key_is_zitadels_key_file_and_only_the_public_half_is_stored(
    services, admin, robot, settings
):
    results = []

    async def add() -> None:
        results.append(await services.machines.add_machine_key(admin, robot.id))

    event = await _one_event(services, add)
    key, key_file = results[0]
    assert list(key_file) == ["type", "keyId", "key", "userId"]
    assert key_file["type"] == "serviceaccount"
    assert (key_file["keyId"], key_file["userId"]) == (key.id, robot.id)
    assert key_file["key"].startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    json.dumps(key_file)
    private = serialization.load_pem_private_key(key_file["key"].encode(), password=None)
    assert private.key_size == 2048
    assert (event.event_type, event.payload) == (
        "user.machine.key.added",
        {"key_id": key.id, "expires_at": None},
    )

    stored = rows(settings.data_dir, "SELECT * FROM machine_keys WHERE id = ?", key.id)
    assert "PRIVATE" not in str(stored)
    async with services.store.reader() as tx:
        public = await tx.machines.find_key(key.id)
        assert await tx.machines.find_key("nope") is None
    assert public.user_id == robot.id
    expected = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public.public_key_pem == expected.decode()
    assert await services.machines.list_machine_keys(admin, robot.id) == [key]


async def test_machine_key_expiry(services, admin, robot):
    now = services.clock.now()
    key, _ = await services.machines.add_machine_key(
        admin, robot.id, expires_at=now + timedelta(days=30)
    )
    assert key.expires_at == now + timedelta(days=30)
    for past in (now, now - timedelta(seconds=1)):
        with pytest.raises(InvalidArgument) as caught:
            await services.machines.add_machine_key(admin, robot.id, expires_at=past)
        assert caught.value.field == "expires_at"
    with pytest.raises(InvalidArgument) as caught:
        await services.machines.add_personal_access_token(
            admin, robot.id, expires_at=now - timedelta(days=1)
        )
    assert caught.value.field == "expires_at"


async def test_remove_machine_key(services, admin, robot):
    key, _ = await services.machines.add_machine_key(admin, robot.id)
    event = await _one_event(
        services, lambda: services.machines.remove_machine_key(admin, robot.id, key.id)
    )
    assert (event.event_type, event.payload) == (
        "user.machine.key.removed",
        {"key_id": key.id, "access_ended": NOTHING_ENDED},
    )
    assert await services.machines.list_machine_keys(admin, robot.id) == []
    await _no_event(
        services, lambda: services.machines.remove_machine_key(admin, robot.id, key.id), NotFound
    )


async def test_credentials_are_for_machine_users_only(services, admin, acme):
    bob_id = await _user_in(services, admin, acme.id, "bob")
    machines = services.machines
    for command in (
        lambda: machines.add_machine_key(admin, bob_id),
        lambda: machines.add_personal_access_token(admin, bob_id),
        lambda: machines.generate_machine_secret(admin, bob_id),
        lambda: machines.remove_machine_secret(admin, bob_id),
    ):
        await _no_event(services, command, PreconditionFailed)


async def test_personal_access_token_is_stored_as_digest(services, admin, robot, settings):
    results = []
    expires = services.clock.now() + timedelta(days=7)

    async def add() -> None:
        results.append(
            await services.machines.add_personal_access_token(admin, robot.id, expires_at=expires)
        )

    event = await _one_event(services, add)
    token, secret = results[0]
    assert len(secret) >= 40
    assert event.event_type == "user.personal.token.added"
    assert event.payload == {"token_id": token.id, "expires_at": expires.isoformat()}
    stored = rows(settings.data_dir, "SELECT * FROM personal_access_tokens")
    assert secret not in str(stored)
    assert rows(settings.data_dir, "SELECT token_digest FROM personal_access_tokens") == [
        (_sha256(secret),)
    ]
    async with services.store.reader() as tx:
        owner = await tx.machines.find_by_pat_digest(_sha256(secret))
        assert await tx.machines.find_by_pat_digest(_sha256("guess")) is None
    assert (owner.token_id, owner.user_id, owner.org_id) == (token.id, robot.id, robot.org_id)
    assert (owner.user_state, owner.expires_at) == (UserState.ACTIVE, expires)
    assert await services.machines.list_personal_access_tokens(admin, robot.id) == [token]

    event = await _one_event(
        services,
        lambda: services.machines.remove_personal_access_token(admin, robot.id, token.id),
    )
    assert (event.event_type, event.payload) == (
        "user.personal.token.removed",
        {"token_id": token.id},
    )
    assert await services.machines.list_personal_access_tokens(admin, robot.id) == []
    await _no_event(
        services,
        lambda: services.machines.remove_personal_access_token(admin, robot.id, token.id),
        NotFound,
    )


async def test_machine_secret_is_stored_as_digest_and_replaced(
    services, admin, acme, robot, settings
):
    results = []

    async def generate() -> None:
        results.append(await services.machines.generate_machine_secret(admin, robot.id))

    event = await _one_event(services, generate)
    client_id, secret = results[0]
    assert client_id == "robot" and len(secret) >= 40
    assert (event.event_type, event.payload) == (
        "user.machine.secret.set",
        {"access_ended": NOTHING_ENDED},
    )
    query = "SELECT secret_digest FROM users WHERE id = ?"
    assert rows(settings.data_dir, query, robot.id) == [(_sha256(secret),)]
    assert (await services.users.get_user(admin, robot.id)).has_secret

    async with services.store.reader() as tx:
        by_name = await tx.machines.find_secret("robot")
        by_login = await tx.machines.find_secret(f"robot@{acme.primary_domain}")
        assert await tx.machines.find_secret("nobody") is None
    assert by_name == by_login
    assert (by_name.user.id, by_name.secret_digest) == (robot.id, _sha256(secret))

    _, second = await services.machines.generate_machine_secret(admin, robot.id)
    assert second != secret
    assert rows(settings.data_dir, query, robot.id) == [(_sha256(second),)]

    event = await _one_event(
        services, lambda: services.machines.remove_machine_secret(admin, robot.id)
    )
    assert event.event_type == "user.machine.secret.removed"
    assert rows(settings.data_dir, query, robot.id) == [(None,)]
    assert not (await services.users.get_user(admin, robot.id)).has_secret
    await _no_event(
        services, lambda: services.machines.remove_machine_secret(admin, robot.id), NotFound
    )


async def test_same_machine_name_in_two_orgs_needs_the_login_name(services, admin, acme, robot):
    beta = await services.orgs.create_org(admin, "Beta")
    twin = await services.machines.create_machine_user(admin, beta.id, "robot", "Twin")
    await services.machines.generate_machine_secret(admin, robot.id)
    await services.machines.generate_machine_secret(admin, twin.id)
    async with services.store.reader() as tx:
        assert await tx.machines.find_secret("robot") is None
        found = await tx.machines.find_secret(f"robot@{beta.primary_domain}")
    assert found.user.id == twin.id


async def test_no_secret_reaches_the_audit_log(services, admin, robot):
    _, key_file = await services.machines.add_machine_key(admin, robot.id)
    _, token = await services.machines.add_personal_access_token(admin, robot.id)
    _, secret = await services.machines.generate_machine_secret(admin, robot.id)
    logged = json.dumps([e.payload for e in await _events(services)])
    for value in (key_file["key"], token, secret, _sha256(token), _sha256(secret)):
        assert value not in logged


async def test_issuing_credentials_needs_credential_write(services, admin, acme, robot):
    """A user manager may not mint credentials for a machine that may hold manager roles."""
    manager_id = await _user_in(services, admin, acme.id, "manager")
    await services.memberships.add_member(
        admin, manager_id, Scope.ORG, acme.id, ["ORG_USER_MANAGER"]
    )
    manager = await _sign_in(services, f"manager@{acme.primary_domain}")
    for command in (
        lambda: services.machines.add_machine_key(manager, robot.id),
        lambda: services.machines.add_personal_access_token(manager, robot.id),
        lambda: services.machines.generate_machine_secret(manager, robot.id),
    ):
        await assert_denied(services, command)
    assert await services.machines.list_machine_keys(manager, robot.id) == []
    other = await services.machines.create_machine_user(manager, acme.id, "helper", "Helper")
    assert other.kind is UserKind.MACHINE


async def test_org_owner_of_another_org_is_refused(services, admin, acme, robot, outsider):
    machines = services.machines
    key, _ = await machines.add_machine_key(admin, robot.id)
    token, _ = await machines.add_personal_access_token(admin, robot.id)
    for command in (
        lambda: machines.create_machine_user(outsider, acme.id, "mole", "Mole"),
        lambda: machines.add_machine_key(outsider, robot.id),
        lambda: machines.list_machine_keys(outsider, robot.id),
        lambda: machines.remove_machine_key(outsider, robot.id, key.id),
        lambda: machines.add_personal_access_token(outsider, robot.id),
        lambda: machines.list_personal_access_tokens(outsider, robot.id),
        lambda: machines.remove_personal_access_token(outsider, robot.id, token.id),
        lambda: machines.generate_machine_secret(outsider, robot.id),
        lambda: machines.remove_machine_secret(outsider, robot.id),
    ):
        await assert_denied(services, command)
