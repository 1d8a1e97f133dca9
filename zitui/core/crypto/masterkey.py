"""The master key and AES-GCM encryption of secrets that must be read back.

The key comes from `ZITUI_MASTERKEY` or from `masterkey` in the data directory, created
with mode 0600 on the first run; a key file that other users may read or change is refused.
AES and derived keys come from it through HKDF-SHA256, so the raw value is never used
directly. Ciphertexts are bound to their purpose as associated data: a signing key's
ciphertext cannot be replayed as a TOTP seed.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zitui.errors import InvalidArgument, StoreUnavailable, WrongMasterKey

MIN_LENGTH = 32
VERSION = "v1"
KEY_CHECK_PURPOSE = "instance.key_check"
KEY_CHECK_PLAINTEXT = b"zitui master key check"
# Key file modes refused: read or write for the group or for others.
_EXPOSED = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


def _hkdf(secret: bytes, info: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"zitui", info=info.encode()).derive(
        secret
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MasterKey:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_LENGTH:
            raise InvalidArgument(
                "masterkey.too_short",
                f"the master key must be at least {MIN_LENGTH} characters long",
                field="masterkey",
            )
        raw = secret.encode()
        self._aes = AESGCM(_hkdf(raw, "zitui aes-gcm v1"))
        self._raw = raw
        # Derived keys are asked for on every form (CSRF): made once per purpose.
        self._derived: dict[tuple[str, int], bytes] = {}

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A key for one purpose (cookie signing, CSRF, …), independent of the others."""
        key = self._derived.get((purpose, length))
        if key is None:
            key = self._derived[(purpose, length)] = _hkdf(
                self._raw, f"zitui derived {purpose}", length
            )
        return key

    def encrypt(self, plaintext: bytes, *, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aes.encrypt(nonce, plaintext, purpose.encode())
        return f"{VERSION}.{_b64(nonce + sealed)}"

    def decrypt(self, token: str, *, purpose: str) -> bytes:
        version, _, body = token.partition(".")
        if version != VERSION or not body:
            raise WrongMasterKey("masterkey.bad_ciphertext", "the stored secret is not readable")
        data = _unb64(body)
        try:
            return self._aes.decrypt(data[:12], data[12:], purpose.encode())
        except InvalidTag as exc:
            raise WrongMasterKey(
                "masterkey.wrong", "the master key does not open this store's secrets"
            ) from exc

    def key_check(self) -> str:
        return self.encrypt(KEY_CHECK_PLAINTEXT, purpose=KEY_CHECK_PURPOSE)

    def verify_key_check(self, check: str) -> None:
        if self.decrypt(check, purpose=KEY_CHECK_PURPOSE) != KEY_CHECK_PLAINTEXT:
            raise WrongMasterKey(
                "masterkey.wrong", "the master key does not open this store's secrets"
            )


def load_master_key(value: str | None, path: Path, *, may_create: bool) -> MasterKey:
    """The configured key, else the key file; a missing file is created only if allowed."""
    if value:
        return MasterKey(value)
    if path.exists():
        refuse_exposed_key_file(path)
        return MasterKey(path.read_text().strip())
    if not may_create:
        raise WrongMasterKey(
            "masterkey.missing",
            f"no master key: set ZITUI_MASTERKEY or restore {path} for this existing store",
        )
    return MasterKey(_create_key_file(path))


def refuse_exposed_key_file(path: Path) -> None:
    """Refuse a key file that group or others may read or write, naming the fix: whoever
    could read it can open every secret of the store."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & _EXPOSED:
        raise StoreUnavailable(
            "masterkey.exposed",
            f"the master key file {path} can be read or changed by other users; "
            f"run: chmod 600 {path}",
        )


def _create_key_file(path: Path) -> str:
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise StoreUnavailable(
            "store.unwritable", f"cannot create the master key file {path}: {exc.strerror}"
        ) from exc
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    return secret
