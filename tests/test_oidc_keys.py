"""Signing keys: the schedule (next key published ahead, previous kept until its tokens
expire), rotation on demand, and a cache that notices another process's rotation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from joserfc import jws

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, OffsetClock, World
from zitui.config import Settings
from zitui.core.context import Actor, Context
from zitui.core.events import EventQuery
from zitui.core.services import open_services
from zitui.errors import PermissionDenied
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world


async def kids(harness: Harness) -> list[str]:
    return [key["kid"] for key in (await harness.http.get(paths.KEYS)).json()["keys"]]


async def id_token(harness: Harness, world: World) -> str:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    response = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "authorization_code", "code": result["code"]},
        auth=(client.client_id, client.secret or ""),
    )
    token: str = response.json()["id_token"]
    return token


def kid_of(token: str) -> str:
    kid: str = jws.extract_compact(token.encode()).protected["kid"]
    return kid


async def test_the_next_key_is_published_before_it_signs(
    harness: Harness, world: World, clock: OffsetClock
) -> None:
    current, upcoming = await kids(harness)
    token = await id_token(harness, world)
    assert kid_of(token) == current

    clock.advance(timedelta(hours=6, minutes=6))  # the next key's turn
    published = await kids(harness)
    assert published[0] == upcoming and current in published
    assert len(published) == len(set(published)) == 3  # current, a new next, previous
    newer = await id_token(harness, world)
    assert kid_of(newer) == upcoming
    await harness.verify(token)  # tokens of the previous key still verify

    clock.advance(timedelta(hours=12, minutes=10))  # past the old key's last token
    assert current not in await kids(harness)


async def test_rotate_on_demand_promotes_the_published_next_key(
    harness: Harness, world: World
) -> None:
    current, upcoming = await kids(harness)
    before = await id_token(harness, world)
    promoted = await harness.services.keys.rotate(world.admin)
    assert promoted.kid == upcoming
    published = await kids(harness)
    assert published[0] == upcoming and current in published and len(published) == 3
    assert kid_of(await id_token(harness, world)) == upcoming
    await harness.verify(before)
    events = await harness.services.events.list_events(
        world.admin, EventQuery(event_type="instance.web_key.rotated")
    )
    assert events.items[0].payload["kid"] == upcoming
    assert events.items[0].payload["previous_kid"] == current


async def test_rotation_needs_the_web_key_permission(harness: Harness, world: World) -> None:
    nobody = Context(
        clock=harness.services.clock,
        actor=Actor(user_id=world.bob.id, org_id=world.org_id, login_name="bob"),
    )
    with pytest.raises(PermissionDenied):
        await harness.services.keys.rotate(nobody)


async def test_a_rotation_by_another_process_is_noticed(
    harness: Harness, world: World, settings: Settings, clock: OffsetClock
) -> None:
    current, upcoming = await kids(harness)
    tui, _ = await open_services(settings, clock=clock)  # e.g. `zitui tui` on the same data
    try:
        login = await tui.auth.login_operator("admin", "Admin-Pass-1!", world.admin.request)
        await tui.keys.rotate(login.context)
    finally:
        await tui.close()
    await asyncio.sleep(1.05)  # the cache compares its version at most once a second
    assert kid_of(await id_token(harness, world)) == upcoming
    assert (await kids(harness))[0] == upcoming
