"""Prepared statements: the hot queries, compiled once and run straight through sqlite3.

SQLAlchemy's execution path (execution context, event dispatch, result metadata) costs about
40 µs a statement; the indexed SQLite lookup behind it 10 µs. A token request runs four or
five such statements. `Prepared` keeps what SQLAlchemy compiled for a statement built once at
import (its SQL, the order of its parameters, the values bound in it, and the bind and result
processors of its column types) and runs it on the raw sqlite3 connection of an
`InlineConnection`, converting values exactly as SQLAlchemy would. On any other connection
(PostgreSQL) it is an ordinary statement.

Statements the plan cannot cover run the ordinary way: expanding `IN` parameters, and
inserts into tables with computed (non-scalar) column defaults.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.sql.dml import Insert

from zitui.store.types import UTCDateTime

Processor = Callable[[Any], Any] | None


class Prepared:
    """A statement built once; see the module's docstring."""

    __slots__ = ("statement", "_plans")

    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        self._plans: dict[frozenset[str], _Plan | None] = {}

    def run(
        self, conn: sa.Connection, parameters: Mapping[str, Any] | None
    ) -> IteratorResult[Any] | Done | None:
        """The result through sqlite3, or None when this statement cannot be planned."""
        params = parameters or {}
        keys = frozenset(params) if isinstance(self.statement, Insert) else frozenset()
        plan = self._plans.get(keys, _MISSING)
        if plan is _MISSING:
            plan = self._plans[keys] = _plan(self.statement, conn.dialect, keys)
        if plan is None:
            return None
        assert isinstance(plan, _Plan)
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        return plan.run(raw, params)


@dataclass(frozen=True, slots=True)
class Done:
    """The outcome of an INSERT, UPDATE or DELETE: how many rows it touched."""

    rowcount: int


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    bound: dict[str, Any]
    binders: tuple[Processor, ...]
    keys: tuple[str, ...] | None
    readers: tuple[Processor, ...]

    def run(self, raw: sqlite3.Connection, params: Mapping[str, Any]) -> Any:
        values = {**self.bound, **params}
        args = tuple(
            binder(values[name]) if binder else values[name]
            for name, binder in zip(self.names, self.binders, strict=True)
        )
        try:
            cursor = raw.execute(self.sql, args)
            if self.keys is None:
                return Done(cursor.rowcount)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise sa_exc.DBAPIError.instance(self.sql, args, exc, sqlite3.Error) from exc
        if any(self.readers):
            rows = [_read(row, self.readers) for row in rows]
        return IteratorResult(SimpleResultMetaData(self.keys), iter(rows))


def _read(row: tuple[Any, ...], readers: tuple[Processor, ...]) -> tuple[Any, ...]:
    return tuple(
        reader(value) if reader else value for reader, value in zip(readers, row, strict=True)
    )


_MISSING: Any = object()


def _plan(statement: sa.Executable, dialect: sa.Dialect, keys: frozenset[str]) -> _Plan | None:
    bound: dict[str, Any] = {}
    column_keys: list[str] | None = None
    if isinstance(statement, Insert):
        table = statement.table
        defaults = _scalar_defaults(table, keys)  # type: ignore[arg-type]
        if defaults is None:
            return None
        bound.update(defaults)
        column_keys = sorted(keys | set(defaults))
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)  # type: ignore[attr-defined]
    if any(bind.expanding for bind in compiled.binds.values()):
        return None
    names = tuple(compiled.positiontup or ())
    # The values bound in the statement itself (`kind == 'machine'`, `.values(x=None)`); the
    # caller's parameters are laid over them.
    bound = {**compiled.construct_params(_check=False), **bound}
    processors = compiled._bind_processors
    binders = tuple(processors.get(name) for name in names)
    result_keys: tuple[str, ...] | None = None
    readers: tuple[Processor, ...] = ()
    if not (compiled.isinsert or compiled.isupdate or compiled.isdelete):
        columns = compiled._result_columns
        result_keys = tuple(entry.keyname for entry in columns)
        readers = tuple(_reader(entry.type, dialect) for entry in columns)
    return _Plan(compiled.string, names, bound, binders, result_keys, readers)


def _reader(column_type: Any, dialect: sa.Dialect) -> Processor:
    # SQLAlchemy parses SQLite's datetime text with a regular expression; the C parser of
    # `fromisoformat` reads the same text (`2026-11-26 12:00:00.123456`) several times faster.
    if isinstance(column_type, UTCDateTime):
        return _utc_datetime
    processor: Processor = column_type._cached_result_processor(dialect, None)
    return processor


def _utc_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _scalar_defaults(table: sa.Table, keys: frozenset[str]) -> dict[str, Any] | None:
    """Python-side defaults of the columns not given, or None when one is computed."""
    found: dict[str, Any] = {}
    for column in table.columns:
        if column.key in keys or column.default is None:
            continue
        default = column.default
        if not getattr(default, "is_scalar", False):
            return None
        found[column.key] = default.arg  # type: ignore[attr-defined]
    return found
