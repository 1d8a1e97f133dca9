"""The credentials one run created, and the file (`--out`) they are written to, mode 0600."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from zitui.errors import InvalidArgument, PreconditionFailed

Credentials = dict[str, dict[str, Any]]


def to_json(credentials: Credentials) -> str:
    return json.dumps(credentials, indent=2, sort_keys=True) + "\n"


class CredentialsFile:
    """The `--out` target, made ready before anything is applied.

    A temporary file (mode 0600) is created beside the target first, so a target that cannot
    be written refuses the run before the store is touched; after the commit the temporary
    file is filled and renamed over the target, so a reader never sees half a file.
    """

    def __init__(self, target: Path, temporary: Path) -> None:
        self.target = target
        self._temporary = temporary

    @classmethod
    def prepare(cls, target: Path) -> CredentialsFile:
        if target.is_dir():
            raise InvalidArgument(
                "blueprint.out.directory", f"{target} is a directory", field="out"
            )
        try:
            handle, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
        except OSError as exc:
            raise InvalidArgument(
                "blueprint.out.unwritable",
                f"cannot write the credentials file {target}: {exc.strerror or exc}",
                field="out",
            ) from exc
        os.close(handle)
        return cls(target, Path(name))

    def write(self, credentials: Credentials) -> None:
        try:
            with open(self._temporary, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), 0o600)
                out.write(to_json(credentials))
                out.flush()
                os.fsync(out.fileno())
            os.replace(self._temporary, self.target)
        except OSError as exc:
            self.discard()
            raise PreconditionFailed(
                "blueprint.out.failed",
                f"the blueprint was applied, but {self.target} could not be written "
                f"({exc.strerror or exc}); replace the secrets it should hold from the TUI",
            ) from exc

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._temporary.unlink()
