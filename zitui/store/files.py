"""The data directory on disk, kept private to the account that runs zitui.

The directory and `logs/` are created 0700; the database, its WAL and shared-memory files and
the process lock file are 0600 whatever the umask. SQLite gives `-wal` and `-shm` the mode of
the database file, so creating that file 0600 before SQLite opens it is what keeps them
private too.
"""

from __future__ import annotations

import os
from pathlib import Path

from zitui.errors import StoreUnavailable

DIR_MODE = 0o700
FILE_MODE = 0o600
# Beside the database: SQLite's write-ahead log and shared memory, zitui's process lock.
_COMPANIONS = ("-wal", "-shm", ".lock")


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) if needed; the directory itself gets 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def prepare_data_dir(path: Path) -> Path:
    """Create the directory if needed and prove it is writable by writing to it."""
    try:
        private_dir(path)
        private_dir(path / "logs")
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StoreUnavailable(
            "store.unwritable", f"data directory {path} is not usable: {reason}"
        ) from exc
    return path


def private_database_files(path: Path) -> None:
    """Create the SQLite file 0600 if it is missing, and take group and other access away
    from it and its companions if an older version or a copy left them readable."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreUnavailable(
            "store.unwritable", f"cannot create {path}: {exc.strerror or exc}"
        ) from exc
    else:
        os.close(fd)
    for file in (path, *(path.with_name(path.name + end) for end in _COMPANIONS)):
        _make_private(file)


def _make_private(path: Path) -> None:
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            path.chmod(FILE_MODE)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreUnavailable(
            "store.unwritable",
            f"{path} can be read by other users and cannot be made private: "
            f"{exc.strerror or exc}; run: chmod 600 {path}",
        ) from exc
