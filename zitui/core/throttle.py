"""Throttling of guessable attempts, shared by every process through the store.

A caller reserves an attempt (`Throttle.reserve`) before the work a guess costs (a password
hash, a one-time code), does the work, and after a success clears what the success proves
(`Throttle.succeeded`, inside the caller's own transaction). A failure needs no report: the
attempt was counted when it was reserved, in one write transaction that reads and raises the
counters under the store's lock. So parallel guesses, in one process or many, never get more
attempts than configured, and a refused attempt costs no hash.

Each purpose ("password", "otp", "resend") counts apart, under two keys:

- `<purpose>:name:<SHA-256 of the lower-cased name>`: the account being guessed. After
  `name_attempts` attempts within `window`, each further attempt first waits a delay that
  doubles from one second up to the window. A success clears the counter.
- `<purpose>:ip:<address>` (IPv6 per /64 network, what one client usually holds): the same
  rule with `ip_attempts`. A success gives back only its own attempt, so signing in to one's
  own account buys no guesses at others.

A counter whose window has passed (and whose delay is over) starts again from nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from zitui.config import Settings
from zitui.core.clock import Clock
from zitui.errors import RateLimited
from zitui.records import ThrottleCount
from zitui.store import Repositories, Store

FIRST_DELAY = timedelta(seconds=1)
MAX_KEY = 120  # the `throttles.key` column


@dataclass(frozen=True)
class ThrottleLimits:
    """Attempts allowed per name and per client address within `window`; 0 turns one off."""

    name_attempts: int = 10
    ip_attempts: int = 100
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottleLimits:
        return cls(
            name_attempts=max(0, settings.throttle_name_attempts),
            ip_attempts=max(0, settings.throttle_ip_attempts),
            window=timedelta(seconds=max(1, settings.throttle_window_s)),
        )


@dataclass(frozen=True)
class Counter:
    """One key an attempt is counted under, with its limit."""

    key: str
    limit: int
    cleared_by_success: bool


@dataclass(frozen=True)
class Reservation:
    """The counters one attempt was reserved on; hand it back to `succeeded`."""

    counters: tuple[Counter, ...] = ()


def name_key(purpose: str, name: str) -> str:
    digest = hashlib.sha256(name.strip().lower().encode()).hexdigest()
    return f"{purpose}:name:{digest}"[:MAX_KEY]


def ip_key(purpose: str, address: str) -> str:
    """The client's key; an IPv6 address counts with the rest of its /64 network."""
    shown = address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address (a test client's name): counted as given
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            shown = str(ip.ipv4_mapped)
        elif isinstance(ip, ipaddress.IPv6Address):
            shown = str(ipaddress.IPv6Network((ip.packed, 64), strict=False))
        else:
            shown = str(ip)
    return f"{purpose}:ip:{shown}"[:MAX_KEY]


def delay(over: int, *, window: timedelta) -> timedelta:
    """The wait after the `over`-th attempt beyond the limit (0 = the last one allowed)."""
    return min(FIRST_DELAY * 2 ** min(over, 40), window)


def retry_after(blocked_until: datetime, now: datetime) -> int:
    return max(1, math.ceil((blocked_until - now).total_seconds()))


def throttled(seconds: int) -> RateLimited:
    return RateLimited(
        "auth.throttled", "too many attempts; wait a moment and try again", retry_after=seconds
    )


class Throttle:
    def __init__(self, store: Store, clock: Clock, limits: ThrottleLimits, *, purpose: str) -> None:
        self._store = store
        self._clock = clock
        self._limits = limits
        self._purpose = purpose

    def counters(self, *, name: str | None, ip: str) -> tuple[Counter, ...]:
        """The keys an attempt for `name` from `ip` counts under (none when turned off)."""
        limits, found = self._limits, []
        if name is not None and limits.name_attempts > 0:
            found.append(Counter(name_key(self._purpose, name), limits.name_attempts, True))
        if ip and limits.ip_attempts > 0:
            found.append(Counter(ip_key(self._purpose, ip), limits.ip_attempts, False))
        return tuple(sorted(found, key=lambda counter: counter.key))  # one lock order

    async def reserve(self, *, name: str | None = None, ip: str = "") -> Reservation:
        """Count one attempt on every counter, or raise RateLimited("auth.throttled") with
        the seconds to wait and count nothing.

        One write transaction: each counter is read under the store's lock and raised, so
        parallel reservations see each other.
        """
        counters = self.counters(name=name, ip=ip)
        if not counters:
            return Reservation()
        now = self._clock.now()
        async with self._store.transaction() as tx:
            current = [await tx.throttles.lock(counter.key, now=now) for counter in counters]
            waits = [
                retry_after(c.blocked_until, now)
                for c in current
                if c.blocked_until is not None and c.blocked_until > now
            ]
            if waits:
                raise throttled(max(waits))  # rolls back: a refused attempt counts nothing
            for counter, count in zip(counters, current, strict=True):
                await tx.throttles.save(self._counted(count, counter.limit, now))
        return Reservation(counters)

    async def succeeded(self, tx: Repositories, reservation: Reservation) -> None:
        """Inside the caller's transaction: the success clears its name counters and gives
        back its attempt on the others."""
        for counter in reservation.counters:
            if counter.cleared_by_success:
                await tx.throttles.delete(counter.key)
            else:
                await tx.throttles.release(counter.key, limit=counter.limit)

    def _counted(self, count: ThrottleCount, limit: int, now: datetime) -> ThrottleCount:
        window = self._limits.window
        fresh = count.attempts == 0 or now >= count.window_started_at + window
        started = now if fresh else count.window_started_at
        attempts = 1 if fresh else count.attempts + 1
        blocked_until = now + delay(attempts - limit, window=window) if attempts >= limit else None
        expires_at = max(started + window, blocked_until or now)
        return ThrottleCount(count.key, attempts, started, blocked_until, expires_at)
