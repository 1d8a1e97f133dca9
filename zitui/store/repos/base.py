"""Helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import CursorResult, IteratorResult, ScalarResult
from sqlalchemy.ext.asyncio import AsyncConnection

from zitui.errors import AlreadyExists
from zitui.store.prepared import Done, Prepared

T = TypeVar("T")


def table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Connection(Protocol):
    """What repositories use of a connection: SQLAlchemy's AsyncConnection has it, and so
    has InlineConnection."""

    async def execute(
        self, statement: Any, parameters: Any = None
    ) -> CursorResult[*tuple[Any, ...]]: ...

    async def scalar(self, statement: Any, parameters: Any = None) -> Any: ...

    async def scalars(self, statement: Any, parameters: Any = None) -> ScalarResult[Any]: ...

    def begin_nested(self) -> AbstractAsyncContextManager[Any]: ...

    @property
    def dialect(self) -> sa.Dialect: ...


class InlineConnection:
    """A synchronous SQLAlchemy connection behind the awaitable methods repositories call.

    The statements run at once on the caller's thread; the awaits never suspend.
    """

    __slots__ = ("sync",)

    def __init__(self, sync: sa.Connection) -> None:
        self.sync = sync

    async def execute(
        self, statement: Any, parameters: Any = None
    ) -> CursorResult[*tuple[Any, ...]]:
        return run_statement(self.sync, statement, parameters)  # type: ignore[return-value]

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        if type(statement) is Prepared:
            return (await self.execute(statement, parameters)).scalar()
        return self.sync.scalar(statement, parameters)

    async def scalars(self, statement: Any, parameters: Any = None) -> ScalarResult[Any]:
        if type(statement) is Prepared:
            return (await self.execute(statement, parameters)).scalars()
        return self.sync.scalars(statement, parameters)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync.begin_nested():
            yield

    @property
    def dialect(self) -> sa.Dialect:
        return self.sync.dialect


def run_statement(
    sync: sa.Connection, statement: Any, parameters: Any
) -> CursorResult[Any] | IteratorResult[Any] | Done:
    """Run a statement on a synchronous connection; a `Prepared` one straight through
    sqlite3 when it can (rows, or a rowcount for writes: as repositories use them)."""
    if type(statement) is Prepared:
        fast = statement.run(sync, parameters)
        if fast is not None:
            return fast
        statement = statement.statement
    return sync.execute(statement, parameters)


class EngineConnection:
    """SQLAlchemy's AsyncConnection (PostgreSQL) behind the same methods: a `Prepared`
    statement is an ordinary one there."""

    __slots__ = ("conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def execute(
        self, statement: Any, parameters: Any = None
    ) -> CursorResult[*tuple[Any, ...]]:
        return await self.conn.execute(_plain(statement), parameters)

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return await self.conn.scalar(_plain(statement), parameters)

    async def scalars(self, statement: Any, parameters: Any = None) -> ScalarResult[Any]:
        return await self.conn.scalars(_plain(statement), parameters)

    def begin_nested(self) -> AbstractAsyncContextManager[Any]:
        return self.conn.begin_nested()

    @property
    def dialect(self) -> sa.Dialect:
        return self.conn.dialect


def _plain(statement: Any) -> Any:
    return statement.statement if type(statement) is Prepared else statement


class Repository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def _insert(
        self, tbl: sa.Table, values: dict[str, Any], *, conflict: Callable[[str], AlreadyExists]
    ) -> None:
        """Insert a row; a unique-constraint violation becomes the domain's AlreadyExists.

        A savepoint keeps the surrounding transaction usable on PostgreSQL, which aborts a
        transaction after any failed statement.
        """
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(tbl.insert(), values)
        except sa_exc.IntegrityError as exc:
            raise conflict(str(exc.orig)) from exc

    async def _count(self, query: sa.Select[Any]) -> int:
        total = await self.conn.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        return int(total or 0)
