"""Offline check of a password against the bundled list of common and breached passwords.

The list ships as `zitui/data/common_passwords.bin`, made by `tools/build_common_passwords.py`
from pinned packages (see `docs/passwords.md`). It holds no plaintext: a 16-byte header, then
the sorted, distinct 64-bit BLAKE2b fingerprints of the normalised passwords as little-endian
unsigned integers. A lookup is a binary search over a memoryview of the file's bytes, so the
whole list costs its file size in memory and no Python object per entry.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import struct
import sys
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAGIC = b"ZCPW\x01\x00\x00\x00"
HEADER = struct.Struct("<8sQ")
ENTRY_SIZE = 8
RESOURCE = "data/common_passwords.bin"
# Domain separation: these fingerprints are of this list and no other.
_PERSON = b"zitui-common-pw1"


def normalise(password: str) -> str:
    """The form in which passwords are compared: NFKC, then case-folded, then NFKC again.

    NFKC makes compatibility variants (full-width digits, ligatures) equal to their plain
    form; case folding makes "Summer2024!" match the list's "summer2024!", since changing
    case is the first mutation a guesser tries. Folding can leave text that is no longer
    NFKC (e.g. with combining marks), hence the second pass.
    """
    folded = unicodedata.normalize("NFKC", password).casefold()
    return unicodedata.normalize("NFKC", folded)


def fingerprint(password: str) -> int:
    """The 64-bit fingerprint of `password` after normalisation, as stored in the list."""
    digest = hashlib.blake2b(
        normalise(password).encode("utf-8"), digest_size=ENTRY_SIZE, person=_PERSON
    ).digest()
    return int.from_bytes(digest, "little")


def pack(passwords: Iterable[str]) -> bytes:
    """The list file for `passwords`: header, then sorted distinct fingerprints."""
    values = sorted({fingerprint(p) for p in passwords})
    body = array("Q", values)
    if sys.byteorder != "little":
        body.byteswap()
    return HEADER.pack(MAGIC, len(values)) + body.tobytes()


@dataclass(frozen=True)
class CommonPasswords:
    """A loaded list: sorted fingerprints that support `in` by binary search."""

    fingerprints: Sequence[int]

    @classmethod
    def from_bytes(cls, data: bytes) -> CommonPasswords:
        if len(data) < HEADER.size:
            raise ValueError("common password list is truncated")
        magic, count = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ValueError("common password list has an unknown format")
        if len(data) != HEADER.size + count * ENTRY_SIZE:
            raise ValueError("common password list does not hold the count it declares")
        body = memoryview(data)[HEADER.size :]
        if sys.byteorder == "little":
            return cls(body.cast("Q"))
        swapped = array("Q", body.tobytes())
        swapped.byteswap()
        return cls(swapped)

    def __len__(self) -> int:
        return len(self.fingerprints)

    def __contains__(self, password: object) -> bool:
        if not isinstance(password, str):
            return False
        value = fingerprint(password)
        index = bisect_left(self.fingerprints, value)
        return index < len(self.fingerprints) and self.fingerprints[index] == value


_loaded: CommonPasswords | None = None
_lock = threading.Lock()


def bundled() -> CommonPasswords:
    """The list shipped with zitui, read once on first use (thread-safe)."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                data = importlib.resources.files("zitui").joinpath(RESOURCE).read_bytes()
                _loaded = CommonPasswords.from_bytes(data)
    return _loaded


def is_common(password: str) -> bool:
    """Whether `password`, normalised, is on the bundled list of common passwords."""
    return password in bundled()


def entry_count() -> int:
    """How many distinct entries the bundled list holds."""
    return len(bundled())
