"""argon2id password hashing, off the event loop, with bounded concurrency and a bounded queue.

Unknown users are checked against a dummy hash of the same profile, so a wrong name and a
wrong password cost the same time. At most `max_concurrency` hashes run at once and at most
`max_waiting` callers wait for a slot; one more is refused at once with Overloaded (503 and
`Retry-After`), before any work, so a flood of sign-ins cannot queue memory and latency
without limit.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from zitui import metrics
from zitui.errors import Overloaded

# A hash takes ~16 ms with the default profile; a full queue drains well within a second.
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class Argon2Profile:
    """OWASP's argon2id profile by default: 19 MiB, two passes, one lane."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1


class PasswordHasher:
    def __init__(
        self, profile: Argon2Profile, *, max_concurrency: int, max_waiting: int | None = None
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=profile.time_cost,
            memory_cost=profile.memory_kib,
            parallelism=profile.parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        slots = max(1, max_concurrency)
        self._slots = asyncio.Semaphore(slots)
        self._max_waiting = max(0, 8 * slots if max_waiting is None else max_waiting)
        self._waiting = 0
        self._dummy: str | None = None

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot now."""
        return self._waiting

    async def hash(self, password: str) -> str:
        async with self._slot():
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, encoded: str | None, password: str) -> bool:
        """True when `password` matches `encoded`; `None` (no such user) is never a match."""
        target = encoded or await self._dummy_hash()
        async with self._slot():
            matched = await asyncio.to_thread(self._verify_sync, target, password)
        return matched and encoded is not None

    def needs_rehash(self, encoded: str) -> bool:
        return self._hasher.check_needs_rehash(encoded)

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """A hashing slot; Overloaded when every slot is busy and the queue is full."""
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise Overloaded(
                "password.busy",
                "the server is busy checking passwords; try again in a moment",
                retry_after=RETRY_AFTER_S,
            )
        self._waiting += 1
        metrics.set_hash_queue(self._waiting)
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
            metrics.set_hash_queue(self._waiting)
        try:
            yield
        finally:
            self._slots.release()

    def _verify_sync(self, encoded: str, password: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        return self._dummy
