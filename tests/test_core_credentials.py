"""The password check: no account state told to a guesser, and a state re-checked on success."""

from __future__ import annotations

from typing import Any

import pytest

from tests.counting import CountingHasher, CountingStore
from tests.dbfile import rows
from tests.test_core_audit import _events
from tests.test_core_sessions import PASSWORD, add_human
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import CheckedUser, PasswordChecker
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.errors import ZituiError
from zitui.records import Organization, User

META = RequestMeta(origin="test", ip="192.0.2.7", user_agent="pytest")
WRONG = "Wrong-Pass-1!"


@pytest.fixture
def hasher(services: Services) -> CountingHasher:
    return CountingHasher(services.hasher)


@pytest.fixture
def store(services: Services) -> CountingStore:
    return CountingStore(services.store)


@pytest.fixture
def checker(services: Services, hasher: CountingHasher, store: CountingStore) -> PasswordChecker:
    return PasswordChecker(store, hasher, services.clock)  # type: ignore[arg-type]


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


async def verify(checker: PasswordChecker, name: str, password: str) -> CheckedUser:
    return await checker.verify(name, password, META, policy=LoginPolicy())


async def answer(checker: PasswordChecker, name: str, password: str) -> tuple[str, ...]:
    """What the one who signs in is told: the error's every visible part."""
    with pytest.raises(ZituiError) as caught:
        await verify(checker, name, password)
    error = caught.value
    return (error.code, error.message, error.field or "", error.kind)


async def test_no_account_state_is_told_and_every_failure_costs_the_same(
    services: Services,
    admin: Context,
    acme: Organization,
    checker: PasswordChecker,
    hasher: CountingHasher,
    store: CountingStore,
    settings: Any,
) -> None:
    locked = await add_human(services, admin, acme.id, "locked")
    await services.users.lock_user(admin, locked.id)
    inactive = await add_human(services, admin, acme.id, "inactive")
    await services.users.deactivate_user(admin, inactive.id)
    beta = await services.orgs.create_org(admin, "Beta")
    await add_human(services, admin, beta.id, "stranded")
    await services.orgs.deactivate_org(admin, beta.id)
    await add_human(services, admin, acme.id, "active")
    await services.machines.create_machine_user(admin, acme.id, "robot", "Robot")
    answers, costs = set(), set()
    for name in ("locked", "inactive", "stranded", "active", "robot", "ghost"):
        for password in (PASSWORD, WRONG):
            if (name, password) == ("active", PASSWORD):
                continue
            hasher.verified.clear()
            store.transactions = 0
            answers.add(await answer(checker, name, password))
            costs.add((len(hasher.verified), store.transactions))
    assert answers == {
        ("auth.bad_credentials", "the username or password is wrong", "password", "unauthenticated")
    }
    # One argon2 verification each, the throttle's reservation and the failure's transaction.
    assert costs == {(1, 2)}
    # A refused user's failure counter and state stay as they were.
    query = "SELECT state, failed_password_attempts FROM users WHERE id = ?"
    assert rows(settings.data_dir, query, locked.id) == [("locked", 0)]
    assert rows(settings.data_dir, query, inactive.id) == [("inactive", 0)]


async def test_a_refused_attempt_is_audited_with_its_reason(
    services: Services, admin: Context, acme: Organization, checker: PasswordChecker
) -> None:
    alice = await add_human(services, admin, acme.id, "alice")
    await services.users.lock_user(admin, alice.id)
    await answer(checker, "alice", PASSWORD)
    event = (await _events(services))[0]
    assert (event.event_type, event.aggregate_id) == ("user.human.password.check.failed", alice.id)
    assert event.payload == {"refused": "locked"}


async def _lock(services: Services, admin: Context, user: User) -> None:
    await services.users.lock_user(admin, user.id)


async def _deactivate(services: Services, admin: Context, user: User) -> None:
    await services.users.deactivate_user(admin, user.id)


async def _deactivate_org(services: Services, admin: Context, user: User) -> None:
    await services.orgs.deactivate_org(admin, user.org_id)


async def _new_password(services: Services, admin: Context, user: User) -> None:
    await services.users.set_password(admin, user.id, "Other-Pass-2!", change_required=False)


@pytest.mark.parametrize("change", [_lock, _deactivate, _deactivate_org, _new_password])
async def test_a_change_while_the_hash_runs_refuses_the_confirmation(
    services: Services,
    admin: Context,
    acme: Organization,
    checker: PasswordChecker,
    change: Any,
) -> None:
    alice = await add_human(services, admin, acme.id, "alice")
    checked = await verify(checker, "alice", PASSWORD)
    await change(services, admin, alice)
    before = len(await _events(services))
    with pytest.raises(ZituiError) as caught:
        async with services.store.transaction() as tx:
            await checker.confirm(tx, checked, payload={})
    assert caught.value.code == "auth.bad_credentials"
    assert len(await _events(services)) == before


async def test_a_user_locked_while_the_hash_runs_gets_no_session(
    services: Services, admin: Context, acme: Organization, monkeypatch: Any
) -> None:
    alice = await add_human(services, admin, acme.id, "alice")
    real = services.hasher

    class LockingHasher(CountingHasher):
        async def verify(self, encoded: str | None, password: str) -> bool:
            matched = await real.verify(encoded, password)
            await services.users.lock_user(admin, alice.id)  # a manager, at that moment
            return matched

    monkeypatch.setattr(services.sessions._checker, "_hasher", LockingHasher(real))
    browser = new_browser_cookie()
    before = {event.id for event in await _events(services)}
    with pytest.raises(ZituiError) as caught:
        await services.sessions.check_password(browser, "alice", PASSWORD, META)
    assert caught.value.code == "auth.bad_credentials"
    assert await services.sessions.list_browser_sessions(browser) == []
    new = [e.event_type for e in await _events(services) if e.id not in before]
    assert new == ["user.locked"]
