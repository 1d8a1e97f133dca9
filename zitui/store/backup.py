"""Copies of the SQLite store: taken online with SQLite's backup API, checked, then published.

The copy reads one snapshot from start to end: the source connection holds a read
transaction while `sqlite3.Connection.backup` copies the pages, so what other processes
write meanwhile neither restarts the copy nor waits for it (a WAL reader blocks no writer),
and the row counts read in that same snapshot are exactly what the copy must hold.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from zitui.errors import InvalidArgument, StoreUnavailable
from zitui.store.engine import OUR_TABLES, SQLITE_HEADER
from zitui.store.files import FILE_MODE

# The tables whose rows a verification counts: what an operator would miss first.
KEY_TABLES = ("instances", "orgs", "users", "memberships", "projects", "apps", "events")
# Pages copied per step of the backup API (512 KiB at SQLite's default page size): the
# progress bar moves in these steps.
PAGES_PER_STEP = 128

Progress = Callable[[int, int], None]
"""Called with (pages copied, pages in all) after each step."""


@dataclass(frozen=True)
class Contents:
    """What a database holds, as far as a backup's check is concerned."""

    revision: str | None
    counts: Mapping[str, int]
    key_check: str | None


def copy_sqlite(
    source: Path,
    target: Path,
    *,
    progress: Progress | None = None,
    pages_per_step: int = PAGES_PER_STEP,
    busy_timeout_ms: int = 5000,
) -> Contents:
    """Copy the database at `source` into `target`, a new file (mode 0600), and return what
    the source held at the copied point. The copy is a single file (rollback journal)."""
    create_private(target)
    src = sqlite3.connect(source, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        src.execute("BEGIN")
        contents = _contents(src)  # this also starts the snapshot the copy reads
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            src.backup(dst, pages=pages_per_step, progress=_pages(progress))
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
        src.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StoreUnavailable("backup.failed", f"the copy of {source} failed: {exc}") from exc
    finally:
        src.close()
    _sync(target)
    return contents


def inspect_sqlite(path: Path) -> Contents:
    """Check a copy's integrity in full and read what it holds; a file that is not a sound
    copy of a zitui store raises StoreUnavailable (`backup.corrupt` or `backup.foreign`)."""
    _expect_sqlite_header(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise StoreUnavailable(
                    "backup.corrupt", f"{path} failed its integrity check: {problems[0]}"
                )
            if not _tables(conn) >= OUR_TABLES:
                raise StoreUnavailable("backup.foreign", f"{path} is not a copy of a zitui store")
            return _contents(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreUnavailable("backup.corrupt", f"{path} is damaged: {exc}") from exc


def publish(temporary: Path, target: Path) -> None:
    """Give the finished copy its name in one step, never replacing a file of that name."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise _exists(target) from None
    except OSError:
        # File systems without hard links: a rename, after the same check.
        if target.exists():
            raise _exists(target) from None
        os.rename(temporary, target)
    else:
        temporary.unlink()
    _sync_dir(target.parent)


def refuse_existing(target: Path) -> None:
    """Refuse before any work a target a backup would not replace."""
    if target.exists() or target.is_symlink():
        raise _exists(target)


def partial_name(target: Path) -> Path:
    """Where the copy for `target` is written until it is checked (hidden, same directory)."""
    return target.with_name(f".{target.name}.{os.getpid()}.partial")


def _contents(conn: sqlite3.Connection) -> Contents:
    tables = _tables(conn)
    revision = key_check = None
    if "alembic_version" in tables:
        revision = _scalar(conn, "SELECT version_num FROM alembic_version")
    if "instances" in tables:
        key_check = _scalar(conn, "SELECT key_check FROM instances LIMIT 1")
    counts = {
        table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
        for table in KEY_TABLES
        if table in tables
    }
    return Contents(revision=revision, counts=counts, key_check=key_check)


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(row[0]) for row in rows}


def _scalar(conn: sqlite3.Connection, sql: str) -> str | None:
    row = conn.execute(sql).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _pages(progress: Progress | None) -> Callable[[int, int, int], None] | None:
    if progress is None:
        return None
    report = progress

    def on_step(_status: int, remaining: int, total: int) -> None:
        report(total - remaining, total)

    return on_step


def _expect_sqlite_header(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        raise InvalidArgument("backup.missing", f"{path} does not exist", field="file") from None
    except OSError as exc:
        raise InvalidArgument(
            "backup.unreadable", f"{path} cannot be read: {exc.strerror or exc}", field="file"
        ) from exc
    if header != SQLITE_HEADER:
        raise StoreUnavailable("backup.corrupt", f"{path} is not an SQLite database")


def create_private(path: Path) -> None:
    """Create the empty file `path` with mode 0600; an existing file is refused."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        raise StoreUnavailable(
            "backup.unwritable", f"cannot write {path}: {exc.strerror or exc}"
        ) from exc
    os.close(fd)


def _exists(path: Path) -> InvalidArgument:
    return InvalidArgument(
        "backup.exists", f"{path} already exists; choose another name", field="file"
    )


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
