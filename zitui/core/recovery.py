"""Offline recovery (`zitui recover --user LOGINNAME`): the way back in when nobody who could
unlock an account can sign in, such as the last IAM_OWNER locked out by failed passwords.

Whoever holds the data directory and the master key holds every secret of the instance
already, so the command asks for no sign-in: the system is the actor, with origin `recover`.
It works with a server running on the same store (its write waits for the store's process
lock) or without one.
"""

from __future__ import annotations

from dataclasses import dataclass

from zitui.core.access import ACCESS_ENDED, AccessEnded, end_user_access
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.user_base import load_user
from zitui.core.users import password_policy
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import User, UserKind, UserState
from zitui.store import Repositories, Store

ORIGIN = "recover"
PASSWORD_LENGTH = 20


@dataclass(frozen=True)
class Recovery:
    """What `recover_user` did; `password` is shown once and stored only as a hash."""

    user: User
    password: str
    unlocked: bool
    access_ended: AccessEnded


async def recover_user(
    store: Store, hasher: PasswordHasher, ctx: Context, login_name: str
) -> Recovery:
    """Unlock the human `login_name` names, give them a random one-time password they must
    change at the next sign-in, and end their sessions and tokens, in one transaction with
    one `user.human.recovered` event.

    A deactivated user is refused: deactivation is a manager's decision, undone by
    reactivating. The failure counter starts again with the new password.
    """
    async with store.reader() as tx:
        found = await _find_human(tx, login_name)
        policy = await password_policy(tx, found.org_id)
    password = tokens.generated_password(max(PASSWORD_LENGTH, policy.min_length))
    policy.check(password)
    password_hash = await hasher.hash(password)
    async with store.transaction() as tx:
        user = await load_user(tx, found.id)
        if user.state is UserState.INACTIVE:
            raise PreconditionFailed(
                "recover.user_inactive",
                f"{user.login_name} is deactivated; reactivate the user instead",
            )
        unlocked = user.state is UserState.LOCKED
        now = ctx.now()
        await tx.users.set_password(user.id, password_hash, change_required=True, at=now)
        if unlocked:
            await tx.users.unlock(user.id, at=now)
        ended = await end_user_access(tx, user.id, at=now)
        await record(
            tx,
            ctx,
            "user.human.recovered",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={
                "origin": ctx.request.origin,
                "unlocked": unlocked,
                "change_required": True,
                ACCESS_ENDED: ended.payload(),
            },
        )
        user = await load_user(tx, user.id)
    return Recovery(user=user, password=password, unlocked=unlocked, access_ended=ended)


async def _find_human(tx: Repositories, login_name: str) -> User:
    text = login_name.strip()
    ids = await tx.users.ids_for_login(text, allow_email=False) if text else []
    if not ids:
        raise NotFound("recover.user_not_found", f"no user signs in as {text!r}")
    if len(ids) > 1:
        raise InvalidArgument(
            "recover.ambiguous",
            f"several users are called {text!r}; give the login name as username@domain",
            field="user",
        )
    user = await load_user(tx, ids[0])
    if user.kind is not UserKind.HUMAN:
        raise PreconditionFailed(
            "recover.not_human", f"{user.login_name} is a machine user and has no password"
        )
    return user
