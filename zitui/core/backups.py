"""Backups of the store: `zitui backup`, `zitui restore`, and the copy before a migration.

A backup holds the database only. The master key never enters it, so a stolen backup opens
no secret, and a restore proves that the key in place opens the copy before writing a byte.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from zitui.config import Settings
from zitui.core.crypto.masterkey import load_master_key
from zitui.errors import PreconditionFailed, StoreUnavailable, WrongMasterKey, ZituiError
from zitui.store import Store, pg_backup
from zitui.store.backup import (
    Contents,
    Progress,
    copy_sqlite,
    inspect_sqlite,
    partial_name,
    publish,
    refuse_existing,
)
from zitui.store.engine import preflight_sqlite, sqlite_path
from zitui.store.files import private_dir
from zitui.store.revisions import current_revision, head_revision, is_known

log = logging.getLogger("zitui.backups")

DATABASE_FILE = "zitui.db"
BACKUPS_DIR = "backups"
# What an operator keeps beside a backup and may put in the data directory before a restore:
# the master key file, the SSH host key (`ssh_host_…`), and a new file system's lost+found.
_RESTORE_MAY_FIND = ("masterkey", "lost+found")
_RESTORE_MAY_FIND_PREFIX = "ssh_host"


@dataclass(frozen=True)
class BackupResult:
    """A checked backup: where it is, how big, and what it holds."""

    path: Path
    size_bytes: int
    contents: Contents
    head: str


@dataclass(frozen=True)
class RestoreResult:
    """A restored database, checked, and opened by the master key in place."""

    where: str
    contents: Contents
    head: str


async def take_backup(
    settings: Settings, target: Path, *, progress: Progress | None = None
) -> BackupResult:
    """Copy the running instance's store into the new file `target` and check the copy.

    The copy is written beside `target` under a hidden name and gets its name only once its
    integrity, revision and row counts are checked, so `target` is either a sound backup or
    absent. Other processes go on reading and writing meanwhile.
    """
    source = sqlite_path(settings.db_url)
    if source is None:
        return await _dump_postgres(settings.database_url, target.absolute(), progress)
    if not source.is_file() or source.stat().st_size == 0:
        raise StoreUnavailable(
            "store.no_instance", f"{settings.data_dir} holds no zitui instance to back up"
        )
    preflight_sqlite(source, busy_timeout_ms=settings.busy_timeout_ms)
    stop = threading.Event()
    try:
        return await asyncio.to_thread(
            _checked_copy, source, target.absolute(), progress, settings.busy_timeout_ms, stop
        )
    except asyncio.CancelledError:
        stop.set()  # the copy's thread ends at its next step and removes its file
        raise


class _Stopped(Exception):
    """The command was interrupted: the copy ends where it is and is not kept."""


def _checked_copy(
    source: Path,
    target: Path,
    progress: Progress | None,
    busy_timeout_ms: int,
    stop: threading.Event | None = None,
) -> BackupResult:
    _require_directory(target)
    stopped = stop or threading.Event()

    def step(done: int, total: int) -> None:
        if stopped.is_set():
            raise _Stopped
        if progress is not None:
            progress(done, total)

    partial = partial_name(target)
    try:
        taken = copy_sqlite(source, partial, progress=step, busy_timeout_ms=busy_timeout_ms)
        expect_same(taken, inspect_sqlite(partial), target)
        if stopped.is_set():
            raise _Stopped
        publish(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, target.stat().st_size, taken, head_revision())


async def _dump_postgres(url: str, target: Path, progress: Progress | None) -> BackupResult:
    _require_directory(target)
    partial = partial_name(target)
    try:
        taken = await pg_backup.dump_postgres(url, partial, progress=progress)
        expect_same(taken, await pg_backup.inspect_dump(partial), target)
        publish(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, target.stat().st_size, taken, head_revision())


def _require_directory(target: Path) -> None:
    refuse_existing(target)
    if not target.parent.is_dir():
        raise PreconditionFailed(
            "backup.no_directory", f"{target.parent} is not a directory", field="file"
        )


def expect_same(taken: Contents, copy: Contents, target: Path) -> None:
    """The copy holds the revision and rows the source held at the copied point."""
    if copy.revision != taken.revision or dict(copy.counts) != dict(taken.counts):
        raise StoreUnavailable(
            "backup.mismatch",
            f"the copy for {target} does not hold what the store held "
            f"(revision {copy.revision} for {taken.revision}, rows {dict(copy.counts)} "
            f"for {dict(taken.counts)}); it was not kept",
        )


async def restore_backup(settings: Settings, source: Path) -> RestoreResult:
    """Restore the backup `source` into the empty data directory of `settings`.

    In order, each refusing with nothing written: the directory holds nothing but the files
    kept beside a backup; the backup passes its integrity check and was made by this zitui or
    an older one; the master key in place opens it. Only then is it copied in, checked again,
    and given the database's name.
    """
    database = sqlite_path(settings.db_url)
    if database is None:
        return await _restore_postgres(settings, source)
    require_empty(settings.data_dir, database)
    contents = await asyncio.to_thread(inspect_sqlite, source)
    check_restorable(settings, contents, source)
    created = not settings.data_dir.exists()
    try:
        private_dir(settings.data_dir)
        await asyncio.to_thread(_copy_in, source, database, settings.busy_timeout_ms)
    except BaseException:
        if created:
            _remove_empty_tree(settings.data_dir)
        raise
    return RestoreResult(str(database), contents, head_revision())


async def _restore_postgres(settings: Settings, source: Path) -> RestoreResult:
    url = settings.database_url
    if not await pg_backup.is_empty(url):
        raise PreconditionFailed(
            "restore.not_empty",
            f"the database {_database_name(url)} already has tables; restore into a new, "
            "empty database",
        )
    contents = await pg_backup.inspect_dump(source)
    check_restorable(settings, contents, source)
    restored = await pg_backup.restore_dump(url, source)
    expect_same(contents, restored, source)
    return RestoreResult(_database_name(url), contents, head_revision())


def _database_name(url: str) -> str:
    return f"PostgreSQL database {pg_backup.database_name(url)}"


def _copy_in(source: Path, database: Path, busy_timeout_ms: int) -> None:
    partial = partial_name(database)
    try:
        taken = copy_sqlite(source, partial, busy_timeout_ms=busy_timeout_ms)
        expect_same(taken, inspect_sqlite(partial), database)
        publish(partial, database)
    finally:
        partial.unlink(missing_ok=True)


def require_empty(data_dir: Path, database: Path) -> None:
    """Refuse a data directory that holds anything but what is kept beside a backup."""
    if data_dir.exists() and not data_dir.is_dir():
        raise PreconditionFailed("restore.not_a_directory", f"{data_dir} is not a directory")
    found = sorted(
        entry.name
        for entry in (data_dir.iterdir() if data_dir.is_dir() else ())
        if entry.name not in _RESTORE_MAY_FIND
        and not entry.name.startswith(_RESTORE_MAY_FIND_PREFIX)
    )
    if found or database.exists():
        what = ", ".join(found[:3]) if found else database.name
        raise PreconditionFailed(
            "restore.not_empty",
            f"{data_dir} is not empty ({what}); restore into a new or empty data directory "
            "(only the masterkey file and the SSH host key may be there)",
        )


def check_restorable(settings: Settings, contents: Contents, source: Path) -> None:
    """The backup is a store this zitui can run, and the master key in place opens it."""
    if contents.revision is None or contents.key_check is None:
        raise StoreUnavailable("backup.foreign", f"{source} holds no zitui instance")
    if not is_known(contents.revision):
        raise PreconditionFailed(
            "restore.newer",
            f"{source} was made by a newer zitui (schema {contents.revision}, this one knows "
            f"up to {head_revision()}); restore it with that version",
        )
    key_file = settings.data_dir / "masterkey"
    try:
        key = load_master_key(settings.masterkey, key_file, may_create=False)
        key.verify_key_check(contents.key_check)
    except WrongMasterKey as exc:
        if exc.code == "masterkey.missing":
            raise WrongMasterKey(
                "restore.no_key",
                f"no master key to open {source}: set ZITUI_MASTERKEY or copy the instance's "
                f"masterkey file to {key_file} (mode 0600) first; nothing was restored",
            ) from exc
        where = "ZITUI_MASTERKEY" if settings.masterkey else str(key_file)
        raise WrongMasterKey(
            "restore.wrong_key",
            f"the master key in place ({where}) does not open {source}: use the key of the "
            "instance the backup was taken from; nothing was restored",
        ) from exc


async def backup_before_migration(
    settings: Settings, store: Store, *, now: datetime
) -> Path | None:
    """When a migration is pending on an existing SQLite store, copy it to
    `DATA/backups/pre-<revision>-<time>.db` first (the revision it is about to be migrated
    to) and keep the newest `backups_keep` of those copies. A failed copy stops the start
    with nothing migrated. PostgreSQL is backed up by the operator (pg_dump): logged."""
    current = await store.run_sync(current_revision)
    head = head_revision()
    if current is None or current == head or not is_known(current):
        return None
    path = sqlite_path(store.url)
    if path is None:
        log.warning(
            "migrating the store from %s to %s; back PostgreSQL up first with pg_dump "
            "(zitui backup FILE runs it)",
            current,
            head,
        )
        return None
    if settings.backups_keep == 0:
        log.warning(
            "migrating the store from %s to %s without a backup (backups_keep=0)", current, head
        )
        return None
    directory = settings.data_dir / BACKUPS_DIR
    target = directory / f"pre-{head}-{now.strftime('%Y%m%dT%H%M%SZ')}.db"
    try:
        private_dir(directory)
        await asyncio.to_thread(_checked_copy, path, target, None, settings.busy_timeout_ms)
    except (ZituiError, OSError) as exc:
        reason = exc.message if isinstance(exc, ZituiError) else (exc.strerror or str(exc))
        raise StoreUnavailable(
            "backup.before_migration",
            f"the backup before migrating to {head} failed: {reason}; nothing was migrated",
        ) from exc
    log.info("backed up the store at %s to %s before migrating to %s", current, target, head)
    for old in rotate(directory, settings.backups_keep):
        log.info("removed the old backup %s", old)
    return target


def rotate(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` automatic backups (`pre-*.db`); the deleted ones."""
    backups = sorted(directory.glob("pre-*.db"), key=_taken_at)
    old = backups[:-keep] if keep > 0 else backups
    for path in old:
        path.unlink(missing_ok=True)
    return old


def _taken_at(path: Path) -> tuple[str, str]:
    return path.stem.rsplit("-", 1)[-1], path.name


def _remove_empty_tree(path: Path) -> None:
    for entry in sorted(path.rglob("*"), reverse=True):
        if entry.is_dir() and not any(entry.iterdir()):
            entry.rmdir()
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()
