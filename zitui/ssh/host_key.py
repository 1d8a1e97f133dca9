"""The SSH server's host key: an Ed25519 key made on first start in the data directory (the
private key 0600), and its fingerprint as OpenSSH shows it."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh

from zitui.errors import StoreUnavailable

HOST_KEY_FILE = "ssh_host_ed25519_key"


def host_key_path(data_dir: Path) -> Path:
    return data_dir / HOST_KEY_FILE


def load_or_create_host_key(data_dir: Path) -> asyncssh.SSHKey:
    """The host key, made when missing. A key file others may read is refused, as sshd
    refuses one."""
    path = host_key_path(data_dir)
    if not path.exists():
        _create(path)
    if path.stat().st_mode & 0o077:
        raise StoreUnavailable(
            "ssh.host_key_exposed",
            f"{path} may be read by other users: chmod 600 it (or remove it for a new one)",
        )
    try:
        return asyncssh.read_private_key(path)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise StoreUnavailable("ssh.host_key_unreadable", f"cannot read {path}: {exc}") from exc


def host_key_fingerprint(data_dir: Path) -> str | None:
    """The SHA-256 fingerprint of the host key (`SHA256:…`), or None before the first start."""
    try:
        key = asyncssh.read_public_key(host_key_path(data_dir).with_suffix(".pub"))
    except (OSError, asyncssh.KeyImportError):
        return None
    return str(key.get_fingerprint("sha256"))


def _create(path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519", comment="zitui host key")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 in one step: the private key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.export_private_key("openssh"))
    path.with_suffix(".pub").write_bytes(key.export_public_key("openssh"))
