"""Engine set-up: pre-flight checks of the database file, SQLite pragmas, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from zitui.errors import StoreUnavailable

SQLITE_HEADER = b"SQLite format 3\x00"
OUR_TABLES = {"alembic_version", "instances"}


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def preflight_sqlite(path: Path, *, busy_timeout_ms: int) -> None:
    """Refuse files that are not ours, damaged, or locked, before SQLAlchemy touches them.

    A new, empty file is fine. Nothing here writes to the database.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as fh:
        if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise StoreUnavailable("store.not_sqlite", f"{path} is not an SQLite database")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=busy_timeout_ms / 1000)
        try:
            _check_sqlite(conn, path)
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreUnavailable(
                "store.locked", f"{path} is locked by another process; try again when it is done"
            ) from exc
        raise StoreUnavailable("store.corrupt", f"{path} cannot be read: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreUnavailable("store.corrupt", f"{path} is damaged: {exc}") from exc


def _check_sqlite(conn: sqlite3.Connection, path: Path) -> None:
    result = conn.execute("PRAGMA quick_check").fetchone()
    if not result or result[0] != "ok":
        raise StoreUnavailable("store.corrupt", f"{path} failed its integrity check: {result}")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and not tables >= OUR_TABLES:
        raise StoreUnavailable(
            "store.foreign", f"{path} is an SQLite database of another program, not zitui's"
        )


def create_engine(url: str) -> AsyncEngine:
    """The asyncio engine of a server database (PostgreSQL)."""
    return create_async_engine(url, pool_pre_ping=True)


# Reads map the file instead of copying pages into each connection's cache, which another
# connection's write invalidates (every token written by a sibling worker or the writer).
MMAP_BYTES = 256 * 1024 * 1024


def create_sqlite_engine(path: Path, *, busy_timeout_ms: int) -> sa.Engine:
    """A synchronous engine for the SQLite file: WAL, foreign keys, a busy timeout and
    explicit BEGINs. Its connections are used on the event loop's thread (see sqlite_store.py)
    and, for scans and migrations, from a thread of their own, never by two at once."""
    engine = sa.create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        # Readers that await while holding a snapshot each keep a connection: the pool
        # never makes a caller wait (a wait would block the loop), it opens another.
        poolclass=sa.QueuePool,
        pool_size=8,
        max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that later upgrades
        # to a writer gets SQLITE_BUSY at once instead of waiting out the busy timeout.
        mode = "IMMEDIATE" if conn.get_execution_options().get("zitui_write") else "DEFERRED"
        # Straight to the driver: SQLAlchemy's statement path costs more than BEGIN itself.
        conn.connection.driver_connection.execute(_BEGIN[mode])

    return engine


_BEGIN = {mode: f"BEGIN {mode}" for mode in ("IMMEDIATE", "DEFERRED")}
