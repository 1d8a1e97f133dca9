"""Users: create humans, set and change passwords, read and list.

Profile changes live in `user_profile`, the lifecycle (lock, deactivate, remove, init code)
in `user_lifecycle`; `UserService` offers all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from zitui.core import validation
from zitui.core.access import ACCESS_ENDED, end_user_access
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.ids import new_id
from zitui.core.password_notice import PasswordNotice
from zitui.core.permissions import Resource
from zitui.core.policies import PasswordComplexityPolicy, from_settings
from zitui.core.user_base import check_new_username, load_user
from zitui.core.user_codes import CodeMailer, Purpose
from zitui.core.user_lifecycle import UserLifecycleCommands
from zitui.core.user_profile import GENDERS, ProfileChange, UserProfileCommands
from zitui.errors import (
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from zitui.records import Page, User, UserKind, UserState
from zitui.store import Repositories, Store

__all__ = ["NewHumanUser", "ProfileChange", "UserService", "add_human_user", "password_policy"]


@dataclass(frozen=True)
class NewHumanUser:
    username: str
    first_name: str
    last_name: str
    email: str = ""
    email_verified: bool = False
    nickname: str = ""
    display_name: str = ""
    gender: str = ""
    preferred_language: str = ""
    phone: str = ""
    phone_verified: bool = False
    password: str = ""
    password_change_required: bool = False


class UserService(UserProfileCommands, UserLifecycleCommands):
    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        authz: Authorizer,
        codes: CodeMailer | None = None,
        *,
        notice: PasswordNotice | None = None,
    ) -> None:
        super().__init__(store, authz, codes)
        self._hasher = hasher
        self._notice = notice

    async def create_human_user(self, ctx: Context, org_id: str, new: NewHumanUser) -> User:
        """Create a human; without a password the user is INITIAL until initialised.

        In the same transaction a user with an unverified email address gets a mail: the
        initialisation code without a password, else the email verification code."""
        await self._authz.require(ctx, "user.write", Resource(org_id=org_id))
        async with self._store.reader() as tx:
            policy = await password_policy(tx, org_id)
        if new.password:
            policy.check(new.password)
        password_hash = await self._hasher.hash(new.password) if new.password else None
        async with self._store.transaction() as tx:
            user = await add_human_user(tx, ctx, org_id, new, password_hash=password_hash)
            await record(
                tx,
                ctx,
                "user.human.added",
                aggregate=("user", user.id),
                org_id=org_id,
                payload={
                    "username": user.username,
                    "email": user.email,
                    "password_set": password_hash is not None,
                },
            )
            await mail_new_user(tx, ctx, self._codes, user, has_password=password_hash is not None)
        return user

    async def set_password(
        self, ctx: Context, user_id: str, password: str, *, change_required: bool = True
    ) -> None:
        """A manager sets a user's password; by default the user must change it at next login.

        The user is signed out everywhere: sessions and tokens end with the old password."""
        async with self._store.reader() as tx:
            user = await load_user(tx, user_id)
            policy = await password_policy(tx, user.org_id)
        await self._authz.require(ctx, "user.credential.write", Resource(org_id=user.org_id))
        if user.kind is not UserKind.HUMAN:
            raise PreconditionFailed("user.not_human", "machine users have no password")
        policy.check(password)
        password_hash = await self._hasher.hash(password)
        async with self._store.transaction() as tx:
            await tx.users.set_password(
                user_id, password_hash, change_required=change_required, at=ctx.now()
            )
            ended = await end_user_access(tx, user_id, at=ctx.now())
            await record(
                tx,
                ctx,
                "user.human.password.changed",
                aggregate=("user", user_id),
                org_id=user.org_id,
                payload={"change_required": change_required, ACCESS_ENDED: ended.payload()},
            )
            if self._notice is not None:
                await self._notice.password_changed(tx, ctx, user)

    async def change_own_password(
        self, ctx: Context, current: str, new: str, *, keep_session_id: str | None = None
    ) -> None:
        """The signed-in user replaces their password; the current one must be given.

        Every session and token of the user ends, as after a manager's reset (the operator
        console holds no browser session), but those of `keep_session_id`: the browser
        session the change is made in (the account pages)."""
        if ctx.actor is None or ctx.actor.is_system:
            raise Unauthenticated("auth.required", "sign in first")
        user_id = ctx.actor.user_id
        async with self._store.reader() as tx:
            credentials = await tx.users.find_credentials(user_id)
            if credentials is None:
                raise NotFound("user.not_found", "no such user")
            policy = await password_policy(tx, credentials.user.org_id)
        if not await self._hasher.verify(credentials.password_hash, current):
            raise InvalidArgument(
                "password.current_wrong", "the current password is wrong", field="current_password"
            )
        if new == current:
            raise InvalidArgument(
                "password.unchanged", "choose a password you did not use now", field="new_password"
            )
        policy.check(new, field="new_password")
        password_hash = await self._hasher.hash(new)
        async with self._store.transaction() as tx:
            await tx.users.set_password(user_id, password_hash, change_required=False, at=ctx.now())
            ended = await end_user_access(
                tx, user_id, at=ctx.now(), keep_session_id=keep_session_id
            )
            await record(
                tx,
                ctx,
                "user.human.password.changed",
                aggregate=("user", user_id),
                org_id=credentials.user.org_id,
                payload={"change_required": False, ACCESS_ENDED: ended.payload()},
            )
            if self._notice is not None:
                await self._notice.password_changed(tx, ctx, credentials.user)

    async def get_user(self, ctx: Context, user_id: str) -> User:
        return await self._authorized(ctx, "user.read", user_id, self_service=True)

    async def find_user_by_username(self, ctx: Context, org_id: str, username: str) -> User | None:
        """The user of `org_id` with this username (any case), if the actor may read it."""
        scope = ctx.org_scope("user.read")
        if scope is not None and org_id not in scope:
            return None
        async with self._store.reader() as tx:
            return await tx.users.find_by_username(org_id, username.strip())

    async def list_users(
        self,
        ctx: Context,
        *,
        org_id: str | None = None,
        search: str = "",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[User]:
        """Users the actor may read, optionally of one organisation, matching `search`."""
        offset, limit = validation.page(offset, limit)
        scope = ctx.org_scope("user.read")
        if org_id is not None:
            scope = frozenset({org_id}) if scope is None or org_id in scope else frozenset()
        if scope is not None and not scope:
            return Page(items=(), total=0, offset=offset, limit=limit)
        async with self._store.scan() as tx:
            items, total = await tx.users.list(
                org_ids=scope, search=search.strip(), offset=offset, limit=limit
            )
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)


async def mail_new_user(
    tx: Repositories, ctx: Context, codes: CodeMailer | None, user: User, *, has_password: bool
) -> None:
    """Inside the caller's transaction: the first mail of a user a manager or blueprint made
    with an unverified address (the initialisation code without a password, else the email
    verification code). Nothing without an address or without a code mailer (a build that
    sends no mail, such as a bare test set-up)."""
    if codes is None or not user.email or user.email_verified:
        return
    await codes.send(tx, ctx, user, Purpose.EMAIL if has_password else Purpose.INIT)


async def password_policy(tx: Repositories, org_id: str) -> PasswordComplexityPolicy:
    settings = await tx.policies.find_effective("password_complexity", org_id)
    return from_settings(PasswordComplexityPolicy, settings)


async def add_human_user(
    tx: Repositories,
    ctx: Context,
    org_id: str,
    new: NewHumanUser,
    *,
    password_hash: str | None,
    state: UserState | None = None,
) -> User:
    """Validate and insert inside the caller's transaction; the caller records the event.

    A user is active with a password and initial without one, unless `state` says otherwise
    (a self-registered user stays initial until their email is verified)."""
    username = validation.username(new.username)
    await check_new_username(tx, org_id, username)
    first = validation.text(new.first_name, field="first_name")
    last = validation.text(new.last_name, field="last_name")
    now = ctx.now()
    user = User(
        id=new_id(),
        org_id=org_id,
        kind=UserKind.HUMAN,
        username=username,
        login_name=username,
        state=state or (UserState.ACTIVE if password_hash else UserState.INITIAL),
        first_name=first,
        last_name=last,
        nickname=validation.text(new.nickname, field="nickname", required=False),
        display_name=validation.text(new.display_name, field="display_name", required=False)
        or f"{first} {last}",
        gender=validation.choice(new.gender, GENDERS, field="gender"),
        preferred_language=validation.language(new.preferred_language),
        email=validation.email(new.email),
        email_verified=new.email_verified,
        phone=validation.phone(new.phone) if new.phone.strip() else "",
        phone_verified=new.phone_verified,
        password_change_required=new.password_change_required,
        created_at=now,
        updated_at=now,
    )
    await tx.users.insert(user, password_hash=password_hash)
    return await load_user(tx, user.id)
