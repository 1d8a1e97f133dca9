"""Handlers of the account API for the user's SSH keys (the operator console's sign-in), and
their bodies. zitui's own routes: ZITADEL's auth API has no SSH keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from zitui.core.ssh_keys import SshKey
from zitui.errors import Unauthenticated
from zitui.server.api import models as m
from zitui.server.api.account import details
from zitui.server.api.operations import Call

# One OpenSSH public key line; an RSA key of 16384 bits stays under it.
KeyLine = Field(max_length=16_384, examples=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI… me@laptop"])


class SshKeyView(m.Body):
    """A registered key: `fingerprint` as OpenSSH shows it, `publicKey` the whole line."""

    id: str
    algorithm: str = Field(examples=["ssh-ed25519"])
    fingerprint: str = Field(examples=["SHA256:RRejPEPvyM3RTmkEkeRveEYeMqkTLv+/EPqp75BwgMM"])
    comment: str
    public_key: str
    created_at: datetime
    last_used_at: datetime | None = None


class ListMySshKeysResponse(m.Body):
    result: list[SshKeyView]


class AddMySshKeyRequest(m.Body):
    public_key: str = KeyLine


class AddMySshKeyResponse(m.Body):
    key: SshKeyView
    details: m.Details


def _view(key: SshKey) -> SshKeyView:
    return SshKeyView(
        id=key.id,
        algorithm=key.algorithm,
        fingerprint=key.fingerprint,
        comment=key.comment,
        public_key=key.line,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


def _me(call: Call) -> str:
    if call.ctx.actor is None:
        raise Unauthenticated("auth.required", "sign in first")
    return call.ctx.actor.user_id


async def list_my_ssh_keys(call: Call) -> ListMySshKeysResponse:
    keys = await call.services.ssh_keys.list_keys(call.ctx, _me(call))
    return ListMySshKeysResponse(result=[_view(k) for k in keys])


async def add_my_ssh_key(call: Call) -> AddMySshKeyResponse:
    body: AddMySshKeyRequest = call.body
    key = await call.services.ssh_keys.add_key(call.ctx, _me(call), body.public_key)
    return AddMySshKeyResponse(key=_view(key), details=details(call.ctx))


async def remove_my_ssh_key(call: Call) -> m.Changed:
    await call.services.ssh_keys.remove_key(call.ctx, _me(call), call.params["key_id"])
    return m.Changed(details=details(call.ctx))
