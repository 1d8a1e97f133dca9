"""`zitui backup FILE` and `zitui restore FILE`: what they print around zitui.core.backups."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from zitui.config import Settings
from zitui.core.backups import BackupResult, restore_backup, take_backup
from zitui.progress import ProgressBar


async def backup(settings: Settings, target: Path) -> int:
    """Take a checked online backup; progress on standard error, the result on standard out."""
    unit = "tables" if settings.database_url.startswith("postgresql") else "pages"
    bar = ProgressBar(sys.stderr, "zitui: backing up", unit=unit)
    try:
        done = await take_backup(settings, target, progress=bar)
    finally:
        bar.finish()
    for line in backup_lines(settings, done):
        print(f"zitui: {line}", flush=True)
    return 0


def backup_lines(settings: Settings, done: BackupResult) -> list[str]:
    contents = done.contents
    lines = [
        f"backup written to {done.path} ({_size(done.size_bytes)}, schema {contents.revision})",
        f"checked: integrity ok, schema and rows as in the store ({_rows(contents.counts)})",
    ]
    if contents.revision != done.head:
        lines.append(
            f"the store is at schema {contents.revision}, this zitui's newest is {done.head}: "
            "it migrates when this version starts on it"
        )
    key = "ZITUI_MASTERKEY" if settings.masterkey else str(settings.data_dir / "masterkey")
    lines.append(
        f"the backup holds the database only: keep the master key ({key}) and the SSH host "
        "key safe apart from it; a restore needs the same master key"
    )
    return lines


async def restore(settings: Settings, source: Path) -> int:
    """Restore a backup into an empty data directory, after checking it and the master key."""
    done = await restore_backup(settings, source)
    contents = done.contents
    print(
        f"zitui: restored {source} (schema {contents.revision}) into {done.where}: integrity ok, "
        f"the master key in place opens it ({_rows(contents.counts)})",
        flush=True,
    )
    if contents.revision != done.head:
        print(
            f"zitui: it migrates to schema {done.head} when zitui starts on it "
            "(a backup of it is taken first)",
            flush=True,
        )
    return 0


def _rows(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{table} {count}" for table, count in counts.items())


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
