"""Changing who a user is: profile, username, email and phone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.user_base import UserServiceBase, load_human, load_user
from zitui.core.user_codes import Purpose
from zitui.errors import AlreadyExists, PreconditionFailed
from zitui.records import User
from zitui.store import Repositories

GENDERS = ("", "female", "male", "diverse")
# What a caller does in the transaction of a phone change, with the changed user (send a
# verification code, remove the factor that used the old number).
PhoneFollowUp = Callable[[Repositories, Context, User], Awaitable[object]]


@dataclass(frozen=True)
class ProfileChange:
    """The profile fields to change; `None` keeps the current value.

    An empty display name is derived from the first and last name.
    """

    first_name: str | None = None
    last_name: str | None = None
    nickname: str | None = None
    display_name: str | None = None
    gender: str | None = None
    preferred_language: str | None = None

    def validated(self) -> dict[str, str]:
        rules = {
            "first_name": lambda v: validation.text(v, field="first_name"),
            "last_name": lambda v: validation.text(v, field="last_name"),
            "nickname": lambda v: validation.text(v, field="nickname", required=False),
            "display_name": lambda v: validation.text(v, field="display_name", required=False),
            "gender": lambda v: validation.choice(v, GENDERS, field="gender"),
            "preferred_language": validation.language,
        }
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: rules[name](value) for name, value in given.items() if value is not None}


class UserProfileCommands(UserServiceBase):
    async def update_profile(self, ctx: Context, user_id: str, change: ProfileChange) -> User:
        """Change a human's names, gender or language; only changed fields are recorded."""
        await self._authorized(ctx, "user.write", user_id, self_service=True)
        values = change.validated()
        async with self._store.transaction() as tx:
            user = await load_human(tx, user_id)
            if values.get("display_name") == "":
                first = values.get("first_name", user.first_name)
                values["display_name"] = f"{first} {values.get('last_name', user.last_name)}"
            changed = {k: v for k, v in values.items() if getattr(user, k) != v}
            if not changed:
                raise PreconditionFailed("user.profile.unchanged", "the profile is unchanged")
            await tx.users.update_profile(user_id, changed, at=ctx.now())
            return await _recorded(tx, ctx, user, "user.human.profile.changed", changed)

    async def change_username(self, ctx: Context, user_id: str, username: str) -> User:
        """Rename a user (human or machine); the login name follows."""
        await self._authorized(ctx, "user.write", user_id, self_service=True)
        username = validation.username(username)
        async with self._store.transaction() as tx:
            user = await load_user(tx, user_id)
            if user.username == username:
                raise PreconditionFailed("user.username.unchanged", "this is the username already")
            other = await tx.users.find_by_username(user.org_id, username)
            if other is not None and other.id != user_id:
                raise AlreadyExists(
                    "user.username.taken",
                    "this username is taken in the organisation",
                    field="username",
                )
            await tx.users.set_username(user_id, username, at=ctx.now())
            payload = {"username": username, "old_username": user.username}
            return await _recorded(tx, ctx, user, "user.username.changed", payload)

    async def change_email(self, ctx: Context, user_id: str, email: str, *, verified: bool) -> User:
        """Set a human's email address, marked verified only when the manager says so;
        otherwise a verification code goes to the new address in the same transaction."""
        await self._authorized(ctx, "user.write", user_id, self_service=True)
        email = validation.email(email, required=True)
        async with self._store.transaction() as tx:
            user = await load_human(tx, user_id)
            if (user.email, user.email_verified) == (email, verified):
                raise PreconditionFailed("user.email.unchanged", "the email is unchanged")
            await tx.users.set_email(user_id, email, verified=verified, at=ctx.now())
            payload = {"email": email, "verified": verified}
            changed = await _recorded(tx, ctx, user, "user.human.email.changed", payload)
            if not verified and self._codes is not None:
                # The address is proven by the code mailed to it (any earlier code is void).
                await self._codes.send(tx, ctx, changed, Purpose.EMAIL)
            return changed

    async def change_phone(
        self,
        ctx: Context,
        user_id: str,
        phone: str,
        *,
        verified: bool,
        then: PhoneFollowUp | None = None,
    ) -> User:
        """Set a human's phone number; an empty number removes it (`user.human.phone.removed`).
        `then` runs in the same transaction with the changed user."""
        await self._authorized(ctx, "user.write", user_id, self_service=True)
        phone = validation.phone(phone) if phone.strip() else ""
        verified = verified and bool(phone)
        async with self._store.transaction() as tx:
            user = await load_human(tx, user_id)
            if (user.phone, user.phone_verified) == (phone, verified):
                raise PreconditionFailed("user.phone.unchanged", "the phone number is unchanged")
            await tx.users.set_phone(user_id, phone, verified=verified, at=ctx.now())
            payload = {"phone": phone, "verified": verified}
            event = "user.human.phone.changed" if phone else "user.human.phone.removed"
            changed = await _recorded(tx, ctx, user, event, payload)
            if then is not None:
                await then(tx, ctx, changed)
            return changed


async def _recorded(
    tx: Repositories, ctx: Context, user: User, event_type: str, payload: dict[str, Any]
) -> User:
    await record(
        tx, ctx, event_type, aggregate=("user", user.id), org_id=user.org_id, payload=payload
    )
    return await load_user(tx, user.id)
