"""Wrappers around the real store and hasher that count what the code under test asks of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from zitui.store import Repositories


class CountingStore:
    """The real store, counting the write transactions opened through it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.transactions = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repositories]:
        self.transactions += 1
        async with self.real.transaction() as tx:
            yield tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class CountingHasher:
    """Wraps the real hasher and notes what each verification was asked to check."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.verified: list[str | None] = []

    async def verify(self, encoded: str | None, password: str) -> bool:
        self.verified.append(encoded)
        return await self.real.verify(encoded, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)
