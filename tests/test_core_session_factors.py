"""Which factors a session checked: `amr` for each combination, a passkey sign-in without a
password, the kind of the second factor in the store, when a second factor is due once a
passkey was checked, and the authentication context classes (`acr`) a request may ask for."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests import test_core_sessions as session_tests
from tests.test_core_audit import _no_event, _one_event
from tests.test_core_sessions import META, PASSWORD, _session
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.login.reuse import Demand
from zitui.core.login.second_factor import mfa_required, second_factor_due, second_factor_missing
from zitui.core.oidc import acr
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.errors import Unauthenticated
from zitui.records import Session, User

acme, alice = session_tests.acme, session_tests.alice
HOUR = 3600


# --- amr ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "second", "passkey", "expected"),
    [
        (True, None, False, ["pwd"]),
        (True, "totp", False, ["pwd", "otp", "mfa"]),
        (True, "otp_email", False, ["pwd", "otp", "mfa"]),
        (True, "otp_sms", False, ["pwd", "otp", "mfa"]),
        (True, "recovery", False, ["pwd", "otp", "mfa"]),
        (True, "u2f", False, ["pwd", "hwk", "mfa"]),
        (True, "", False, ["pwd", "otp", "mfa"]),  # a row from before kinds were stored
        (False, None, True, ["hwk", "user", "mfa"]),
        (True, None, True, ["pwd", "hwk", "user", "mfa"]),
        (True, "u2f", True, ["pwd", "hwk", "user", "mfa"]),
        (True, "totp", True, ["pwd", "otp", "hwk", "user", "mfa"]),
        (True, "passkey", False, ["pwd", "hwk", "user", "mfa"]),
        (False, "totp", False, ["otp"]),  # one factor is not multi-factor
        (False, None, False, []),
    ],
)
def test_amr_names_each_checked_factor_once(
    clock: FixedClock, password: bool, second: str | None, passkey: bool, expected: list[str]
) -> None:
    now = clock.now()
    session = _session(
        clock,
        password_checked_at=now if password else None,
        second_factor_checked_at=now if second is not None else None,
        second_factor_kind=second or "",
        multi_factor_checked_at=now if passkey else None,
    )
    assert session.amr == expected


# --- second factors due, and MFA required -----------------------------------------------


def _due(session: Session, now: Any, policy: LoginPolicy, **demand: Any) -> bool:
    return second_factor_due(session, Demand(**demand), policy=policy, now=now)


def test_a_passkey_check_within_its_lifetime_stands_for_the_second_factor(clock):
    policy = LoginPolicy(
        second_factor_check_lifetime_s=HOUR, multi_factor_check_lifetime_s=2 * HOUR
    )
    start = clock.now()
    passkey = _session(clock, password_checked_at=None, multi_factor_checked_at=start)
    assert not _due(passkey, start, policy)
    assert not _due(passkey, start + timedelta(minutes=119), policy)
    assert _due(passkey, start + timedelta(hours=2), policy)  # the multi-factor lifetime
    # max_age and prompt=login measure the passkey check like any other.
    later = start + timedelta(minutes=10)
    assert _due(passkey, later, policy, max_age=599)
    assert not _due(passkey, later, policy, max_age=600)
    assert _due(passkey, later, policy, not_before=start + timedelta(seconds=1))
    assert not _due(passkey, later, policy, not_before=start)


def test_a_stale_second_factor_is_not_due_while_a_passkey_check_is_recent(clock):
    policy = LoginPolicy(second_factor_check_lifetime_s=HOUR, multi_factor_check_lifetime_s=HOUR)
    start = clock.now()
    otp = _session(clock, second_factor_checked_at=start, second_factor_kind="totp")
    later = start + timedelta(minutes=90)
    assert _due(otp, later, policy)
    both = replace(otp, multi_factor_checked_at=start + timedelta(minutes=45))
    assert not _due(both, later, policy)
    assert _due(both, later + timedelta(minutes=15), policy)
    assert _due(_session(clock), start, policy)  # a password alone


def test_mfa_is_required_by_the_policy_or_by_the_requested_class():
    assert not mfa_required(LoginPolicy(), Demand())
    assert not mfa_required(LoginPolicy(), Demand(acr="pwd"))
    assert mfa_required(LoginPolicy(), Demand(acr="mfa"))
    assert mfa_required(LoginPolicy(force_mfa=True), Demand())
    assert mfa_required(LoginPolicy(force_mfa_local_only=True), Demand(acr="pwd"))


async def test_a_requested_mfa_class_makes_a_second_factor_missing_for_a_user_without_one(
    services: Services, alice: User, clock: FixedClock
):
    session = await services.sessions.check_password(new_browser_cookie(), "alice", PASSWORD, META)
    policy, now = LoginPolicy(), clock.now()
    async with services.store.reader() as tx:
        for demand, missing in (
            (Demand(), False),
            (Demand(acr="pwd"), False),
            (Demand(acr="mfa"), True),
        ):
            found = await second_factor_missing(tx, session, demand, policy=policy, now=now)
            assert found is missing, demand


# --- the store and the passkey sign-in ----------------------------------------------------


async def _passkey_session(services: Services, browser: str, user: User) -> Session:
    async with services.store.transaction() as tx:
        return await services.sessions.start_passkey_session(
            tx, tokens.digest(browser), user, META, flow_id="f1"
        )


async def test_a_passkey_starts_a_session_without_a_password_with_one_event(
    services: Services, alice: User, clock: FixedClock
):
    browser = new_browser_cookie()
    made: list[Session] = []

    async def sign_in() -> None:
        made.append(await _passkey_session(services, browser, alice))

    event = await _one_event(services, sign_in)
    [session] = made
    assert (event.event_type, event.aggregate_id, event.actor_id) == (
        "user.human.passwordless.check.succeeded",
        alice.id,
        alice.id,
    )
    assert event.payload == {"origin": "test", "session_id": session.id, "flow_id": "f1"}
    assert session.password_checked_at is None and session.second_factor_checked_at is None
    assert session.multi_factor_checked_at == clock.now() == session.auth_time
    assert session.amr == ["hwk", "user", "mfa"]
    assert await services.sessions.find_browser_session(browser, session.id) == session

    # The password later on the same browser: the same session, both factors recorded.
    clock.advance(timedelta(minutes=1))
    again = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    assert again.id == session.id
    assert again.multi_factor_checked_at == session.multi_factor_checked_at
    assert again.password_checked_at == clock.now()
    assert again.amr == ["pwd", "hwk", "user", "mfa"]


async def test_a_passkey_after_sign_out_makes_a_new_session(services: Services, alice: User):
    browser = new_browser_cookie()
    first = await services.sessions.check_password(browser, "alice", PASSWORD, META)
    await services.sessions.terminate_browser(browser)
    second = await _passkey_session(services, browser, alice)
    assert second.id != first.id
    assert second.password_checked_at is None  # nothing of the ended session comes back
    assert await services.sessions.find_session(first.id) is None


async def test_a_user_locked_meanwhile_gets_no_passkey_session(
    services: Services, admin: Context, alice: User
):
    await services.users.lock_user(admin, alice.id)
    browser = new_browser_cookie()

    async def sign_in() -> None:
        await _passkey_session(services, browser, alice)

    await _no_event(services, sign_in, Unauthenticated)
    assert await services.sessions.list_browser_sessions(browser) == []


@pytest.mark.parametrize(("kind", "method"), [("u2f", "hwk"), ("otp_sms", "otp")])
async def test_the_kind_of_the_second_factor_is_stored_with_its_time(
    services: Services, alice: User, clock: FixedClock, kind: str, method: str
):
    session = await services.sessions.check_password(new_browser_cookie(), "alice", PASSWORD, META)
    clock.advance(timedelta(seconds=5))
    async with services.store.transaction() as tx:
        await tx.sessions.record_second_factor(session.id, clock.now(), kind=kind)
    found = await services.sessions.find_session(session.id)
    assert found is not None
    assert (found.second_factor_kind, found.second_factor_checked_at) == (kind, clock.now())
    assert found.last_used_at == clock.now()
    assert found.amr == ["pwd", method, "mfa"]


async def test_a_passkey_proven_after_the_password_is_a_multi_factor_check(
    services: Services, alice: User, clock: FixedClock
):
    session = await services.sessions.check_password(new_browser_cookie(), "alice", PASSWORD, META)
    clock.advance(timedelta(seconds=5))
    async with services.store.transaction() as tx:
        await tx.sessions.record_multi_factor(session.id, clock.now())
    found = await services.sessions.find_session(session.id)
    assert found is not None
    assert found.multi_factor_checked_at == clock.now() == found.auth_time
    assert found.second_factor_checked_at is None
    assert found.amr == ["pwd", "hwk", "user", "mfa"]
    assert not _due(found, clock.now(), LoginPolicy())


# --- acr ----------------------------------------------------------------------------------


def test_the_requested_class_is_the_first_known_one_in_the_clients_order():
    assert acr.requested(()) == ""
    assert acr.requested(("urn:example:gold", "mfa", "pwd")) == "mfa"
    assert acr.requested(("pwd", "mfa")) == "pwd"
    assert acr.requested(("MFA", "urn:example:gold")) == ""  # values are case-sensitive


@pytest.mark.parametrize(
    ("asked", "amr", "claim"),
    [
        ((), ["pwd", "otp", "mfa"], ""),  # not asked: no claim
        (("urn:example:gold",), ["pwd", "otp", "mfa"], ""),
        (("mfa",), ["pwd", "otp", "mfa"], "mfa"),
        (("mfa",), ["pwd"], ""),  # not met: no claim rather than a false one
        (("pwd",), ["pwd", "otp", "mfa"], "pwd"),
        (("pwd", "mfa"), ["pwd", "otp", "mfa"], "mfa"),  # the strongest met among those asked
        (("mfa", "pwd"), ["pwd"], "pwd"),
        (("pwd",), ["hwk", "user", "mfa"], "pwd"),  # a passkey alone is one factor too
        (("mfa",), [], ""),
    ],
)
def test_the_acr_claim_is_the_strongest_asked_class_the_sign_in_met(
    asked: tuple[str, ...], amr: list[str], claim: str
):
    assert acr.claim(asked, amr) == claim
