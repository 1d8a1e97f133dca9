"""Offline recovery: `zitui recover --user LOGINNAME` unlocks a user, sets a one-time password
that must be changed at the next sign-in, ends the user's sessions and tokens, and is audited;
it works on the data directory alone, also while a server runs on it."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests import oidc_fixtures as fx
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.oidc_fixtures import Harness, World
from tests.processes import free_port, reaped, run, spawn, wait_healthy, zitui_env
from zitui.core.context import Context, RequestMeta
from zitui.core.ids import new_id
from zitui.core.policies import LockoutPolicy, to_settings
from zitui.core.recovery import ORIGIN, Recovery, recover_user
from zitui.core.services import Services, open_services
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed, ZituiError
from zitui.records import Event, UserState
from zitui.store import EventFilter

clock, harness, world = fx.clock, fx.harness, fx.world
ONE_TIME = re.compile(r"one-time password (\S+) \(shown once; change it at first sign-in\)")
TEST = RequestMeta(origin="test")


async def _events(services: Services, user_id: str) -> list[Event]:
    async with services.store.reader() as tx:
        events, _ = await tx.events.list(EventFilter(aggregate_id=user_id), offset=0, limit=500)
    return events


async def _recover(services: Services, login_name: str) -> Recovery:
    ctx = services.system_context(ORIGIN)
    return await recover_user(services.store, services.hasher, ctx, login_name)


async def test_recovery_ends_sessions_and_tokens_and_requires_a_new_password(
    services: Services, harness: Harness, world: World
):
    alice = world.alice
    signed_in = await harness.code_flow(world.clients["basic"], alice)
    assert signed_in["code"]
    async with services.store.reader() as tx:
        assert await tx.sessions.list_for_user(alice.id)
    done = await _recover(services, alice.login_name)

    assert (done.user.id, done.unlocked) == (alice.id, False)
    assert done.user.password_change_required and done.user.state is UserState.ACTIVE
    assert done.access_ended.sessions >= 1
    async with services.store.reader() as tx:
        assert await tx.sessions.list_for_user(alice.id) == []
    (event,) = [e for e in await _events(services, alice.id) if e.event_type.endswith("recovered")]
    assert event.event_type == "user.human.recovered"
    assert event.actor_id == services.system_context().actor_id
    assert event.payload["origin"] == "recover"
    assert (event.payload["unlocked"], event.payload["change_required"]) == (False, True)
    assert event.payload["access_ended"] == done.access_ended.payload()
    with pytest.raises(ZituiError):
        await harness.sign_in(alice)  # the old password is gone
    await harness.sign_in(alice, password=done.password)


async def test_recovery_refuses_unknown_ambiguous_machine_and_deactivated_users(
    services: Services, admin: Context, world: World
):
    with pytest.raises(NotFound) as unknown:
        await _recover(services, "nobody@nowhere.example")
    assert unknown.value.code == "recover.user_not_found"

    other = await services.orgs.create_org(admin, "Other")
    await fx._human(services, admin, other.id, "alice", "Alice", "Other")
    with pytest.raises(InvalidArgument) as ambiguous:
        await _recover(services, "alice")
    assert ambiguous.value.code == "recover.ambiguous"

    assert world.robot is not None
    with pytest.raises(PreconditionFailed) as machine:
        await _recover(services, world.robot.login_name)
    assert machine.value.code == "recover.not_human"

    await services.users.deactivate_user(admin, world.bob.id)
    before = await _events(services, world.bob.id)
    with pytest.raises(PreconditionFailed) as inactive:
        await _recover(services, world.bob.login_name)
    assert inactive.value.code == "recover.user_inactive"
    assert await _events(services, world.bob.id) == before


async def _lock_out(services: Services, login_name: str) -> None:
    """Failed passwords lock the user under a lockout policy of two attempts."""
    admin = (await services.users.list_users(services.system_context(), search="admin")).items[0]
    async with services.store.transaction() as tx:
        policy = to_settings(LockoutPolicy(max_password_attempts=2))
        await tx.policies.insert(
            new_id(), "lockout", policy, org_id=admin.org_id, at=services.clock.now()
        )
    for _ in range(2):
        with pytest.raises(ZituiError):
            await services.auth.login_operator(login_name, "Wrong-Pass-1!", TEST)
    async with services.store.reader() as tx:
        found = await tx.users.find(admin.id)
    assert found is not None and found.state is UserState.LOCKED


async def test_the_locked_out_last_owner_recovers_with_the_command_while_the_server_runs(
    tmp_path: Path, clock
):
    data = tmp_path / "data"
    port = free_port()
    env = zitui_env(data)
    login = "admin@zitui.127.0.0.1"
    with reaped(spawn(["serve", "--listen", f"127.0.0.1:{port}"], env)) as server:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        services, _ = await open_services(make_settings(data), clock=clock)
        try:
            await _lock_out(services, login)
            done = run(["recover", "--user", login], env)
            assert done.returncode == 0, done.stderr
            (line,) = done.stdout.splitlines()
            assert line.startswith(f"zitui: recovered {login} (unlocked); one-time password ")
            match = ONE_TIME.search(line)
            assert match is not None
            signed_in = await services.auth.login_operator(login, match.group(1), TEST)
            assert signed_in.password_change_required
            assert signed_in.user.state is UserState.ACTIVE
            with pytest.raises(ZituiError):
                await services.auth.login_operator(login, ADMIN_PASSWORD, TEST)

            events = await _events(services, signed_in.user.id)
            unknown = run(["recover", "--user", "nobody@zitui.127.0.0.1"], env)
            assert unknown.returncode == 1
            assert unknown.stderr.splitlines() == [
                "zitui: no user signs in as 'nobody@zitui.127.0.0.1'"
            ]
            assert await _events(services, signed_in.user.id) == events
        finally:
            await services.close()
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0


def test_recover_needs_an_existing_instance_and_creates_nothing(tmp_path: Path):
    data = tmp_path / "data"
    done = run(["recover", "--user", "admin"], zitui_env(data))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"zitui: {data} holds no zitui instance; start zitui there first"
    ]
    assert not data.exists()
