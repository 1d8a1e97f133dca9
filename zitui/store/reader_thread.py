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
    """One thread that opens, uses and closes every connection of `Store.scan()`.

    Each snapshot has a connection of its own (its own WAL snapshot), touched only on this
    thread; the loop awaits each statement. The work queue is first in, first out, so a
    snapshot's release always follows its last statement, even when the coroutine that
    waited for it was cancelled meanwhile.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zitui-reader")
        self._idle: list[sa.Connection] = []  # only used on the thread
        self._busy: set[sa.Connection] = set()  # only used on the thread

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[ThreadConnection]:
        """A read-only transaction whose statements run on the thread."""
        snapshot = _Snapshot()
        healthy = False
        try:
            await self.call(self._open, snapshot)
            yield ThreadConnection(snapshot, self)
            healthy = True
        except BaseException as exc:
            reraise(exc)
        finally:
            released = self._executor.submit(self._release, snapshot, healthy=healthy)
            await asyncio.shield(asyncio.wrap_future(released))

    @property
    def dialect(self) -> sa.Dialect:
        return self._engine.dialect

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def close(self) -> None:
        """Close every connection the thread holds, then end the thread."""
        closed: Future[None] = self._executor.submit(self._close_all)
        self._executor.shutdown(wait=False)
        await asyncio.wrap_future(closed)

    def _open(self, snapshot: _Snapshot) -> None:
        conn = self._idle.pop() if self._idle else self._engine.connect()
        self._busy.add(conn)
        snapshot.conn = conn
        conn.begin()

    def _release(self, snapshot: _Snapshot, *, healthy: bool) -> None:
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
    """The connection of one snapshot, set and cleared on the thread."""

    __slots__ = ("conn",)

    def __init__(self) -> None:
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

    __slots__ = ("_snapshot", "_thread")

    def __init__(self, snapshot: _Snapshot, thread: ReaderThread) -> None:
        self._snapshot = snapshot
        self._thread = thread

    async def execute(
        self, statement: Any, parameters: Any = None
    ) -> CursorResult[*tuple[Any, ...]]:
        result = await self._thread.call(self._snapshot.execute, statement, parameters)
        return result  # type: ignore[return-value]  # a buffered Result, read as repos read

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def scalars(self, statement: Any, parameters: Any = None) -> ScalarResult[Any]:
        return (await self.execute(statement, parameters)).scalars()

    def begin_nested(self) -> AbstractAsyncContextManager[Any]:
        raise RuntimeError("a scan only reads; write in Store.transaction()")

    @property
    def dialect(self) -> sa.Dialect:
        return self._thread.dialect
