"""A throw-away PostgreSQL server for tests: Debian's binaries, a temporary cluster on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.processes import free_port


def _bin_dir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run `make test` (it installs it)")
    return versions[-1]


def _as_owner(command: list[str]) -> list[str]:
    # initdb refuses to run as root; the cluster then belongs to the postgres account.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """Start a cluster and yield an asyncpg URL for a fresh database in it."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="zitui-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "cluster", free_port()
    subprocess.run(
        _as_owner(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "zitui", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_owner(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        subprocess.run(
            _as_owner(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "zitui",
                    "zitui",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"postgresql+asyncpg://zitui@127.0.0.1:{port}/zitui"
    finally:
        subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
