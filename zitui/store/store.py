"""The store: opens the database, applies migrations and hands out transactions.

Two backends share the `Store` interface: PostgreSQL through SQLAlchemy's asyncio engine
(`engine_store.py`), and SQLite with its statements on the event loop's own thread
(`sqlite_store.py`). See docs/design.md § Store.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import text

from zitui.errors import StoreUnavailable
from zitui.store import migrations
from zitui.store.engine import (
    create_engine,
    create_sqlite_engine,
    preflight_sqlite,
    sqlite_path,
)
from zitui.store.files import private_database_files
from zitui.store.repos import Repositories
from zitui.store.repos.base import Connection
from zitui.store.revisions import head_revision

T = TypeVar("T")

# The connection of an enclosing `Store.atomic()` block, if any, for this task.
_ambient: ContextVar[Connection | None] = ContextVar("zitui_ambient_tx", default=None)
# The after-commit hooks of the transactions inside that block, run once the block commits.
_ambient_hooks: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "zitui_ambient_hooks", default=None
)
log = logging.getLogger("zitui.store")


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
                nested = Repositories(ambient)
                yield nested
            deferred = _ambient_hooks.get()
            if deferred is not None:
                deferred.extend(nested.take_after_commit())
            return
        async with self._write() as conn:
            repos = Repositories(conn)
            yield repos
        _run_hooks(repos.take_after_commit())

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
    async def scan(self) -> AsyncIterator[Repositories]:
        """A read-only snapshot for queries that may scan many rows: lists, searches, the
        audit log. On SQLite its statements run on the store's reader thread, so the loop
        serves requests meanwhile; point lookups belong in `reader()`, which costs no
        hand-over. Inside `atomic()` it sees the pending changes, as `reader()` does."""
        ambient = _ambient.get()
        if ambient is not None:
            yield Repositories(ambient)
            return
        async with self._scan() as conn:
            yield Repositories(conn)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """Run many service commands as one transaction (the blueprint's all-or-nothing).

        Every `transaction()` and `reader()` opened by this task inside the block joins one
        connection; an exception rolls all of them back, events included.
        """
        if _ambient.get() is not None:
            raise RuntimeError("Store.atomic() blocks do not nest")
        hooks: list[Callable[[], None]] = []
        async with self._write() as conn:
            token = _ambient.set(conn)
            hooks_token = _ambient_hooks.set(hooks)
            try:
                yield
            finally:
                _ambient_hooks.reset(hooks_token)
                _ambient.reset(token)
        _run_hooks(hooks)

    def _write(self) -> Any:
        raise NotImplementedError

    def _read(self) -> Any:
        raise NotImplementedError

    def _scan(self) -> Any:
        """Where a backend's reads never hold the loop (asyncio drivers), a plain read."""
        return self._read()

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(text("SELECT 1"))

    async def schema_is_current(self) -> bool:
        """Whether the database stands at this zitui's newest migration; one small read."""
        async with self._read() as conn:
            found = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return found is not None and str(found) == head_revision()

    async def read_instance_state(self) -> str | None:
        """The master-key check of an existing instance, read before any migration runs."""
        return await self.run_sync(_read_key_check)

    async def run_sync(self, fn: Callable[[sa.Connection], T], *, write: bool = False) -> T:
        """Run `fn` with a synchronous connection (migrations, schema checks), off the loop;
        with `write` inside a transaction that commits when `fn` returns."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


async def open_store(url: str, *, busy_timeout_ms: int = 5000) -> Store:
    """Check, open and migrate the database at `url`."""
    # The backends subclass `Store`, so they are imported here rather than above.
    from zitui.store.engine_store import EngineStore
    from zitui.store.sqlite_store import SqliteStore

    path = sqlite_path(url)
    store: Store
    if path is not None:
        _ensure_parent(path)
        preflight_sqlite(path, busy_timeout_ms=busy_timeout_ms)
        private_database_files(path)
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


def _run_hooks(hooks: list[Callable[[], None]]) -> None:
    """After a commit: a failing hook is logged, and the committed change stays a success."""
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception("an after-commit hook failed")


def _ensure_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise StoreUnavailable("store.no_directory", f"{path.parent} is not a directory")


def _read_key_check(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("instances"):
        return None
    found = conn.scalar(text("SELECT key_check FROM instances LIMIT 1"))
    return str(found) if found is not None else None
