"""The store on the embedded SQLite file, queried on the event loop's own thread.

An indexed SQLite query from the page cache takes microseconds, far less than the hand-over
to a driver thread and back (the cost that dominated every token request before). Writers
take an asyncio lock first, so one coroutine never waits inside SQLite for a lock another
coroutine of the same loop holds, then a file lock that zitui's processes (a second
`zitui tui`, `zitui apply`, `serve` workers) take in turn, waited for in a thread, never by
blocking the loop. See docs/design.md § Store.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.errors import StoreUnavailable
from zitui.store.failures import reraise, translate_database_error
from zitui.store.reader_thread import ReaderThread
from zitui.store.repos.base import Connection, InlineConnection
from zitui.store.store import Store
from zitui.store.write_lock import ProcessWriteLock

T = TypeVar("T")

# How long a writer waits between attempts while another program (not a zitui process, which
# queues on the file lock first) holds SQLite's write lock: first just let the loop run other
# requests, then back off.
_BUSY_BACKOFF_S = (0.0, 0.0, 0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05)
# Reader connections kept open between snapshots.
_IDLE_READERS = 8


class SqliteStore(Store):
    """The embedded SQLite file, queried on the event loop's thread.

    One writer connection behind an asyncio lock, then the process lock (`ProcessWriteLock`)
    that zitui's processes take in turn; readers keep their own connections (WAL readers
    never wait for the writer), and scans run on the reader thread (`ReaderThread`). The
    writer's SQLite busy timeout is zero: when another program holds SQLite's lock,
    BEGIN IMMEDIATE fails at once and is retried after an asyncio sleep. Either wait ends
    with `store.locked` after `busy_timeout_ms`.
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
        self._reader_thread = ReaderThread(engine)

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
                reraise(exc)
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
            # Not `asyncio.wait_for`, which can drop a cancellation (write_lock.py); a free
            # lock is taken here without yielding to the loop.
            async with asyncio.timeout(self._busy_timeout_s):
                await self._lock.acquire()
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
            reraise(exc)
        conn.rollback()  # ends the snapshot
        if len(self._idle) < _IDLE_READERS:
            self._idle.append(conn)
        else:
            conn.close()

    def _scan(self) -> AbstractAsyncContextManager[Connection]:
        return self._reader_thread.snapshot()

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
            reraise(exc)

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
        await self._reader_thread.close()
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
