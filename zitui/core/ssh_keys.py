"""Users' SSH public keys: the first factor of the operator console over SSH.

A key is given as OpenSSH writes it in `authorized_keys` or `id_*.pub`: `ssh-ed25519 AAAA…
comment`. It is kept as its algorithm and base64 blob, with the SHA-256 fingerprint OpenSSH
shows (`SHA256:…`), which is unique across the instance: one key belongs to one user, so the
key names its user. The user adds and removes their own keys (the self side of
`user.credential.write`); a manager with that permission in the user's organisation does it
for them. Each change is an event on the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.core.user_base import load_user
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PreconditionFailed
from zitui.records import User, UserKind
from zitui.store import Repositories, Store
from zitui.store.repos.ssh_keys import StoredSshKey

if TYPE_CHECKING:  # asyncssh is imported where a key is read: a start without --ssh skips it
    import asyncssh

MAX_LINE_LENGTH = 16_384
MAX_COMMENT_LENGTH = 200
MIN_RSA_BITS = 2048
# Algorithms a key may use: DSA and short RSA keys are refused, as current OpenSSH does.
ALGORITHMS = frozenset(
    {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-rsa",
    }
)
FIELD = "public_key"


@dataclass(frozen=True)
class PublicKey:
    """A parsed key: what is stored, and the line to give back to OpenSSH."""

    algorithm: str
    blob: str
    fingerprint: str
    comment: str

    @property
    def line(self) -> str:
        return f"{self.algorithm} {self.blob} {self.comment}".rstrip()


@dataclass(frozen=True)
class SshKey:
    """One registered key as its owner and managers see it."""

    id: str
    user_id: str
    algorithm: str
    fingerprint: str
    comment: str
    created_at: datetime
    last_used_at: datetime | None
    line: str


def parse_public_key(line: str) -> PublicKey:
    """Parse one OpenSSH public key line; InvalidArgument("ssh_key.invalid") for anything
    else, InvalidArgument("ssh_key.algorithm_refused") for DSA or RSA under 2048 bits."""
    line = line.strip()
    if not line or len(line) > MAX_LINE_LENGTH or "\n" in line or "\r" in line:
        raise _invalid()
    import asyncssh  # here, not at the top: ~90 ms at every start otherwise

    try:
        key = asyncssh.import_public_key(line)
    except (asyncssh.KeyImportError, ValueError, TypeError):
        raise _invalid() from None
    algorithm = key.algorithm.decode("ascii", "replace")
    if algorithm not in ALGORITHMS or (algorithm == "ssh-rsa" and _rsa_bits(key) < MIN_RSA_BITS):
        raise InvalidArgument(
            "ssh_key.algorithm_refused",
            "use an Ed25519, ECDSA or RSA (2048 bits or more) key",
            field=FIELD,
        )
    exported = key.export_public_key("openssh").decode("ascii").split()
    comment = (key.get_comment() or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH or not comment.isprintable():
        raise InvalidArgument(
            "ssh_key.comment_invalid", "the key's comment is too long", field=FIELD
        )
    return PublicKey(
        algorithm=algorithm,
        blob=exported[1],
        fingerprint=key.get_fingerprint("sha256"),
        comment=comment,
    )


def _rsa_bits(key: asyncssh.SSHKey) -> int:
    return int(getattr(key.pyca_key, "key_size", 0))


def _invalid() -> InvalidArgument:
    return InvalidArgument(
        "ssh_key.invalid",
        "paste one public key line as OpenSSH writes it: ssh-ed25519 AAAA… comment",
        field=FIELD,
    )


def _key_not_found() -> NotFound:
    return NotFound("ssh_key.not_found", "no such SSH key")


def _view(stored: StoredSshKey) -> SshKey:
    line = f"{stored.algorithm} {stored.public_key} {stored.comment}".rstrip()
    return SshKey(
        id=stored.id,
        user_id=stored.user_id,
        algorithm=stored.algorithm,
        fingerprint=stored.fingerprint,
        comment=stored.comment,
        created_at=stored.created_at,
        last_used_at=stored.last_used_at,
        line=line,
    )


class SshKeyService:
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def list_keys(self, ctx: Context, user_id: str) -> tuple[SshKey, ...]:
        """The user's keys, oldest first, for the user or a manager who may read them."""
        await self._allowed(ctx, "user.read", user_id)
        async with self._store.reader() as tx:
            return tuple(_view(k) for k in await tx.ssh_keys.list_for_user(user_id))

    async def add_key(self, ctx: Context, user_id: str, line: str) -> SshKey:
        """Register a public key of a human user; AlreadyExists("ssh_key.already_registered")
        when the key belongs to someone already (this user included)."""
        parsed = parse_public_key(line)
        await self._allowed(ctx, "user.credential.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_user(tx, user_id)
            return await self.add_parsed(tx, ctx, user, parsed)

    async def add_parsed(
        self, tx: Repositories, ctx: Context, user: User, parsed: PublicKey
    ) -> SshKey:
        """Inside the caller's transaction, with the permission checked (or the blueprint's
        system context): keep the key and record it."""
        if user.kind is not UserKind.HUMAN:
            raise PreconditionFailed("user.not_human", "a machine user has no SSH console keys")
        stored = StoredSshKey(
            id=new_id(),
            user_id=user.id,
            algorithm=parsed.algorithm,
            public_key=parsed.blob,
            fingerprint=parsed.fingerprint,
            comment=parsed.comment,
            created_at=ctx.now(),
            last_used_at=None,
        )
        if not await tx.ssh_keys.insert(stored):
            raise AlreadyExists(
                "ssh_key.already_registered", "this SSH key is registered already", field=FIELD
            )
        await _record(tx, ctx, user, "user.human.ssh_key.added", stored)
        return _view(stored)

    async def remove_key(self, ctx: Context, user_id: str, key_id: str) -> None:
        """Remove one of the user's keys; NotFound for a key of anyone else."""
        await self._allowed(ctx, "user.credential.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_user(tx, user_id)
            stored = await tx.ssh_keys.find(key_id)
            if stored is None or stored.user_id != user.id:
                raise _key_not_found()
            if not await tx.ssh_keys.delete(key_id, user.id):
                raise _key_not_found()
            await _record(tx, ctx, user, "user.human.ssh_key.removed", stored)

    async def _allowed(self, ctx: Context, permission: str, user_id: str) -> User:
        async with self._store.reader() as tx:
            user = await load_user(tx, user_id)
        resource = Resource(org_id=user.org_id, user_id=user.id)
        await self._authz.require(ctx, permission, resource)
        return user


async def _record(
    tx: Repositories, ctx: Context, user: User, event_type: str, stored: StoredSshKey
) -> None:
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("user", user.id),
        org_id=user.org_id,
        payload={"key_id": stored.id, "fingerprint": stored.fingerprint},
    )
