"""A user's lifecycle: initialisation code, lock, deactivate, remove.

Locking, deactivating or removing the last active IAM_OWNER is refused, so the instance
always keeps someone who can manage it. A lock, a deactivation and a removal end the user's
sessions and tokens in the same transaction (`core.access`); unlocking or reactivating
revives none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zitui.core.access import ACCESS_ENDED, end_user_access
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.memberships import ensure_iam_owner_remains
from zitui.core.user_base import UserServiceBase, load_user
from zitui.core.user_codes import Purpose
from zitui.errors import PreconditionFailed
from zitui.records import User, UserState
from zitui.store import Repositories


@dataclass(frozen=True)
class IssuedInitCode:
    """An initialisation code sent by mail (`mailed_to`), or, for a user without an email
    address, the code and link a manager hands over."""

    expires_at: datetime
    mailed_to: str = ""
    code: str = field(default="", repr=False)
    link: str = field(default="", repr=False)


_ACTIVE, _INITIAL = UserState.ACTIVE, UserState.INITIAL
_LOCKED, _INACTIVE = UserState.LOCKED, UserState.INACTIVE


@dataclass(frozen=True)
class _Transition:
    event_type: str
    allowed_from: frozenset[UserState]
    refusal_code: str
    refusal: str
    guards_owner: bool
    ends_access: bool = False


_LOCK = _Transition(
    event_type="user.locked",
    allowed_from=frozenset({_ACTIVE, _INITIAL}),
    refusal_code="user.lock.state",
    refusal="only an active or initial user can be locked",
    guards_owner=True,
    ends_access=True,
)
_UNLOCK = _Transition(
    event_type="user.unlocked",
    allowed_from=frozenset({_LOCKED}),
    refusal_code="user.not_locked",
    refusal="the user is not locked",
    guards_owner=False,
)
_DEACTIVATE = _Transition(
    event_type="user.deactivated",
    allowed_from=frozenset({_ACTIVE, _LOCKED}),
    refusal_code="user.deactivate.state",
    refusal="only an active or locked user can be deactivated",
    guards_owner=True,
    ends_access=True,
)
_REACTIVATE = _Transition(
    event_type="user.reactivated",
    allowed_from=frozenset({_INACTIVE}),
    refusal_code="user.not_inactive",
    refusal="the user is not deactivated",
    guards_owner=False,
)
_Change = Callable[[Repositories, str, Context], Awaitable[None]]


class UserLifecycleCommands(UserServiceBase):
    async def issue_init_code(self, ctx: Context, user_id: str) -> IssuedInitCode:
        """A new initialisation code for a user who never had a password; the one before
        stops working.

        A user with an email address gets it by mail (code and link; the manager never sees
        it). For a user without one, the code and link are returned for the manager to hand
        over; the store keeps only a keyed digest either way, for 72 hours.
        """
        await self._authorized(ctx, "user.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_user(tx, user_id)
            if user.state is not UserState.INITIAL:
                raise PreconditionFailed(
                    "user.not_initial", "only a user who was never activated gets this code"
                )
            credentials = await tx.users.find_credentials(user_id)
            if credentials is not None and credentials.password_hash:
                raise PreconditionFailed(
                    "user.password_set", "this user has a password; they verify their email"
                )
            if user.email:
                sent = await self._mailer().send(tx, ctx, user, Purpose.INIT)
                return IssuedInitCode(mailed_to=sent.recipient, expires_at=sent.expires_at)
            code, expires_at = await self._mailer().store_unsent(tx, ctx, user, Purpose.INIT)
        link = self._mailer().link(Purpose.INIT, user.id, code)
        return IssuedInitCode(code=code, link=link, expires_at=expires_at)

    async def lock_user(self, ctx: Context, user_id: str) -> User:
        return await self._transition(ctx, user_id, _LOCK, _set_state(_LOCKED))

    async def unlock_user(self, ctx: Context, user_id: str) -> User:
        """Unlock and reset the failed password attempts."""
        return await self._transition(ctx, user_id, _UNLOCK, _unlock)

    async def deactivate_user(self, ctx: Context, user_id: str) -> User:
        return await self._transition(ctx, user_id, _DEACTIVATE, _set_state(_INACTIVE))

    async def reactivate_user(self, ctx: Context, user_id: str) -> User:
        return await self._transition(ctx, user_id, _REACTIVATE, _set_state(_ACTIVE))

    async def remove_user(self, ctx: Context, user_id: str, *, by_self: bool = False) -> None:
        """Remove a user with their memberships, keys, tokens and grants.

        A manager (`user.delete`) never removes themselves this way; with `by_self` the user
        removes themselves (`user.self.delete`; the account service checks the login policy
        and the password first). The event counts the sessions and tokens that ended."""
        if by_self:
            await self._authorized(ctx, "user.self.delete", user_id, self_service=True)
            if ctx.actor is None or ctx.actor.user_id != user_id:
                raise PreconditionFailed("user.remove.not_self", "this is not your account")
        else:
            await self._authorized(ctx, "user.delete", user_id)
            if ctx.actor is not None and ctx.actor.user_id == user_id:
                raise PreconditionFailed("user.remove.self", "you cannot remove yourself")
        async with self._store.transaction() as tx:
            user = await load_user(tx, user_id)
            await ensure_iam_owner_remains(tx, without_user=user_id)
            ended = await end_user_access(tx, user_id, at=ctx.now())
            await tx.users.delete(user_id)
            payload: dict[str, Any] = {"username": user.username, ACCESS_ENDED: ended.payload()}
            if by_self:
                payload["by_self"] = True
            await _record(tx, ctx, user, "user.removed", payload)

    async def _transition(
        self, ctx: Context, user_id: str, step: _Transition, change: _Change
    ) -> User:
        await self._authorized(ctx, "user.write", user_id)
        async with self._store.transaction() as tx:
            user = await load_user(tx, user_id)
            if user.state not in step.allowed_from:
                raise PreconditionFailed(step.refusal_code, f"{step.refusal} (it is {user.state})")
            if step.guards_owner:
                await ensure_iam_owner_remains(tx, without_user=user_id)
            await change(tx, user_id, ctx)
            payload: dict[str, Any] = {}
            if step.ends_access:
                ended = await end_user_access(tx, user_id, at=ctx.now())
                payload[ACCESS_ENDED] = ended.payload()
            await _record(tx, ctx, user, step.event_type, payload)
            return await load_user(tx, user_id)


def _set_state(state: UserState) -> _Change:
    async def change(tx: Repositories, user_id: str, ctx: Context) -> None:
        await tx.users.set_state(user_id, state, at=ctx.now())

    return change


async def _unlock(tx: Repositories, user_id: str, ctx: Context) -> None:
    await tx.users.unlock(user_id, at=ctx.now())


async def _record(
    tx: Repositories, ctx: Context, user: User, event_type: str, payload: dict[str, Any]
) -> None:
    await record(
        tx, ctx, event_type, aggregate=("user", user.id), org_id=user.org_id, payload=payload
    )
