"""The store: opens the database, applies migrations and hands out transactions.

Two backends share one interface. PostgreSQL goes through SQLAlchemy's asyncio engine
(asyncpg). SQLite runs its statements synchronously on the event loop's own thread: an
indexed SQLite query from the page cache takes microseconds, far less than the hand-over to
a driver thread and back (the cost that dominated every token request before). Writers take
an asyncio lock first, so one coroutine never waits inside SQLite for a lock another
coroutine of the same loop holds, then a file lock that zitui's processes (a second
`zitui tui`, `zitui apply`, `serve` workers) take in turn, waited for in a thread, never by
blocking the loop. See docs/design.md § Store.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NoReturn, TypeVar

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
from zitui.store.repos.base import Connection, EngineConnection, InlineConnection

T = TypeVar("T")

# The connection of an enclosing `Store.atomic()` block, if any, for this task.
_ambient: ContextVar[Connection | None] = ContextVar("zitui_ambient_tx", default=None)

# How long a writer waits between attempts while another program (not a zitui process, which
# queues on the file lock first) holds SQLite's write lock: first just let the loop run other
# requests, then back off.
_BUSY_BACKOFF_S = (0.0, 0.0, 0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
# Reader connections kept open between snapshots.
_IDLE_READERS = 8
# Tries of the process lock, each after one turn of the loop, before a thread waits for it.
_SPINS = 4


class ProcessWriteLock:
    """An exclusive `flock` on `<database>.lock`, which every zitui process holding a store
    takes before `BEGIN IMMEDIATE`.

    SQLite's own lock can only be polled without blocking the loop, and a poller loses to the
    process that just committed and begins again at once: with two `serve` workers writing,
    one starved for hundreds of milliseconds. A blocked `flock` is woken by the kernel the
    moment the holder lets go. The wait runs in one daemon thread per store, so the loop goes
    on serving; a wait abandoned (timeout, cancellation) releases the lock at once if it
    arrives later. Within a process one writer at a time reaches it (the asyncio lock).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1
        self._waits: queue.SimpleQueue[_Wait | None] = queue.SimpleQueue()
        self._waiter: threading.Thread | None = None

    async def acquire(self, timeout_s: float) -> None:
        if self._fd < 0:  # opened on first use, and again after `close`
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Another process holds it for the fraction of a millisecond its insert takes: let
        # the loop serve others a few times before handing the wait to the waiting thread.
        for _ in range(_SPINS):
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                await asyncio.sleep(0)
        if self._waiter is None:
            self._waiter = threading.Thread(
                target=self._wait_for_turns, name="zitui-write-lock", daemon=True
            )
            self._waiter.start()
        wait = _Wait(asyncio.get_running_loop())
        self._waits.put(wait)
        try:
            await asyncio.wait_for(wait.done, timeout_s)
        except BaseException:
            with wait.mutex:
                wait.abandoned = True
                if wait.held:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            raise

    def _wait_for_turns(self) -> None:
        """The waiting thread: takes the lock for each waiting writer in turn."""
        while (wait := self._waits.get()) is not None:
            with wait.mutex:
                if wait.abandoned:
                    continue
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            with wait.mutex:
                if wait.abandoned:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    continue
                wait.held = True
            wait.loop.call_soon_threadsafe(_resolve, wait.done)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._waiter is not None:
            self._waits.put(None)
            self._waiter = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _Wait:
    """One writer waiting for its turn; `mutex` settles a race between arrival and giving up."""

    __slots__ = ("loop", "done", "mutex", "abandoned", "held")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.done: asyncio.Future[None] = loop.create_future()
        self.mutex = threading.Lock()
        self.abandoned = False
        self.held = False


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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


