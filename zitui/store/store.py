"""The store: opens the database, applies migrations and hands out transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from zitui.errors import StoreUnavailable
from zitui.store import migrations
from zitui.store.engine import create_engine, preflight_sqlite, sqlite_path
from zitui.store.repos import Repositories

# The connection of an enclosing `Store.atomic()` block, if any, for this task.
_ambient: ContextVar[AsyncConnection | None] = ContextVar("zitui_ambient_tx", default=None)


@dataclass
class Store:
    engine: AsyncEngine
    url: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repositories]:
        """A write transaction: everything inside commits together or not at all.

        Inside `atomic()` it is a savepoint of the enclosing transaction instead.
        """
        ambient = _ambient.get()
        if ambient is not None:
            async with ambient.begin_nested():
                yield Repositories(ambient)
            return
        async with self._connection(write=True) as conn, conn.begin():
            yield Repositories(conn)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Repositories]:
        """A read-only snapshot for queries; inside `atomic()` it sees the pending changes."""
        ambient = _ambient.get()
        if ambient is not None:
            yield Repositories(ambient)
            return
        async with self._connection(write=False) as conn, conn.begin():
            yield Repositories(conn)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """Run many service commands as one transaction (the blueprint's all-or-nothing).

        Every `transaction()` and `reader()` opened by this task inside the block joins one
        connection; an exception rolls all of them back, events included.
        """
        if _ambient.get() is not None:
            raise RuntimeError("Store.atomic() blocks do not nest")
        async with self._connection(write=True) as conn, conn.begin():
            token = _ambient.set(conn)
            try:
                yield
            finally:
                _ambient.reset(token)

    @asynccontextmanager
    async def _connection(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                if write:
                    conn = await conn.execution_options(zitui_write=True)
                yield conn
        except sa_exc.IntegrityError:
            raise  # a repository bug, not an unavailable store
        except sa_exc.DatabaseError as exc:
            raise translate_database_error(exc) from exc

    async def ping(self) -> None:
        async with self._connection(write=False) as conn:
            await conn.execute(text("SELECT 1"))

    async def read_instance_state(self) -> str | None:
        """The master-key check of an existing instance, read before any migration runs."""
        async with self._connection(write=False) as conn, conn.begin():
            return await _read_key_check(conn)

    async def close(self) -> None:
        await self.engine.dispose()


def translate_database_error(exc: sa_exc.DatabaseError) -> StoreUnavailable:
    message = str(exc.orig)
    if "locked" in message or "busy" in message:
        return StoreUnavailable(
            "store.locked", "the store is locked by another process; try again in a moment"
        )
    return StoreUnavailable("store.unavailable", f"the store cannot be used: {message}")


async def open_store(url: str, *, busy_timeout_ms: int = 5000) -> Store:
    """Check, open and migrate the database at `url`."""
    path = sqlite_path(url)
    if path is not None:
        _ensure_parent(path)
        preflight_sqlite(path, busy_timeout_ms=busy_timeout_ms)
    engine = create_engine(url, busy_timeout_ms=busy_timeout_ms)
    store = Store(engine=engine, url=url)
    try:
        await store.ping()
    except BaseException:
        await engine.dispose()
        raise
    return store


async def migrate(store: Store) -> None:
    """Bring the schema to the newest revision."""
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(migrations.upgrade_to_head)
    except sa_exc.DatabaseError as exc:
        raise translate_database_error(exc) from exc


def _ensure_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise StoreUnavailable("store.no_directory", f"{path.parent} is not a directory")


async def _read_key_check(conn: AsyncConnection) -> str | None:
    def has_instances(sync_conn: Any) -> bool:
        return bool(sa.inspect(sync_conn).has_table("instances"))

    if not await conn.run_sync(has_instances):
        return None
    return await conn.scalar(text("SELECT key_check FROM instances LIMIT 1"))
