"""Sign-in throttling: per login name and per client address, shared through the store."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.counting import CountingHasher
from tests.dbfile import rows
from tests.postgres import temporary_postgres
from tests.test_core_sessions import PASSWORD, add_human
from zitui.config import load_settings
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import PasswordChecker
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services, open_services
from zitui.core.throttle import Throttle, ThrottleLimits, delay
from zitui.errors import RateLimited, Unauthenticated, ZituiError

META = RequestMeta(origin="test", ip="192.0.2.7", user_agent="pytest")
WRONG = "Wrong-Pass-1!"
LIMIT = 10  # the default: ten attempts per login name in fifteen minutes


@pytest.fixture
def hasher(services: Services) -> CountingHasher:
    return CountingHasher(services.hasher)


@pytest.fixture
def checker(services: Services, hasher: CountingHasher) -> PasswordChecker:
    return PasswordChecker(services.store, hasher, services.clock)  # type: ignore[arg-type]


@pytest.fixture
async def alice(services: Services, admin: Context) -> Any:
    org = await services.orgs.create_org(admin, "Acme")
    return await add_human(services, admin, org.id, "alice")


async def attempt(
    checker: PasswordChecker, name: str, password: str, meta: RequestMeta = META
) -> ZituiError | None:
    """One sign-in as a caller makes it (verify, then confirm in a transaction)."""
    try:
        checked = await checker.verify(name, password, meta, policy=LoginPolicy())
        async with checker._store.transaction() as tx:
            await checker.confirm(tx, checked, payload={})
    except ZituiError as error:
        return error
    return None


async def fail(checker: PasswordChecker, name: str, times: int, meta: RequestMeta = META) -> None:
    for _ in range(times):
        assert isinstance(await attempt(checker, name, WRONG, meta), Unauthenticated)


def waits(error: ZituiError | None) -> int:
    assert isinstance(error, RateLimited), error
    assert (error.code, error.kind) == ("auth.throttled", "rate_limited")
    return error.retry_after


@pytest.mark.usefixtures("alice")
async def test_the_eleventh_failure_waits_without_a_hash(checker, hasher):
    await fail(checker, "alice", LIMIT)
    assert len(hasher.verified) == LIMIT
    assert waits(await attempt(checker, "alice", WRONG)) == 1
    assert waits(await attempt(checker, "ALICE ", PASSWORD)) == 1  # even the right password
    assert len(hasher.verified) == LIMIT


@pytest.mark.usefixtures("alice")
async def test_the_delay_doubles_after_each_further_failure(checker, hasher, clock):
    await fail(checker, "alice", LIMIT)
    seen = []
    for _ in range(5):
        seconds = waits(await attempt(checker, "alice", WRONG))
        seen.append(seconds)
        clock.advance(timedelta(seconds=seconds - 1))
        waits(await attempt(checker, "alice", WRONG))  # not yet
        clock.advance(timedelta(seconds=1))
        assert isinstance(await attempt(checker, "alice", WRONG), Unauthenticated)
    assert seen == [1, 2, 4, 8, 16]
    assert len(hasher.verified) == LIMIT + 5


def test_the_delay_stops_growing_at_the_window():
    window = timedelta(minutes=15)
    assert [delay(n, window=window).total_seconds() for n in range(4)] == [1, 2, 4, 8]
    assert delay(9, window=window) == timedelta(seconds=512)
    assert delay(10, window=window) == delay(10_000, window=window) == window


@pytest.mark.usefixtures("alice")
async def test_after_the_window_the_name_may_try_again(checker, clock):
    await fail(checker, "alice", LIMIT)
    waits(await attempt(checker, "alice", PASSWORD))
    clock.advance(timedelta(minutes=15))
    await fail(checker, "alice", LIMIT - 1)
    assert await attempt(checker, "alice", PASSWORD) is None


@pytest.mark.usefixtures("alice")
async def test_a_success_clears_the_names_counter(checker, hasher, services, settings):
    await fail(checker, "alice", LIMIT - 1)
    assert await attempt(checker, "alice", PASSWORD) is None
    await fail(checker, "alice", LIMIT - 1)
    assert await attempt(checker, "alice", PASSWORD) is None
    assert len(hasher.verified) == 2 * LIMIT
    # What is left is the address's count of failed attempts, and no name counter.
    stored = rows(settings.data_dir, "SELECT key, attempts FROM throttles")
    assert stored == [("password:ip:192.0.2.7", 2 * (LIMIT - 1))]


async def test_unknown_names_are_throttled_like_known_ones(checker, hasher):
    await fail(checker, "ghost", LIMIT)
    assert waits(await attempt(checker, "ghost", WRONG)) == 1
    assert len(hasher.verified) == LIMIT


@pytest.mark.usefixtures("alice")
async def test_the_name_counter_is_the_same_from_every_address(checker):
    for n in range(LIMIT):
        await fail(checker, "alice", 1, RequestMeta(ip=f"198.51.100.{n}"))
    waits(await attempt(checker, "alice", PASSWORD, RequestMeta(ip="203.0.113.1")))
    waits(await attempt(checker, "alice", PASSWORD, RequestMeta()))  # the console has none


async def test_the_address_limit_counts_across_names(services, hasher, alice):
    limits = ThrottleLimits(name_attempts=LIMIT, ip_attempts=5)
    checker = PasswordChecker(services.store, hasher, services.clock, limits=limits)  # type: ignore[arg-type]
    there = RequestMeta(ip="2001:db8:1:2::10")
    for n in range(5):
        await fail(checker, f"user{n}", 1, there)
    same_network = RequestMeta(ip="2001:db8:1:2::99")
    assert waits(await attempt(checker, "alice", PASSWORD, same_network)) == 1
    assert len(hasher.verified) == 5
    # Another address is not held back, and a success gives back only its own attempt.
    elsewhere = RequestMeta(ip="2001:db8:1:3::10")
    assert await attempt(checker, "alice", PASSWORD, elsewhere) is None
    await fail(checker, "ghost", 4, elsewhere)
    assert await attempt(checker, "alice", PASSWORD, elsewhere) is None
    await fail(checker, "ghost", 1, elsewhere)
    assert waits(await attempt(checker, "ghost", WRONG, elsewhere)) == 1
    assert len(hasher.verified) == 5 + 2 + 5


@pytest.mark.usefixtures("alice")
async def test_zero_turns_a_limit_off(services, hasher):
    limits = ThrottleLimits(name_attempts=0, ip_attempts=0)
    checker = PasswordChecker(services.store, hasher, services.clock, limits=limits)  # type: ignore[arg-type]
    await fail(checker, "alice", 3 * LIMIT)
    assert await attempt(checker, "alice", PASSWORD) is None


def test_the_limits_come_from_the_settings(tmp_path: Path):
    environ = {
        "ZITUI_THROTTLE_NAME_ATTEMPTS": "3",
        "ZITUI_THROTTLE_IP_ATTEMPTS": "0",
        "ZITUI_THROTTLE_WINDOW_S": "60",
    }
    settings = load_settings({"data_dir": tmp_path}, environ)
    assert ThrottleLimits.from_settings(settings) == ThrottleLimits(3, 0, timedelta(minutes=1))
    defaults = ThrottleLimits.from_settings(load_settings({}, {}))
    assert defaults == ThrottleLimits(10, 100, timedelta(minutes=15))


@pytest.mark.usefixtures("alice")
async def test_fifty_parallel_guesses_get_the_configured_attempts(checker, hasher):
    results = await asyncio.gather(*(attempt(checker, "alice", WRONG) for _ in range(50)))
    assert len(hasher.verified) == LIMIT
    assert sum(isinstance(r, Unauthenticated) for r in results) == LIMIT
    assert sum(isinstance(r, RateLimited) for r in results) == 50 - LIMIT


@pytest.mark.usefixtures("alice")
async def test_two_stores_on_one_file_share_the_counters(settings, clock, checker, hasher):
    other, _ = await open_services(settings, clock=clock)
    try:
        second = CountingHasher(other.hasher)
        theirs = PasswordChecker(other.store, second, clock)  # type: ignore[arg-type]
        guesses = [attempt(c, "alice", WRONG) for _ in range(25) for c in (checker, theirs)]
        results = await asyncio.gather(*guesses)
    finally:
        await other.close()
    assert len(hasher.verified) + len(second.verified) == LIMIT
    assert sum(isinstance(r, RateLimited) for r in results) == 50 - LIMIT


async def test_a_refused_reservation_counts_nothing(services, clock, settings):
    throttle = Throttle(services.store, clock, ThrottleLimits(name_attempts=2), purpose="otp")
    await throttle.reserve(name="flow-1", ip="192.0.2.1")
    await throttle.reserve(name="flow-1", ip="192.0.2.1")
    with pytest.raises(RateLimited):
        await throttle.reserve(name="flow-1", ip="192.0.2.1")
    query = "SELECT key, attempts FROM throttles ORDER BY key"
    stored = rows(settings.data_dir, query)
    assert [(key.split(":")[:2], attempts) for key, attempts in stored] == [
        (["otp", "ip"], 2),
        (["otp", "name"], 2),
    ]


async def test_expired_counters_are_purged_in_batches(services, clock):
    throttle = Throttle(services.store, clock, ThrottleLimits(), purpose="resend")
    for n in range(5):
        await throttle.reserve(name=f"user{n}")
    later = clock.now() + timedelta(minutes=15, seconds=1)
    async with services.store.transaction() as tx:
        assert await tx.throttles.delete_expired(clock.now(), 10) == 0
        assert await tx.throttles.delete_expired(later, 3) == 3
        assert await tx.throttles.delete_expired(later, 3) == 2


async def test_parallel_guesses_on_postgres(tmp_path: Path, clock: FixedClock):
    with temporary_postgres() as url:
        services, _ = await open_services(make_settings(tmp_path, database_url=url), clock=clock)
        try:
            admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, META)).context
            org = await services.orgs.create_org(admin, "Acme")
            await add_human(services, admin, org.id, "alice")
            hasher = CountingHasher(services.hasher)
            checker = PasswordChecker(services.store, hasher, clock)  # type: ignore[arg-type]
            results = await asyncio.gather(*(attempt(checker, "alice", WRONG) for _ in range(30)))
            assert len(hasher.verified) == LIMIT
            assert sum(isinstance(r, RateLimited) for r in results) == 30 - LIMIT
            clock.advance(timedelta(seconds=1))
            assert await attempt(checker, "alice", PASSWORD) is None
        finally:
            await services.close()
