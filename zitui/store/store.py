"""The store: opens the database, applies migrations and hands out transactions.

Two backends share one interface. PostgreSQL goes through SQLAlchemy's asyncio engine
(asyncpg). SQLite runs its statements synchronously on the event loop's own thread: an
indexed SQLite query from the page cache takes microseconds, far less than the hand-over to
a driver thread and back (the cost that dominated every token request before). Writers take
an asyncio lock first, so one coroutine never waits inside SQLite for a lock another
coroutine of the same loop holds; a writer of another process (a second `zitui tui`,
`zitui apply`) is waited for with asyncio sleeps, never by blocking the loop. See
docs/design.md § Store.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zitui.errors import StoreUnavailable
from zitui.store import migrations
from zitui.store.engine import (
    create_engine,
    create_sqlite_engine,
    preflight_sqlite,
    sqlite_path,
)
from zitui.store.repos import Repositories
from zitui.store.repos.base import Connection, InlineConnection

T = TypeVar("T")

# The connection of an enclosing `Store.atomic()` block, if any, for this task.
_ambient: ContextVar[Connection | None] = ContextVar("zitui_ambient_tx", default=None)

# How long a writer waits between attempts while another process holds SQLite's write lock.
# Another `serve` worker holds it for a fraction of a millisecond: first just let the loop
# run other requests, then back off.
_BUSY_BACKOFF_S = (0.0, 0.0, 0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


class Store:
    """Transactions over the database; subclasses bind them to a backend."""

    url: str

    @property
    def dialect(self) -> str:
        return self.sync_engine.dialect.name

    @property
    def sync_engine(self) -> sa.Engine:
        raise NotImplementedError

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
        async with self._write() as conn:
            yield Repositories(conn)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Repositories]:
        """A read-only snapshot for queries; inside `atomic()` it sees the pending changes."""
        ambient = _ambient.get()
        if ambient is not None:
            yield Repositories(ambient)
            return
        async with self._read() as conn:
            yield Repositories(conn)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """Run many service commands as one transaction (the blueprint's all-or-nothing).

        Every `transaction()` and `reader()` opened by this task inside the block joins one
        connection; an exception rolls all of them back, events included.
        """
        if _ambient.get() is not None:
            raise RuntimeError("Store.atomic() blocks do not nest")
        async with self._write() as conn:
            token = _ambient.set(conn)
            try:
                yield
            finally:
                _ambient.reset(token)

    def _write(self) -> Any:
        raise NotImplementedError

    def _read(self) -> Any:
        raise NotImplementedError

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(text("SELECT 1"))

    async def read_instance_state(self) -> str | None:
        """The master-key check of an existing instance, read before any migration runs."""
        return await self.run_sync(_read_key_check)

    async def run_sync(self, fn: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        """Run `fn` with a synchronous connection (migrations, schema checks), off the loop;
        with `write` inside a transaction that commits when `fn` returns."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


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
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        async with self._connection(write=False) as conn, conn.begin():
            yield conn

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


class SqliteStore(Store):
    """The embedded SQLite file, queried on the event loop's thread.

    One writer connection behind an asyncio lock; readers take pooled connections (WAL
    readers never wait for the writer). The writer's SQLite busy timeout is zero: when
    another process holds the write lock, BEGIN IMMEDIATE fails at once and is retried
    after an asyncio sleep, until `busy_timeout_ms` has passed.
    """

    def __init__(self, engine: sa.Engine, url: str, *, busy_timeout_ms: int) -> None:
        self._engine = engine
        self.url = url
        self._busy_timeout_s = busy_timeout_ms / 1000
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._writer: sa.Connection | None = None

    @property
    def sync_engine(self) -> sa.Engine:
        return self._engine

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Connection]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError("a write transaction inside another one; use Store.atomic()")
        try:
            await asyncio.wait_for(self._lock.acquire(), self._busy_timeout_s)
        except TimeoutError:
            raise StoreUnavailable(
                "store.busy", "the store is busy with a long write; try again in a moment"
            ) from None
        self._holder = task
        try:
            conn = self._writer_connection()
            await self._begin_immediate(conn)
            try:
                yield InlineConnection(conn)
            except sa_exc.DatabaseError as exc:
                conn.rollback()
                if isinstance(exc, sa_exc.IntegrityError):
                    raise
                raise translate_database_error(exc) from exc
            except BaseException:
                conn.rollback()
                raise
            self._guard(conn.commit)
        finally:
            self._holder = None
            self._lock.release()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        conn = self._guard(self._engine.connect)
        try:
            self._guard(conn.begin)
            yield InlineConnection(conn)
        except sa_exc.DatabaseError as exc:
            if isinstance(exc, sa_exc.IntegrityError):
                raise
            raise translate_database_error(exc) from exc
        finally:
            conn.close()  # ends the snapshot and returns the connection to the pool

    def _writer_connection(self) -> sa.Connection:
        if self._writer is None or self._writer.closed or self._writer.invalidated:
            conn = self._guard(self._engine.connect)
            conn.exec_driver_sql("PRAGMA busy_timeout=0")
            conn.commit()
            self._writer = conn.execution_options(zitui_write=True)
        return self._writer

    async def _begin_immediate(self, conn: sa.Connection) -> None:
        deadline = time.monotonic() + self._busy_timeout_s
        attempt = 0
        while True:
            try:
                conn.begin()
                return
            except sa_exc.OperationalError as exc:
                conn.rollback()
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise translate_database_error(exc) from exc
            await asyncio.sleep(_BUSY_BACKOFF_S[min(attempt, len(_BUSY_BACKOFF_S) - 1)])
            attempt += 1

    @staticmethod
    def _guard(call: Callable[[], T]) -> T:
        try:
            return call()
        except sa_exc.IntegrityError:
            raise
        except sa_exc.DatabaseError as exc:
            raise translate_database_error(exc) from exc

    async def run_sync(self, fn: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        def work() -> T:
            with self._engine.connect() as conn:
                if not write:
                    return fn(conn)
                with conn.execution_options(zitui_write=True).begin():
                    return fn(conn)

        try:
            return await asyncio.to_thread(work)
        except sa_exc.DatabaseError as exc:
            raise translate_database_error(exc) from exc

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._engine.dispose()


def _is_busy(exc: sa_exc.OperationalError) -> bool:
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(orig) or "busy" in str(orig)


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
    store: Store
    if path is not None:
        _ensure_parent(path)
        preflight_sqlite(path, busy_timeout_ms=busy_timeout_ms)
        store = SqliteStore(
            create_sqlite_engine(path, busy_timeout_ms=busy_timeout_ms),
            url,
            busy_timeout_ms=busy_timeout_ms,
        )
    else:
        store = EngineStore(create_engine(url), url)
    try:
        await store.ping()
    except BaseException:
        await store.close()
        raise
    return store


async def migrate(store: Store) -> None:
    """Bring the schema to the newest revision."""
    await store.run_sync(migrations.upgrade_to_head, write=True)


def _ensure_parent(path: Any) -> None:
    if not path.parent.is_dir():
        raise StoreUnavailable("store.no_directory", f"{path.parent} is not a directory")


def _read_key_check(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("instances"):
        return None
    found = conn.scalar(text("SELECT key_check FROM instances LIMIT 1"))
    return str(found) if found is not None else None
