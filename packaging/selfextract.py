"""Packs PyInstaller's one-folder build into one self-extracting file (see launcher.sh).

The archive is deterministic (sorted names, fixed times and owners), so the build's name in
the cache, its version and a digest of the archive, changes exactly when its contents do.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

LAUNCHER = Path(__file__).with_name("launcher.sh")


def pack(folder: Path, out: Path, version: str) -> str:
    """Write `out` from the one-folder build in `folder`; return the build's name."""
    payload = _archive(folder)
    build = f"{version}-{hashlib.sha256(payload).hexdigest()[:16]}"
    header = _header(build, version)
    out.write_bytes(header + payload)
    out.chmod(0o755)
    return build


def _archive(folder: Path) -> bytes:
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(folder.rglob("*")):
            name = str(path.relative_to(folder))
            tar.add(path, arcname=name, recursive=False, filter=_normalised)
    return raw.getvalue()


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    return info


def _header(build: str, version: str) -> bytes:
    template = LAUNCHER.read_text().replace("@BUILD@", build).replace("@VERSION@", version)
    offset = 1
    while True:
        header = template.replace("@OFFSET@", str(offset)).encode()
        if len(header) + 1 == offset:
            return header
        offset = len(header) + 1
