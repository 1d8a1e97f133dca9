"""Machine users (service accounts) with their keys, access tokens and client secret.

The credentials are ZITADEL's: JWT-profile keys, personal access tokens, a client secret.
Only public keys and SHA-256 digests are stored; private keys, tokens and secrets are
returned once. Issuing a credential needs `user.credential.write`, not just `user.write`:
whoever can mint a credential for a machine user can act with all of its manager roles.

Removing a key or the secret, or replacing the secret, revokes the access tokens the machine
user obtained (`core.access`): a token does not record which credential obtained it, so all
of them end, and the machine fetches new ones with a credential it still has. A removed
personal access token is refused from that moment on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zitui.core import validation
from zitui.core.access import ACCESS_ENDED, AccessEnded, end_user_access
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.crypto.key_pairs import new_key_pair
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.core.user_base import UserServiceBase, check_new_username, load_machine
from zitui.errors import InvalidArgument, NotFound
from zitui.records import MachineKey, PersonalAccessToken, TokenType, User, UserKind, UserState
from zitui.store import Repositories

ISSUE = "user.credential.write"


class MachineService(UserServiceBase):
    async def create_machine_user(
        self,
        ctx: Context,
        org_id: str,
        username: str,
        name: str,
        *,
        description: str = "",
        access_token_type: TokenType = TokenType.BEARER,
    ) -> User:
        """An active service account whose display name is `name`."""
        await self._authz.require(ctx, "user.write", Resource(org_id=org_id))
        username = validation.username(username)
        name = validation.text(name, field="name")
        description = validation.text(
            description, field="description", max_length=500, required=False
        )
        token_type = _token_type(access_token_type)
        async with self._store.transaction() as tx:
            user = await _insert_machine(tx, ctx, org_id, username, name, description, token_type)
            payload = {
                "username": username,
                "name": name,
                "description": description,
                "access_token_type": token_type.value,
            }
            await _record(tx, ctx, user, "user.machine.added", payload)
        return user

    async def add_machine_key(
        self, ctx: Context, user_id: str, *, expires_at: datetime | None = None
    ) -> tuple[MachineKey, dict[str, str]]:
        """A new RSA key pair: the key's record and, once, ZITADEL's key file.

        The file is `{"type": "serviceaccount", "keyId", "key", "userId"}` with the private
        key as PEM; the store keeps only the public half.
        """
        await self._authorized(ctx, ISSUE, user_id)
        expires_at = validation.expiry(expires_at, now=ctx.now())
        private_pem, public_pem = await new_key_pair()
        key = MachineKey(id=new_id(), user_id=user_id, created_at=ctx.now(), expires_at=expires_at)
        async with self._store.transaction() as tx:
            user = await load_machine(tx, user_id)
            await tx.machines.insert_key(key, public_key_pem=public_pem)
            payload = {"key_id": key.id, "expires_at": _iso(expires_at)}
            await _record(tx, ctx, user, "user.machine.key.added", payload)
        key_file = {
            "type": "serviceaccount",
            "keyId": key.id,
            "key": private_pem,
            "userId": user_id,
        }
        return key, key_file

    async def list_machine_keys(self, ctx: Context, user_id: str) -> list[MachineKey]:
        await self._authorized(ctx, "user.read", user_id)
        async with self._store.reader() as tx:
            await load_machine(tx, user_id)
            return await tx.machines.list_keys(user_id)

    async def remove_machine_key(self, ctx: Context, user_id: str, key_id: str) -> None:
        await self._authorized(ctx, "user.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_machine(tx, user_id)
            if not await tx.machines.delete_key(user_id, key_id):
                raise NotFound("machine.key.not_found", "the user has no such key", field="key_id")
            ended = await end_user_access(tx, user_id, at=ctx.now())
            payload = {"key_id": key_id, ACCESS_ENDED: ended.payload()}
            await _record(tx, ctx, user, "user.machine.key.removed", payload)

    async def add_personal_access_token(
        self, ctx: Context, user_id: str, *, expires_at: datetime | None = None
    ) -> tuple[PersonalAccessToken, str]:
        """A bearer token for the machine user, returned once; the store keeps its digest."""
        await self._authorized(ctx, ISSUE, user_id)
        expires_at = validation.expiry(expires_at, now=ctx.now())
        secret = tokens.random_token()
        token = PersonalAccessToken(
            id=new_id(), user_id=user_id, created_at=ctx.now(), expires_at=expires_at
        )
        async with self._store.transaction() as tx:
            user = await load_machine(tx, user_id)
            await tx.machines.insert_token(token, digest=tokens.digest(secret))
            payload = {"token_id": token.id, "expires_at": _iso(expires_at)}
            await _record(tx, ctx, user, "user.personal.token.added", payload)
        return token, secret

    async def list_personal_access_tokens(
        self, ctx: Context, user_id: str
    ) -> list[PersonalAccessToken]:
        await self._authorized(ctx, "user.read", user_id)
        async with self._store.reader() as tx:
            await load_machine(tx, user_id)
            return await tx.machines.list_tokens(user_id)

    async def remove_personal_access_token(self, ctx: Context, user_id: str, token_id: str) -> None:
        await self._authorized(ctx, "user.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_machine(tx, user_id)
            if not await tx.machines.delete_token(user_id, token_id):
                raise NotFound(
                    "machine.token.not_found", "the user has no such token", field="token_id"
                )
            await _record(tx, ctx, user, "user.personal.token.removed", {"token_id": token_id})

    async def generate_machine_secret(self, ctx: Context, user_id: str) -> tuple[str, str]:
        """A new client secret for `client_credentials`, replacing any earlier one.

        Returns `(client_id, secret)`; the client id is the username, as in ZITADEL. A
        replaced secret ends the access tokens the machine user holds; a first one ends none.
        """
        await self._authorized(ctx, ISSUE, user_id)
        secret = tokens.random_token()
        async with self._store.transaction() as tx:
            user = await load_machine(tx, user_id)
            await tx.users.set_secret_digest(user_id, tokens.digest(secret), at=ctx.now())
            ended = AccessEnded()
            if user.has_secret:
                ended = await end_user_access(tx, user_id, at=ctx.now())
            await _record(tx, ctx, user, "user.machine.secret.set", {ACCESS_ENDED: ended.payload()})
        return user.username, secret

    async def remove_machine_secret(self, ctx: Context, user_id: str) -> None:
        await self._authorized(ctx, "user.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_machine(tx, user_id)
            if not user.has_secret:
                raise NotFound("machine.secret.not_found", "the user has no client secret")
            await tx.users.set_secret_digest(user_id, None, at=ctx.now())
            ended = await end_user_access(tx, user_id, at=ctx.now())
            payload = {ACCESS_ENDED: ended.payload()}
            await _record(tx, ctx, user, "user.machine.secret.removed", payload)


def _token_type(value: TokenType | str) -> TokenType:
    try:
        return TokenType(value)
    except ValueError:
        raise InvalidArgument(
            "access_token_type.invalid",
            "the access token type is bearer or jwt",
            field="access_token_type",
        ) from None


async def _insert_machine(
    tx: Repositories,
    ctx: Context,
    org_id: str,
    username: str,
    name: str,
    description: str,
    token_type: TokenType,
) -> User:
    await check_new_username(tx, org_id, username)
    now = ctx.now()
    user = User(
        id=new_id(),
        org_id=org_id,
        kind=UserKind.MACHINE,
        username=username,
        login_name=username,
        state=UserState.ACTIVE,
        first_name="",
        last_name="",
        nickname="",
        display_name=name,
        gender="",
        preferred_language="",
        email="",
        email_verified=False,
        phone="",
        phone_verified=False,
        password_change_required=False,
        created_at=now,
        updated_at=now,
        description=description,
        access_token_type=token_type,
    )
    await tx.users.insert(user, password_hash=None)
    found = await tx.users.find(user.id)
    assert found is not None
    return found


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _record(
    tx: Repositories, ctx: Context, user: User, event_type: str, payload: dict[str, Any]
) -> None:
    await record(
        tx, ctx, event_type, aggregate=("user", user.id), org_id=user.org_id, payload=payload
    )
