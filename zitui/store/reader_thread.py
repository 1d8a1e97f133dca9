"""The reader thread: SQLite statements of scanning queries run off the event loop.

Statements of `SqliteStore` run on the loop's own thread, which is right for indexed lookups
of microseconds and wrong for a search that scans 100,000 users (~0.1 s): the loop would
serve nothing else meanwhile. `Store.scan()` snapshots send their statements to one thread
per store instead. SQLite releases the GIL while it steps through rows, so the loop goes on
serving requests while the thread scans. See docs/design.md § Store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Result, ScalarResult

from zitui.store.failures import reraise
from zitui.store.prepared import Done
from zitui.store.repos.base import run_statement

T = TypeVar("T")

# Snapshot connections kept open between scans.
_IDLE = 2


class ReaderThread:
    """Opens `Store.scan()` snapshots on the store's reader thread, made on first use.

    A closed store can be used again (as its other connections can): the next scan starts a
    new thread.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._worker: _Worker | None = None

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[ThreadConnection]:
        """A read-only transaction whose statements run on the thread."""
        if self._worker is None:
            self._worker = _Worker(self._engine)
        worker = self._worker
        snapshot = _Snapshot(worker)
        healthy = False
        try:
            await worker.call(worker.open, snapshot)
            yield ThreadConnection(snapshot, self._engine.dialect)
            healthy = True
        except BaseException as exc:
            reraise(exc)
        finally:
            await worker.release(snapshot, healthy=healthy)

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.close()


class _Worker:
    """One thread and the connections only it touches.

    Each snapshot has a connection of its own (its own WAL snapshot); the loop awaits each
    statement. The work queue is first in, first out, so a snapshot's release always follows
    its last statement, even when the coroutine that waited for it was cancelled meanwhile.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zitui-reader")
        self._idle: list[sa.Connection] = []
        self._busy: set[sa.Connection] = set()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def release(self, snapshot: _Snapshot, *, healthy: bool) -> None:
        try:
            released = self._pool.submit(self._release, snapshot, healthy)
        except RuntimeError:
            return  # closed: the thread's last task closed every connection
        await asyncio.shield(asyncio.wrap_future(released))

    async def close(self) -> None:
        """Close every connection the thread holds, then end the thread."""
        closed: Future[None] = self._pool.submit(self._close_all)
        self._pool.shutdown(wait=False)
        await asyncio.wrap_future(closed)

    def open(self, snapshot: _Snapshot) -> None:
        conn = self._idle.pop() if self._idle else self._engine.connect()
        self._busy.add(conn)
        snapshot.conn = conn
        conn.begin()

    def _release(self, snapshot: _Snapshot, healthy: bool) -> None:
        conn, snapshot.conn = snapshot.conn, None
        if conn is None:
            return
        self._busy.discard(conn)
        if healthy and len(self._idle) < _IDLE:
            conn.rollback()  # ends the snapshot
            self._idle.append(conn)
        else:
            conn.close()

    def _close_all(self) -> None:
        for conn in [*self._idle, *self._busy]:
            conn.close()
        self._idle.clear()
        self._busy.clear()


class _Snapshot:
    """The connection of one snapshot, set and cleared on its worker's thread."""

    __slots__ = ("worker", "conn")

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.conn: sa.Connection | None = None

    def execute(self, statement: Any, parameters: Any) -> Result[Any]:
        assert self.conn is not None
        result = run_statement(self.conn, statement, parameters)
        if isinstance(result, Done):
            raise RuntimeError("a scan only reads; write in Store.transaction()")
        # Every row is read here, on the thread: a lazy cursor would step on the loop's.
        return result.freeze()()


class ThreadConnection:
    """A `Store.scan()` connection: each statement runs on the reader thread and is awaited.

    Results arrive buffered; scans only read, so there is no `begin_nested`.
    """

    __slots__ = ("_snapshot", "_dialect")

    def __init__(self, snapshot: _Snapshot, dialect: sa.Dialect) -> None:
        self._snapshot = snapshot
        self._dialect = dialect

    async def execute(
        self, statement: Any, parameters: Any = None
    ) -> CursorResult[*tuple[Any, ...]]:
        snapshot = self._snapshot
        result = await snapshot.worker.call(snapshot.execute, statement, parameters)
        return result  # type: ignore[return-value]  # a buffered Result, read as repos read

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def scalars(self, statement: Any, parameters: Any = None) -> ScalarResult[Any]:
        return (await self.execute(statement, parameters)).scalars()

    def begin_nested(self) -> AbstractAsyncContextManager[Any]:
        raise RuntimeError("a scan only reads; write in Store.transaction()")

    @property
    def dialect(self) -> sa.Dialect:
        return self._dialect
