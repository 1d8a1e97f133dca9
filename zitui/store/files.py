"""The data directory on disk."""

from __future__ import annotations

import os
from pathlib import Path

from zitui.errors import StoreUnavailable


def prepare_data_dir(path: Path) -> Path:
    """Create the directory if needed and prove it is writable by writing to it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "logs").mkdir(exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StoreUnavailable(
            "store.unwritable", f"data directory {path} is not usable: {reason}"
        ) from exc
    return path
