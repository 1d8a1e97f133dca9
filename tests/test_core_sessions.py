"""Browser sessions: password checks without enumeration, lockout, termination, and the one
rule for reusing a session."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.counting import CountingHasher
from tests.dbfile import rows
from tests.postgres import temporary_postgres
from tests.test_core_audit import _events, _no_event, _one_event
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.ids import new_id
from zitui.core.login.reuse import Demand, reusable
from zitui.core.policies import LockoutPolicy, LoginPolicy, to_settings
from zitui.core.services import Services, open_services
from zitui.core.sessions import (
    new_browser_cookie,
)
from zitui.core.users import NewHumanUser
from zitui.errors import (
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from zitui.records import Organization, Session, User, UserState

PASSWORD = "Alice-Pass-1!"
META = RequestMeta(origin="test", ip="192.0.2.1", user_agent="pytest")


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


async def add_human(
    services: Services, admin: Context, org_id: str, username: str, **extra: Any
) -> User:
    values: dict[str, Any] = {
        "username": username,
        "first_name": username.title(),
        "last_name": "Example",
        "password": PASSWORD,
    }
    values.update(extra)
    return await services.users.create_human_user(admin, org_id, NewHumanUser(**values))


@pytest.fixture
async def alice(services: Services, admin: Context, acme: Organization) -> User:
    return await add_human(
        services, admin, acme.id, "alice", email="alice@example.com", email_verified=True
    )


@pytest.fixture
def browser() -> str:
    return new_browser_cookie()


async def set_policy(services: Services, kind: str, org_id: str, policy: Any) -> None:
    async with services.store.transaction() as tx:
        await tx.policies.insert(
            new_id(), kind, to_settings(policy), org_id=org_id, at=services.clock.now()
        )


def test_browser_cookies_are_random_and_url_safe():
    cookies = {new_browser_cookie() for _ in range(50)}
    assert len(cookies) == 50
    assert all(len(c) == 43 and c.replace("-", "").replace("_", "").isalnum() for c in cookies)


async def test_password_check_starts_a_session_with_one_event(services, alice, browser, clock):
    found: list[Session] = []

    async def check() -> None:
        found.append(
            await services.sessions.check_password(browser, alice.login_name, PASSWORD, META)
        )

    event = await _one_event(services, check)
    session = found[0]
    assert (event.event_type, event.aggregate_id, event.actor_id) == (
        "user.human.password.check.succeeded",
        alice.id,
        alice.id,
    )
    assert event.payload == {"origin": "test", "session_id": session.id}
    assert PASSWORD not in str(event.payload) and browser not in str(event.payload)
    assert (session.user_id, session.org_id) == (alice.id, alice.org_id)
    assert (session.login_name, session.display_name) == ("alice@acme.127.0.0.1", "Alice Example")
    assert session.password_checked_at == clock.now() == session.auth_time
    assert session.second_factor_checked_at is None and session.multi_factor_checked_at is None
    assert session.amr == ["pwd"]
    assert not session.password_change_required


async def test_the_store_keeps_only_the_digest_of_the_browser_cookie(
    services, alice, browser, settings
):
    await services.sessions.check_password(browser, "alice", PASSWORD, META)
    stored = rows(settings.data_dir, "SELECT browser_digest, user_agent FROM sessions")
    assert stored == [(hashlib.sha256(browser.encode()).hexdigest(), "pytest")]
    dump = "\n".join(
        str(row)
        for table in ("sessions", "events")
        for row in rows(settings.data_dir, f"SELECT * FROM {table}")
    )
    assert browser not in dump and PASSWORD not in dump


async def test_one_session_per_browser_and_user(services, alice, browser, clock):
    first = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    clock.advance(timedelta(minutes=5))
    again = await services.sessions.check_password(browser, "alice@example.com", PASSWORD, META)
    assert again.id == first.id
    assert again.password_checked_at == clock.now() == again.last_used_at
    assert again.created_at == first.created_at
    elsewhere = await services.sessions.check_password(
        new_browser_cookie(), "alice", PASSWORD, META
    )
    assert elsewhere.id != first.id


async def test_login_names_username_domain_and_verified_email(
    services, admin, acme, alice, browser
):
    await services.orgs.add_domain(admin, acme.id, "acme.example.com")
    for name in ("alice", "ALICE@acme.127.0.0.1", "alice@acme.example.com", "alice@example.com"):
        session = await services.sessions.check_password(browser, name, PASSWORD, META)
        assert session.user_id == alice.id
    unverified = await add_human(services, admin, acme.id, "uma", email="uma@example.com")
    with pytest.raises(Unauthenticated):
        await services.sessions.check_password(browser, "uma@example.com", PASSWORD, META)
    assert (await services.sessions.check_password(browser, "uma", PASSWORD, META)).user_id == (
        unverified.id
    )


async def test_disable_login_with_email_in_the_orgs_policy(services, acme, alice, browser):
    await set_policy(services, "login", acme.id, LoginPolicy(disable_login_with_email=True))
    with pytest.raises(Unauthenticated):
        await services.sessions.check_password(
            browser, "alice@example.com", PASSWORD, META, org_id=acme.id
        )
    session = await services.sessions.check_password(
        browser, "alice", PASSWORD, META, org_id=acme.id
    )
    assert session.user_id == alice.id


async def test_the_org_hint_scopes_the_login_name(services, admin, acme, alice, browser):
    beta = await services.orgs.create_org(admin, "Beta")
    other = await add_human(services, admin, beta.id, "alice")
    with pytest.raises(Unauthenticated):  # a bare name in two organisations is ambiguous
        await services.sessions.check_password(browser, "alice", PASSWORD, META)
    ours = await services.sessions.check_password(browser, "alice", PASSWORD, META, org_id=acme.id)
    theirs = await services.sessions.check_password(
        browser, "alice", PASSWORD, META, org_id=beta.id
    )
    assert (ours.user_id, theirs.user_id) == (alice.id, other.id)
    with pytest.raises(Unauthenticated):
        await services.sessions.check_password(
            browser, alice.login_name, PASSWORD, META, org_id=beta.id
        )


async def test_unknown_machine_and_wrong_password_fail_alike(
    services, admin, acme, alice, browser, monkeypatch
):
    await services.machines.create_machine_user(admin, acme.id, "robot", "Robot")
    checker = services.sessions._checker
    hasher = CountingHasher(checker._hasher)
    monkeypatch.setattr(checker, "_hasher", hasher)
    failures = []
    for name in ("ghost", "robot", "robot@acme.127.0.0.1", "alice"):
        before = len(await _events(services))
        with pytest.raises(Unauthenticated) as caught:
            await services.sessions.check_password(browser, name, "Wrong-Pass-1!", META)
        failures.append(
            (caught.value.code, caught.value.message, caught.value.field, caught.value.kind)
        )
        written = len(await _events(services)) - before
        assert written == (1 if name == "alice" else 0)
    assert len(set(failures)) == 1
    assert failures[0][:1] == ("auth.bad_credentials",) and failures[0][2] == "password"
    # One argon2 verification each: against the dummy hash when there is no password to check.
    assert len(hasher.verified) == 4
    assert hasher.verified[:3] == [None, None, None] and hasher.verified[3]
    assert await services.sessions.list_browser_sessions(browser) == []


async def test_a_policy_without_passwords_refuses_the_password(services, acme, alice, browser):
    await set_policy(services, "login", acme.id, LoginPolicy(allow_username_password=False))
    await _no_event(
        services,
        lambda: services.sessions.check_password(browser, "alice", PASSWORD, META, org_id=acme.id),
        PreconditionFailed,
    )


async def test_failures_lock_the_user_per_the_lockout_policy(
    services, acme, alice, browser, settings
):
    await set_policy(services, "lockout", acme.id, LockoutPolicy(max_password_attempts=3))
    payloads = []
    for _ in range(3):
        event = await _one_event(
            services,
            lambda: _expect(
                services.sessions.check_password(browser, "alice", "Wrong-1!", META),
                Unauthenticated,
            ),
        )
        assert event.event_type == "user.human.password.check.failed"
        payloads.append(event.payload)
    assert payloads == [
        {"failures": 1, "locked": False},
        {"failures": 2, "locked": False},
        {"failures": 3, "locked": True},
    ]
    query = "SELECT state FROM users WHERE id = ?"
    assert rows(settings.data_dir, query, alice.id) == [("locked",)]
    # Locked now, the right password is answered like a wrong one.
    with pytest.raises(Unauthenticated) as caught:
        await services.sessions.check_password(browser, "alice", PASSWORD, META)
    assert caught.value.code == "auth.bad_credentials"
    assert await services.sessions.list_browser_sessions(browser) == []


async def test_a_success_resets_the_failure_count(services, acme, alice, browser, settings):
    await set_policy(services, "lockout", acme.id, LockoutPolicy(max_password_attempts=2))
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await services.sessions.check_password(browser, "alice", "Wrong-1!", META)
        await services.sessions.check_password(browser, "alice", PASSWORD, META)
    query = "SELECT state, failed_password_attempts FROM users WHERE id = ?"
    assert rows(settings.data_dir, query, alice.id) == [("active", 0)]


async def _expect(awaitable: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        await awaitable


async def test_deactivated_users_and_organisations_are_refused(
    services, admin, acme, alice, browser
):
    await services.users.deactivate_user(admin, alice.id)
    with pytest.raises(Unauthenticated) as caught:
        await services.sessions.check_password(browser, "alice", PASSWORD, META)
    assert caught.value.code == "auth.bad_credentials"
    await services.users.reactivate_user(admin, alice.id)
    await services.orgs.deactivate_org(admin, acme.id)
    event = await _one_event(
        services,
        lambda: _expect(
            services.sessions.check_password(browser, "alice", PASSWORD, META), Unauthenticated
        ),
    )
    assert (event.event_type, event.payload) == (
        "user.human.password.check.failed",
        {"refused": "org_inactive"},
    )
    assert await services.sessions.list_browser_sessions(browser) == []


async def test_the_browser_lists_its_sessions_newest_use_first(
    services, admin, acme, alice, browser, clock
):
    await add_human(services, admin, acme.id, "bob", display_name="Bobby")
    first = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    clock.advance(timedelta(minutes=1))
    second = await services.sessions.check_password(browser, "bob", PASSWORD, META)
    listed = await services.sessions.list_browser_sessions(browser)
    assert [(s.id, s.display_name) for s in listed] == [
        (second.id, "Bobby"),
        (first.id, "Alice Example"),
    ]
    clock.advance(timedelta(minutes=1))
    await services.sessions.touch(first.id)
    listed = await services.sessions.list_browser_sessions(browser)
    assert [s.id for s in listed] == [first.id, second.id]
    assert listed[0].last_used_at == clock.now()
    assert await services.sessions.list_browser_sessions(new_browser_cookie()) == []
    assert await services.sessions.list_browser_sessions("not a cookie") == []
    assert await services.sessions.find_session(first.id) == listed[0]
    assert await services.sessions.find_browser_session(new_browser_cookie(), first.id) is None


async def test_terminate_one_session_of_this_browser(services, alice, browser):
    session = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    await _no_event(
        services,
        lambda: services.sessions.terminate_session(new_browser_cookie(), session.id),
        NotFound,
    )
    event = await _one_event(
        services, lambda: services.sessions.terminate_session(browser, session.id, request=META)
    )
    assert (event.event_type, event.aggregate_type, event.aggregate_id, event.actor_id) == (
        "user.session.terminated",
        "user",
        alice.id,
        alice.id,
    )
    assert event.payload == {"session_ids": [session.id]}
    assert await services.sessions.find_session(session.id) is None
    assert await services.sessions.list_browser_sessions(browser) == []
    await _no_event(
        services, lambda: services.sessions.terminate_session(browser, session.id), NotFound
    )
    # Signing in again makes a new session: an ended id never comes back.
    again = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    assert again.id != session.id
    assert await services.sessions.find_session(session.id) is None


async def test_terminate_the_browser_ends_every_account_with_one_event(
    services, admin, acme, alice, browser, clock
):
    bob = await add_human(services, admin, acme.id, "bob")
    mine = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    clock.advance(timedelta(seconds=1))
    his = await services.sessions.check_password(browser, "bob", PASSWORD, META)
    elsewhere = await services.sessions.check_password(
        new_browser_cookie(), "alice", PASSWORD, META
    )
    ended: list[list[str]] = []

    async def sign_out() -> None:
        ended.append(await services.sessions.terminate_browser(browser, request=META))

    event = await _one_event(services, sign_out)
    assert ended == [[his.id, mine.id]]
    assert (event.event_type, event.aggregate_id) == ("user.session.terminated", bob.id)
    assert event.payload == {
        "session_ids": [his.id, mine.id],
        "user_ids": sorted([alice.id, bob.id]),
    }
    assert await services.sessions.list_browser_sessions(browser) == []
    assert await services.sessions.find_session(elsewhere.id) is not None
    before = len(await _events(services))
    assert await services.sessions.terminate_browser(browser) == []
    assert await services.sessions.terminate_browser("garbage") == []
    assert len(await _events(services)) == before


def _session(clock: FixedClock, **changes: Any) -> Session:
    now = clock.now()
    values: dict[str, Any] = {
        "id": "s1",
        "user_id": "u1",
        "org_id": "o1",
        "login_name": "alice@acme",
        "display_name": "Alice",
        "password_checked_at": now,
        "second_factor_checked_at": None,
        "multi_factor_checked_at": None,
        "created_at": now,
        "last_used_at": now,
    }
    values.update(changes)
    return Session(**values)


def satisfies(
    session: Session,
    *,
    now: Any,
    max_age: int | None,
    not_before: Any,
    policy: LoginPolicy,
    org_id: str = "",
    idle: timedelta = timedelta(days=30),
) -> bool:
    demand = Demand(org_id=org_id, max_age=max_age, not_before=not_before)
    return reusable(session, demand, policy=policy, now=now, idle_timeout=idle)


def test_reuse_respects_the_policy_lifetime(clock):
    policy = LoginPolicy(password_check_lifetime_s=3600)
    session = _session(clock)
    for minutes, expected in ((0, True), (59, True), (60, False), (600, False)):
        now = clock.now() + timedelta(minutes=minutes)
        assert satisfies(session, now=now, max_age=None, not_before=None, policy=policy) is (
            expected
        )
    # ZITADEL's default: ten days.
    later = clock.now() + timedelta(days=9)
    assert satisfies(session, now=later, max_age=None, not_before=None, policy=LoginPolicy())


def test_reuse_wants_the_organisation_in_scope_and_a_session_not_idle(clock):
    session = _session(clock)
    now = clock.now() + timedelta(hours=1)
    policy = LoginPolicy()
    assert satisfies(session, now=now, max_age=None, not_before=None, policy=policy, org_id="o1")
    assert not satisfies(
        session, now=now, max_age=None, not_before=None, policy=policy, org_id="o2"
    )
    idle = timedelta(minutes=59)
    assert not satisfies(session, now=now, max_age=None, not_before=None, policy=policy, idle=idle)


def test_reuse_respects_max_age(clock):
    session = _session(clock)
    now = clock.now() + timedelta(minutes=5)
    policy = LoginPolicy()
    assert satisfies(session, now=now, max_age=300, not_before=None, policy=policy)
    assert not satisfies(session, now=now, max_age=299, not_before=None, policy=policy)
    assert not satisfies(session, now=now, max_age=0, not_before=None, policy=policy)
    assert satisfies(session, now=clock.now(), max_age=0, not_before=None, policy=policy)


def test_reuse_for_prompt_login_wants_a_check_after_the_request(clock):
    session = _session(clock)
    policy = LoginPolicy()
    created = clock.now() + timedelta(seconds=1)
    now = clock.now() + timedelta(seconds=2)
    assert not satisfies(session, now=now, max_age=None, not_before=created, policy=policy)
    fresh = replace(session, password_checked_at=now)
    assert satisfies(fresh, now=now, max_age=None, not_before=created, policy=policy)
    assert satisfies(fresh, now=now, max_age=None, not_before=now, policy=policy)


def test_reuse_wants_a_password_and_no_pending_change(clock):
    policy = LoginPolicy()
    now = clock.now()
    unchecked = _session(clock, password_checked_at=None)
    assert not satisfies(unchecked, now=now, max_age=None, not_before=None, policy=policy)
    pending = _session(clock, password_change_required=True)
    assert not satisfies(pending, now=now, max_age=None, not_before=None, policy=policy)


def test_auth_time_and_amr_follow_the_checked_factors(clock):
    now = clock.now()
    assert _session(clock, password_checked_at=None).auth_time is None
    assert _session(clock, password_checked_at=None).amr == []
    later = now + timedelta(minutes=3)
    both = _session(clock, second_factor_checked_at=later)
    assert both.auth_time == later
    assert both.amr == ["pwd", "otp", "mfa"]
    passkey = _session(clock, password_checked_at=None, multi_factor_checked_at=now)
    assert passkey.amr == ["hwk", "user", "mfa"]  # user verification: multi-factor alone


async def test_a_locked_users_state_is_told_to_no_one(services, admin, alice, browser):
    await services.users.lock_user(admin, alice.id)
    codes = set()
    for password in ("Wrong-1!", PASSWORD):
        with pytest.raises(Unauthenticated) as caught:
            await services.sessions.check_password(browser, "alice", password, META)
        codes.add(caught.value.code)
    assert codes == {"auth.bad_credentials"}
    assert (await services.users.get_user(admin, alice.id)).state is UserState.LOCKED


async def test_a_malformed_browser_cookie_is_refused(services, alice):
    with pytest.raises(InvalidArgument):
        await services.sessions.check_password("short", "alice", PASSWORD, META)


async def test_parallel_checks_share_one_session(services, alice, browser):
    checks = [services.sessions.check_password(browser, "alice", PASSWORD, META) for _ in range(4)]
    sessions = await asyncio.gather(*checks)
    assert len({session.id for session in sessions}) == 1
    assert len(await services.sessions.list_browser_sessions(browser)) == 1


async def test_sessions_on_postgres(tmp_path, clock):
    with temporary_postgres() as url:
        services, _ = await open_services(make_settings(tmp_path, database_url=url), clock=clock)
        try:
            admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, META)).context
            org = await services.orgs.create_org(admin, "Acme")
            await add_human(services, admin, org.id, "alice")
            browser = new_browser_cookie()
            first, second = await asyncio.gather(
                services.sessions.check_password(browser, "alice", PASSWORD, META),
                services.sessions.check_password(browser, "alice", PASSWORD, META),
            )
            assert first.id == second.id
            assert first.login_name == "alice@acme.127.0.0.1"
            assert await services.sessions.terminate_browser(browser) == [first.id]
            again = await services.sessions.check_password(browser, "alice", PASSWORD, META)
            assert again.id != first.id
            assert [s.id for s in await services.sessions.list_browser_sessions(browser)] == [
                again.id
            ]
        finally:
            await services.close()
