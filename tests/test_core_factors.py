"""Second factors: TOTP set-up and checks (window, replay, secret at rest), recovery codes
(ten, single use, replaced, kept as keyed digests), and wrong codes counting toward lockout."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pyotp
import pytest

from tests import test_core_sessions as session_tests
from tests.dbfile import rows
from tests.self_service import events_of, user_row
from tests.test_core_sessions import add_human, set_policy
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.factors import RECOVERY_ALPHABET, FactorKind, TotpSetup, time_step
from zitui.core.policies import LockoutPolicy
from zitui.core.services import Services
from zitui.errors import NotFound, PreconditionFailed
from zitui.records import Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests
STEP = timedelta(seconds=30)


def code_at(setup: TotpSetup, step: int) -> str:
    return pyotp.TOTP(setup.secret).generate_otp(step)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def start(services: Services, admin: Context, user: User) -> TotpSetup:
    async with services.store.transaction() as tx:
        return await services.factors.start_totp(tx, admin, user, issuer="Acme Login")


async def confirm(
    services: Services, ctx: Context, user: User, setup: TotpSetup, code: str
) -> bool:
    async with services.store.transaction() as tx:
        return await services.factors.confirm_totp(tx, ctx, user, setup.factor_id, code)


async def check(services: Services, ctx: Context, user: User, code: str) -> bool:
    async with services.store.transaction() as tx:
        return await services.factors.check_totp(tx, ctx, user, code)


async def ready_totp(services: Services, admin: Context, user: User) -> TotpSetup:
    """A TOTP factor set up with the code of the step before now (so now's step is free)."""
    setup = await start(services, admin, user)
    step = time_step(services.clock.now()) - 1
    assert await confirm(services, admin, user, setup, code_at(setup, step))
    return setup


async def test_the_secret_is_encrypted_at_rest_and_shown_once(
    services: Services, admin: Context, alice: User
):
    setup = await start(services, admin, alice)

    assert len(setup.secret) == 32 and re.fullmatch(r"[A-Z2-7]+", setup.secret)
    assert setup.secret not in repr(setup) and setup.uri not in repr(setup)
    assert setup.uri.startswith("otpauth://totp/Acme%20Login:")
    assert f"secret={setup.secret}" in setup.uri and "issuer=Acme%20Login" in setup.uri
    stored = rows(
        services.settings.data_dir,
        "SELECT state, secret_enc FROM user_factors WHERE id = ?",
        setup.factor_id,
    )
    assert len(stored) == 1 and stored[0][0] == "pending"
    assert isinstance(stored[0][1], str) and setup.secret not in stored[0][1]
    async with services.store.transaction() as tx:
        assert await services.factors.ready_factors(tx, alice.id) == []


async def test_the_qr_code_is_an_inline_svg_without_external_references(
    services: Services, admin: Context, alice: User
):
    setup = await start(services, admin, alice)

    svg = setup.qr_svg
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<?xml" not in svg
    assert re.search(r"<title>QR code for Acme Login: [^<]*alice[^<]*</title>", svg)
    assert not re.search(r"href|src=|url\(|<image|<script|<foreignObject", svg)


async def test_a_factor_counts_only_after_a_right_code(
    services: Services, admin: Context, alice: User
):
    setup = await start(services, admin, alice)
    right = code_at(setup, time_step(services.clock.now()))

    assert not await confirm(services, admin, alice, setup, other_code(right))
    assert not await confirm(services, admin, alice, setup, "abcdef")
    async with services.store.transaction() as tx:
        assert await services.factors.ready_factors(tx, alice.id) == []
    assert await confirm(services, admin, alice, setup, right)

    async with services.store.transaction() as tx:
        [factor] = await services.factors.ready_factors(tx, alice.id)
    assert (factor.id, factor.kind, factor.ready) == (setup.factor_id, FactorKind.TOTP, True)
    assert factor.name == "Authenticator app" and factor.last_used_at is None
    assert await events_of(services, "user.human.mfa.otp.added", alice.id)
    assert user_row(services, alice.id)["failed_code_attempts"] == 0
    with pytest.raises(PreconditionFailed):
        await confirm(services, admin, alice, setup, right)


async def test_a_new_setup_replaces_the_pending_one(
    services: Services, admin: Context, alice: User
):
    first = await start(services, admin, alice)
    second = await start(services, admin, alice)

    with pytest.raises(NotFound):
        await confirm(
            services, admin, alice, first, code_at(first, time_step(services.clock.now()))
        )
    pending = rows(services.settings.data_dir, "SELECT id FROM user_factors")
    assert pending == [(second.factor_id,)]


async def test_codes_of_one_step_either_side_pass_and_two_steps_do_not(
    services: Services, admin: Context, alice: User, clock: FixedClock
):
    setup = await ready_totp(services, admin, alice)
    clock.advance(10 * STEP)
    now = time_step(clock.now())

    assert not await check(services, admin, alice, code_at(setup, now - 2))
    assert not await check(services, admin, alice, code_at(setup, now + 2))
    assert await check(services, admin, alice, code_at(setup, now - 1))
    assert await check(services, admin, alice, code_at(setup, now))
    assert await check(services, admin, alice, code_at(setup, now + 1))
    succeeded = await events_of(services, "user.human.mfa.otp.check.succeeded", alice.id)
    failed = await events_of(services, "user.human.mfa.otp.check.failed", alice.id)
    assert (len(succeeded), len(failed)) == (3, 2)


async def test_a_used_code_and_earlier_steps_are_refused(
    services: Services, admin: Context, alice: User, clock: FixedClock
):
    setup = await ready_totp(services, admin, alice)
    confirmed_with = code_at(setup, time_step(clock.now()) - 1)
    assert not await check(services, admin, alice, confirmed_with)  # the set-up's code

    now = time_step(clock.now())
    assert await check(services, admin, alice, code_at(setup, now))
    assert not await check(services, admin, alice, code_at(setup, now))
    clock.advance(STEP)
    assert not await check(services, admin, alice, code_at(setup, now))
    assert await check(services, admin, alice, code_at(setup, now + 1))

    async with services.store.transaction() as tx:
        [factor] = await services.factors.ready_factors(tx, alice.id)
    assert factor.last_used_at == clock.now()


async def test_ready_factors_list_the_last_used_first_then_the_newest(
    services: Services, admin: Context, alice: User, clock: FixedClock
):
    # start_totp replaces a pending TOTP, so each is confirmed before the next starts.
    first = await ready_totp(services, admin, alice)
    clock.advance(timedelta(minutes=5))
    second = await ready_totp(services, admin, alice)
    clock.advance(timedelta(minutes=5))
    third = await ready_totp(services, admin, alice)

    async with services.store.transaction() as tx:
        listed = [f.id for f in await services.factors.ready_factors(tx, alice.id)]
    assert listed == [third.factor_id, second.factor_id, first.factor_id]

    # Only the first factor's codes are typed now: it becomes the last used.
    clock.advance(timedelta(minutes=5))
    assert await check(services, admin, alice, code_at(first, time_step(clock.now())))
    async with services.store.transaction() as tx:
        listed = [f.id for f in await services.factors.ready_factors(tx, alice.id)]
    assert listed == [first.factor_id, third.factor_id, second.factor_id]


async def test_a_factor_is_removed_only_by_its_owner(
    services: Services, admin: Context, acme: Organization, alice: User
):
    setup = await ready_totp(services, admin, alice)
    bob = await add_human(services, admin, acme.id, "bob")

    with pytest.raises(NotFound):
        async with services.store.transaction() as tx:
            await services.factors.remove_factor(tx, admin, bob, setup.factor_id)
    async with services.store.transaction() as tx:
        await services.factors.remove_factor(tx, admin, alice, setup.factor_id)

    async with services.store.transaction() as tx:
        assert await services.factors.ready_factors(tx, alice.id) == []
    assert await events_of(services, "user.human.mfa.otp.removed", alice.id)
    assert not await check(services, admin, alice, code_at(setup, time_step(services.clock.now())))


async def new_codes(services: Services, ctx: Context, user: User) -> list[str]:
    async with services.store.transaction() as tx:
        return await services.factors.new_recovery_codes(tx, ctx, user)


async def use(services: Services, ctx: Context, user: User, code: str) -> bool:
    async with services.store.transaction() as tx:
        return await services.factors.use_recovery_code(tx, ctx, user, code)


async def codes_left(services: Services, user: User) -> int:
    async with services.store.transaction() as tx:
        return await services.factors.recovery_codes_left(tx, user.id)


async def test_ten_recovery_codes_each_working_once(
    services: Services, admin: Context, alice: User
):
    codes = await new_codes(services, admin, alice)

    assert len(set(codes)) == 10
    pattern = f"[{RECOVERY_ALPHABET}]{{5}}-[{RECOVERY_ALPHABET}]{{5}}"
    assert all(re.fullmatch(pattern, c) for c in codes)
    assert await codes_left(services, alice) == 10
    assert await use(services, admin, alice, f" {codes[0].lower().replace('-', ' ')} ")
    assert not await use(services, admin, alice, codes[0])
    assert await use(services, admin, alice, codes[1].replace("-", ""))
    assert await codes_left(services, alice) == 8
    assert len(await events_of(services, "user.human.recovery_code.used", alice.id)) == 2


async def test_recovery_codes_are_kept_as_keyed_digests_only(
    services: Services, admin: Context, alice: User
):
    codes = await new_codes(services, admin, alice)

    stored = {
        r[0]
        for r in rows(
            services.settings.data_dir,
            "SELECT digest FROM recovery_codes WHERE user_id = ?",
            alice.id,
        )
    }
    assert len(stored) == 10
    plain = {c for code in codes for c in (code, code.replace("-", ""))}
    assert not stored & plain
    unkeyed = {hashlib.sha256(c.encode()).hexdigest() for c in plain}
    assert not stored & unkeyed
    assert {services.factors.recovery_digest(alice.id, c) for c in codes} == stored


async def test_regenerating_voids_the_old_codes(services: Services, admin: Context, alice: User):
    old = await new_codes(services, admin, alice)
    assert await use(services, admin, alice, old[0])
    new = await new_codes(services, admin, alice)

    assert await codes_left(services, alice) == 10
    assert not await use(services, admin, alice, old[1])
    assert await use(services, admin, alice, new[1])
    assert len(await events_of(services, "user.human.recovery_codes.generated", alice.id)) == 2


async def test_wrong_codes_count_toward_max_otp_attempts_and_lock(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
):
    await set_policy(services, "lockout", acme.id, LockoutPolicy(max_otp_attempts=3))
    setup = await ready_totp(services, admin, alice)
    await new_codes(services, admin, alice)
    right = code_at(setup, time_step(clock.now()))

    assert not await check(services, admin, alice, other_code(right))
    assert not await use(services, admin, alice, "AAAAA-AAAAA")
    assert user_row(services, alice.id)["failed_code_attempts"] == 2
    assert user_row(services, alice.id)["state"] != "locked"
    assert not await check(services, admin, alice, other_code(right))

    row = user_row(services, alice.id)
    assert (row["failed_code_attempts"], row["state"]) == (3, "locked")
    assert await events_of(services, "user.locked", alice.id)


async def test_a_right_code_resets_the_count(
    services: Services, admin: Context, acme: Organization, alice: User, clock: FixedClock
):
    await set_policy(services, "lockout", acme.id, LockoutPolicy(max_otp_attempts=2))
    setup = await ready_totp(services, admin, alice)
    right = code_at(setup, time_step(clock.now()))

    assert not await check(services, admin, alice, other_code(right))
    assert await check(services, admin, alice, right)
    clock.advance(STEP)
    assert not await check(services, admin, alice, other_code(right))

    row = user_row(services, alice.id)
    assert (row["failed_code_attempts"], row["state"]) == (1, "active")
