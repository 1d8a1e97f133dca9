"""The store on a server database (PostgreSQL), through SQLAlchemy's asyncio engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from zitui.store.failures import translate_database_error
from zitui.store.repos.base import Connection, EngineConnection
from zitui.store.store import Store

T = TypeVar("T")


class EngineStore(Store):
    """A server database (PostgreSQL) through SQLAlchemy's asyncio engine."""

    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self.url = url

    @property
    def sync_engine(self) -> sa.Engine:
        return self.engine.sync_engine

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Connection]:
        async with self._connection(write=True) as conn, conn.begin():
            yield EngineConnection(conn)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        async with self._connection(write=False) as conn, conn.begin():
            yield EngineConnection(conn)

    @asynccontextmanager
    async def _connection(self, *, write: bool) -> AsyncIterator[Any]:
        try:
            async with self.engine.connect() as conn:
                if write:
                    conn = await conn.execution_options(zitui_write=True)
                yield conn
        except sa_exc.IntegrityError:
            raise  # a repository bug, not an unavailable store
        except sa_exc.DatabaseError as exc:
            raise translate_database_error(exc) from exc

    async def run_sync(self, fn: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        try:
            if write:
                async with self.engine.begin() as conn:
                    return await conn.run_sync(fn)
            async with self.engine.connect() as conn:
                return await conn.run_sync(fn)
        except sa_exc.DatabaseError as exc:
            raise translate_database_error(exc) from exc

    async def close(self) -> None:
        await self.engine.dispose()
