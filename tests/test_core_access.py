"""Credential changes end access: a password set or changed, a lock, a deactivation or a
removal ends the user's browser sessions, refresh tokens, access tokens (opaque and JWT) and
unredeemed codes, in the same transaction as the change, and the change's event counts them.
Machine users lose their issued tokens the same way, and when a key or secret is taken away.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Client, Harness, World
from tests.test_core_orgs import sign_in_org_owner
from zitui.core import user_lifecycle
from zitui.core.access import AccessEnded, end_user_access
from zitui.core.apps import OidcConfigChange
from zitui.core.context import Actor, Context
from zitui.core.crypto import tokens
from zitui.errors import InvalidArgument, PermissionDenied
from zitui.records import Event, Session, TokenType, User
from zitui.server import paths
from zitui.store import EventFilter

clock, harness, world = fx.clock, fx.harness, fx.world
NEW_PASSWORD = "Another-Pass-2!"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def client_auth(client: Client) -> dict[str, str]:
    return basic(client.client_id, client.secret or "")


@dataclass(frozen=True)
class Browser:
    """One browser where alice signed in to the `basic` app: its cookie and tokens."""

    cookie: str
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class SignedIn:
    opaque: Browser  # the app issued an opaque access token
    jwt: Browser  # the app issued a JWT access token
    pending_code: str  # issued to the first browser, not redeemed yet


async def redeem(harness: Harness, client: Client, code: str) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": fx.WEB_CALLBACK}
    return await harness.http.post(paths.TOKEN, data=data, headers=client_auth(client))


async def browser(harness: Harness, client: Client, user: User) -> Browser:
    result = await harness.code_flow(client, user, scope="openid offline_access")
    body = (await redeem(harness, client, result["code"])).json()
    return Browser(result["_cookie"], body["access_token"], body["refresh_token"])


async def sign_in_twice(harness: Harness, world: World) -> SignedIn:
    """Alice on two browsers, one access token opaque and one a JWT, and a code not redeemed."""
    client = world.clients["basic"]
    opaque = await browser(harness, client, world.alice)
    pending = await harness.code_flow(
        client, world.alice, scope="openid offline_access", cookie=opaque.cookie
    )
    await harness.services.apps.update_oidc_config(
        world.admin, client.app.id, OidcConfigChange(access_token_type=TokenType.JWT)
    )
    signed_jwt = await browser(harness, client, world.alice)
    assert signed_jwt.access_token.count(".") == 2 and opaque.access_token.count(".") != 2
    return SignedIn(opaque=opaque, jwt=signed_jwt, pending_code=pending["code"])


async def introspect(harness: Harness, world: World, token: str) -> dict[str, Any]:
    api = world.clients["api"]
    response = await harness.http.post(
        paths.INTROSPECT, data={"token": token}, headers=client_auth(api)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def userinfo_status(harness: Harness, token: str) -> int:
    response = await harness.http.get(paths.USERINFO, headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def refresh(harness: Harness, world: World, token: str) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return await harness.http.post(
        paths.TOKEN, data=data, headers=client_auth(world.clients["basic"])
    )


async def active_sessions(harness: Harness, user: User) -> list[Session]:
    async with harness.services.store.reader() as tx:
        return await tx.sessions.list_for_user(user.id)


async def assert_signed_in(harness: Harness, world: World, signed: SignedIn) -> None:
    for each in (signed.opaque, signed.jwt):
        assert (await introspect(harness, world, each.access_token))["active"] is True
        assert await userinfo_status(harness, each.access_token) == 200
    assert len(await active_sessions(harness, world.alice)) == 2
    assert (await refresh(harness, world, signed.jwt.refresh_token)).status_code == 200
    assert (await redeem(harness, world.clients["basic"], signed.pending_code)).status_code == 200


async def assert_signed_out(harness: Harness, world: World, signed: SignedIn) -> None:
    for each in (signed.opaque, signed.jwt):
        assert await introspect(harness, world, each.access_token) == {"active": False}
        assert await userinfo_status(harness, each.access_token) == 401
        response = await refresh(harness, world, each.refresh_token)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert await active_sessions(harness, world.alice) == []
    response = await redeem(harness, world.clients["basic"], signed.pending_code)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def revoked_at(harness: Harness, signed: SignedIn) -> list[object]:
    """When each stored access token was revoked (None: still live); [] once they are gone."""
    jti = (await harness.verify(signed.jwt.access_token))["jti"]
    async with harness.services.store.reader() as tx:
        found = [
            await tx.access_tokens.find_by_digest(tokens.digest(signed.opaque.access_token)),
            await tx.access_tokens.find(jti),
        ]
    return [token.revoked_at for token in found if token is not None]


async def events_of(harness: Harness, event_type: str) -> list[Event]:
    async with harness.services.store.reader() as tx:
        events, _ = await tx.events.list(EventFilter(), offset=0, limit=500)
    return [event for event in events if event.event_type == event_type]


ENDED_ON_TWO_BROWSERS = {"sessions": 2, "refresh_tokens": 2, "access_tokens": 2, "codes": 1}
Command = Callable[[Harness, World], Awaitable[Any]]


def as_alice(harness: Harness, world: World) -> Context:
    alice = world.alice
    actor = Actor(user_id=alice.id, org_id=alice.org_id, login_name=alice.login_name)
    return Context(clock=harness.services.clock, actor=actor)


async def _reset(harness: Harness, world: World) -> None:
    await harness.services.users.set_password(world.admin, world.alice.id, NEW_PASSWORD)


async def _set(harness: Harness, world: World) -> None:
    users = harness.services.users
    await users.set_password(world.admin, world.alice.id, NEW_PASSWORD, change_required=False)


async def _own(harness: Harness, world: World) -> None:
    ctx = as_alice(harness, world)
    await harness.services.users.change_own_password(ctx, fx.PASSWORD, NEW_PASSWORD)


async def _lock(harness: Harness, world: World) -> None:
    # Unlocked again at once: what the lock ended must stay ended.
    await harness.services.users.lock_user(world.admin, world.alice.id)
    await harness.services.users.unlock_user(world.admin, world.alice.id)


async def _deactivate(harness: Harness, world: World) -> None:
    await harness.services.users.deactivate_user(world.admin, world.alice.id)
    await harness.services.users.reactivate_user(world.admin, world.alice.id)


async def _remove(harness: Harness, world: World) -> None:
    await harness.services.users.remove_user(world.admin, world.alice.id)


HUMAN_COMMANDS: dict[str, tuple[Command, str]] = {
    "manager_reset": (_reset, "user.human.password.changed"),
    "manager_set_password": (_set, "user.human.password.changed"),
    "own_password_change": (_own, "user.human.password.changed"),
    "lock": (_lock, "user.locked"),
    "deactivate": (_deactivate, "user.deactivated"),
    "remove": (_remove, "user.removed"),
}


@pytest.mark.parametrize("name", list(HUMAN_COMMANDS))
async def test_a_credential_change_signs_the_user_out_everywhere(
    harness: Harness, world: World, name: str
) -> None:
    command, event_type = HUMAN_COMMANDS[name]
    signed = await sign_in_twice(harness, world)
    await command(harness, world)
    if name != "remove":
        # Marked revoked, not deleted: the rows stay until they expire.
        revoked = await revoked_at(harness, signed)
        assert len(revoked) == 2 and None not in revoked
    await assert_signed_out(harness, world, signed)
    [event] = await events_of(harness, event_type)
    assert event.aggregate_id == world.alice.id
    assert event.payload["access_ended"] == ENDED_ON_TWO_BROWSERS


async def test_a_refused_command_ends_nothing(harness: Harness, world: World) -> None:
    signed = await sign_in_twice(harness, world)
    outsider = await sign_in_org_owner(harness.services, world.admin, "Other")
    users = harness.services.users
    for command in (
        lambda: users.lock_user(outsider, world.alice.id),
        lambda: users.deactivate_user(outsider, world.alice.id),
        lambda: users.remove_user(outsider, world.alice.id),
        lambda: users.set_password(outsider, world.alice.id, NEW_PASSWORD),
    ):
        with pytest.raises(PermissionDenied):
            await command()
    with pytest.raises(InvalidArgument):
        await users.set_password(world.admin, world.alice.id, "weak")
    with pytest.raises(InvalidArgument):
        await users.change_own_password(as_alice(harness, world), "wrong", NEW_PASSWORD)
    assert await revoked_at(harness, signed) == [None, None]
    await assert_signed_in(harness, world, signed)


async def test_a_change_that_fails_late_keeps_access(
    harness: Harness, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The access ends in the change's own transaction: when its event cannot be written,
    the lock rolls back and so does the sign-out."""
    signed = await sign_in_twice(harness, world)

    async def failing(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(user_lifecycle, "record", failing)
    with pytest.raises(RuntimeError):
        await harness.services.users.lock_user(world.admin, world.alice.id)
    monkeypatch.undo()
    assert await revoked_at(harness, signed) == [None, None]
    await assert_signed_in(harness, world, signed)


async def test_end_user_access_keeps_one_session(harness: Harness, world: World) -> None:
    """The building block for a user's own change on one browser: that browser stays signed
    in with its tokens and codes; every other browser is signed out."""
    signed = await sign_in_twice(harness, world)
    async with harness.services.store.reader() as tx:
        kept = (await tx.sessions.list_for_browser(tokens.digest(signed.opaque.cookie)))[0]
    async with harness.services.store.transaction() as tx:
        ended = await end_user_access(
            tx, world.alice.id, at=harness.services.clock.now(), keep_session_id=kept.id
        )
    assert ended == AccessEnded(sessions=1, refresh_tokens=1, access_tokens=1, codes=0)
    assert (await introspect(harness, world, signed.opaque.access_token))["active"] is True
    assert await introspect(harness, world, signed.jwt.access_token) == {"active": False}
    assert (await refresh(harness, world, signed.opaque.refresh_token)).status_code == 200
    response = await refresh(harness, world, signed.jwt.refresh_token)
    assert response.json()["error"] == "invalid_grant"
    assert [s.id for s in await active_sessions(harness, world.alice)] == [kept.id]
    assert (await redeem(harness, world.clients["basic"], signed.pending_code)).status_code == 200


async def test_end_user_access_on_a_user_without_any_is_a_no_op(
    harness: Harness, world: World
) -> None:
    async with harness.services.store.transaction() as tx:
        ended = await end_user_access(tx, world.bob.id, at=harness.services.clock.now())
    assert ended == AccessEnded() and ended.payload() == {
        "sessions": 0,
        "refresh_tokens": 0,
        "access_tokens": 0,
        "codes": 0,
    }


# Machine users: the tokens they obtained with their secret and with their key.


def project_scope(world: World) -> str:
    return f"openid urn:zitadel:iam:org:project:id:{world.project.id}:aud"


async def token_by_secret(harness: Harness, world: World) -> str:
    response = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "client_credentials", "scope": project_scope(world)},
        headers=basic("robot", world.robot_secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def token_by_key(harness: Harness, world: World) -> str:
    assertion = robot_assertion(harness, world)
    data = {"grant_type": JWT_BEARER, "scope": project_scope(world), "assertion": assertion}
    response = await harness.http.post(paths.TOKEN, data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def robot_assertion(harness: Harness, world: World) -> str:
    """An RFC 7523 assertion signed with the robot's key file, as ZITADEL's SDKs make it."""
    key_file = world.robot_key
    now = int(time.time())
    claims = {"iss": key_file["userId"], "sub": key_file["userId"], "aud": harness.issuer}
    claims |= {"iat": now, "exp": now + 600}
    header = {"alg": "RS256", "kid": key_file["keyId"]}
    return jose_jwt.encode(header, claims, RSAKey.import_key(key_file["key"]))


async def assert_tokens(harness: Harness, world: World, issued: list[str], *, active: bool) -> None:
    for token in issued:
        assert (await introspect(harness, world, token))["active"] is active
        assert await userinfo_status(harness, token) == (200 if active else 401)


def robot(world: World) -> User:
    assert world.robot is not None
    return world.robot


async def _deactivate_robot(harness: Harness, world: World) -> None:
    await harness.services.users.deactivate_user(world.admin, robot(world).id)
    await harness.services.users.reactivate_user(world.admin, robot(world).id)


async def _lock_robot(harness: Harness, world: World) -> None:
    await harness.services.users.lock_user(world.admin, robot(world).id)
    await harness.services.users.unlock_user(world.admin, robot(world).id)


async def _remove_robot(harness: Harness, world: World) -> None:
    await harness.services.users.remove_user(world.admin, robot(world).id)


async def _remove_key(harness: Harness, world: World) -> None:
    key_id = world.robot_key["keyId"]
    await harness.services.machines.remove_machine_key(world.admin, robot(world).id, key_id)


async def _replace_secret(harness: Harness, world: World) -> None:
    await harness.services.machines.generate_machine_secret(world.admin, robot(world).id)


async def _remove_secret(harness: Harness, world: World) -> None:
    await harness.services.machines.remove_machine_secret(world.admin, robot(world).id)


MACHINE_COMMANDS: dict[str, tuple[Command, str]] = {
    "deactivate": (_deactivate_robot, "user.deactivated"),
    "lock": (_lock_robot, "user.locked"),
    "remove": (_remove_robot, "user.removed"),
    "remove_key": (_remove_key, "user.machine.key.removed"),
    "replace_secret": (_replace_secret, "user.machine.secret.set"),
    "remove_secret": (_remove_secret, "user.machine.secret.removed"),
}


@pytest.mark.parametrize("name", list(MACHINE_COMMANDS))
async def test_a_machine_credential_change_revokes_its_tokens(
    harness: Harness, world: World, name: str
) -> None:
    command, event_type = MACHINE_COMMANDS[name]
    issued = [await token_by_secret(harness, world), await token_by_key(harness, world)]
    await assert_tokens(harness, world, issued, active=True)
    await command(harness, world)
    await assert_tokens(harness, world, issued, active=False)
    events = await events_of(harness, event_type)
    assert events[0].aggregate_id == robot(world).id
    assert events[0].payload["access_ended"] == {
        "sessions": 0,
        "refresh_tokens": 0,
        "access_tokens": 2,
        "codes": 0,
    }


async def test_a_reactivated_machine_keeps_its_personal_access_token(
    harness: Harness, world: World
) -> None:
    """A personal access token is a credential, like the key and the secret: it is refused
    while the user is inactive and works again once reactivated; removing it ends it."""
    await _deactivate_robot(harness, world)
    assert await userinfo_status(harness, world.robot_pat) == 200
    [pat] = await harness.services.machines.list_personal_access_tokens(
        world.admin, robot(world).id
    )
    await harness.services.machines.remove_personal_access_token(
        world.admin, robot(world).id, pat.id
    )
    assert await userinfo_status(harness, world.robot_pat) == 401


async def test_a_first_secret_ends_nothing(harness: Harness, world: World) -> None:
    await _remove_secret(harness, world)
    token = await token_by_key(harness, world)
    await _replace_secret(harness, world)
    assert (await introspect(harness, world, token))["active"] is True
    [event, _] = await events_of(harness, "user.machine.secret.set")
    assert event.payload["access_ended"]["access_tokens"] == 0