class SqliteStore(Store):
    """The embedded SQLite file, queried on the event loop's thread.

    One writer connection behind an asyncio lock, then the process lock (`ProcessWriteLock`)
    that zitui's processes take in turn; readers keep their own connections (WAL readers
    never wait for the writer). The writer's SQLite busy timeout is zero: when another
    program holds SQLite's lock, BEGIN IMMEDIATE fails at once and is retried after an
    asyncio sleep. Either wait ends with `store.locked` after `busy_timeout_ms`.
    """

    def __init__(self, engine: sa.Engine, url: str, *, path: Path, busy_timeout_ms: int) -> None:
        self._engine = engine
        self.url = url
        self._busy_timeout_s = busy_timeout_ms / 1000
        self._lock = asyncio.Lock()
        self._process_lock = ProcessWriteLock(path.with_name(path.name + ".lock"))
        self._holder: asyncio.Task[Any] | None = None
        self._writer: sa.Connection | None = None
        self._idle: list[sa.Connection] = []

    @property
    def sync_engine(self) -> sa.Engine:
        return self._engine

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Connection]:
        await self._take_write_locks()
        try:
            conn = self._writer_connection()
            await self._begin_immediate(conn)
            try:
                yield InlineConnection(conn)
                self._guard(conn.commit)
            except BaseException as exc:
                conn.rollback()  # also after a failed commit: the writer stays usable
                _reraise(exc)
        finally:
            self._process_lock.release()
            self._holder = None
            self._lock.release()

    async def _take_write_locks(self) -> None:
        """This process's turn (the asyncio lock), then all processes' turn (the flock)."""
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError("a write transaction inside another one; use Store.atomic()")
        try:
            await asyncio.wait_for(self._lock.acquire(), self._busy_timeout_s)
        except TimeoutError:
            raise StoreUnavailable(
                "store.busy", "the store is busy with a long write; try again in a moment"
            ) from None
        try:
            await self._process_lock.acquire(self._busy_timeout_s)
        except BaseException as exc:
            self._lock.release()
            if isinstance(exc, TimeoutError):
                raise StoreUnavailable(
                    "store.locked", "the store is locked by another process; try again later"
                ) from None
            raise
        self._holder = task

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        # Idle reader connections are kept here rather than in the pool: a checkout and its
        # reset cost more than the snapshot they serve.
        conn = self._idle.pop() if self._idle else self._guard(self._engine.connect)
        try:
            self._guard(conn.begin)
            yield InlineConnection(conn)
        except BaseException as exc:
            conn.close()
            _reraise(exc)
        conn.rollback()  # ends the snapshot
        if len(self._idle) < _IDLE_READERS:
            self._idle.append(conn)
        else:
            conn.close()

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
            except (sa_exc.OperationalError, sqlite3.OperationalError) as exc:
                # BEGIN goes straight to the driver (engine.py), so its error is sqlite3's.
                conn.rollback()
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise translate_database_error(exc) from exc
            await asyncio.sleep(_BUSY_BACKOFF_S[min(attempt, len(_BUSY_BACKOFF_S) - 1)])
            attempt += 1

    @staticmethod
    def _guard(call: Callable[[], T]) -> T:
        try:
            return call()
        except (sa_exc.DatabaseError, sqlite3.DatabaseError) as exc:
            _reraise(exc)

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
        while self._idle:
            self._idle.pop().close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._engine.dispose()
        self._process_lock.close()


def _is_busy(exc: sa_exc.OperationalError | sqlite3.OperationalError) -> bool:
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(orig) or "busy" in str(orig)


def _reraise(exc: BaseException) -> NoReturn:
    """Raise what a failure inside a transaction becomes: an unusable database is
    StoreUnavailable; an IntegrityError (a repository's bug, or a race it handles) and
    anything else are raised as they are."""
    if isinstance(exc, sa_exc.DatabaseError | sqlite3.DatabaseError) and not isinstance(
        exc, sa_exc.IntegrityError | sqlite3.IntegrityError
    ):
        raise translate_database_error(exc) from exc
    raise exc


def translate_database_error(exc: sa_exc.DatabaseError | sqlite3.Error) -> StoreUnavailable:
    message = str(exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc)
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
            path=path,
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


def _ensure_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise StoreUnavailable("store.no_directory", f"{path.parent} is not a directory")


def _read_key_check(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("instances"):
        return None
    found = conn.scalar(text("SELECT key_check FROM instances LIMIT 1"))
    return str(found) if found is not None else None
