"""What the user services share: their dependencies and how a user is loaded and checked."""

from __future__ import annotations

from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.user_codes import CodeMailer
from zitui.errors import AlreadyExists, NotFound, PreconditionFailed
from zitui.records import User, UserKind
from zitui.store import Repositories, Store


class UserServiceBase:
    def __init__(self, store: Store, authz: Authorizer, codes: CodeMailer | None = None) -> None:
        self._store = store
        self._authz = authz
        self._codes = codes

    def _mailer(self) -> CodeMailer:
        if self._codes is None:
            raise RuntimeError("this user service was built without a code mailer")
        return self._codes

    async def _authorized(
        self, ctx: Context, permission: str, user_id: str, *, self_service: bool = False
    ) -> User:
        """Load the user and require `permission` in their organisation; with
        `self_service`, the user may also act on themselves (`permissions.SELF_PERMISSIONS`).
        Lifecycle changes (lock, deactivate, init code) never pass it."""
        async with self._store.reader() as tx:
            user = await load_user(tx, user_id)
        resource = Resource(org_id=user.org_id, user_id=user.id if self_service else None)
        await self._authz.require(ctx, permission, resource)
        return user


async def load_user(tx: Repositories, user_id: str) -> User:
    user = await tx.users.find(user_id)
    if user is None:
        raise NotFound("user.not_found", "no such user")
    return user


async def load_human(tx: Repositories, user_id: str) -> User:
    user = await load_user(tx, user_id)
    if user.kind is not UserKind.HUMAN:
        raise PreconditionFailed("user.not_human", "a machine user has no human profile")
    return user


async def load_machine(tx: Repositories, user_id: str) -> User:
    user = await load_user(tx, user_id)
    if user.kind is not UserKind.MACHINE:
        raise PreconditionFailed("user.not_machine", "only machine users have this credential")
    return user


async def check_new_username(tx: Repositories, org_id: str, username: str) -> None:
    """The organisation exists and nobody there uses `username` (in any case)."""
    if await tx.orgs.find(org_id) is None:
        raise NotFound("org.not_found", "no such organisation")
    if await tx.users.find_by_username(org_id, username):
        raise AlreadyExists(
            "user.username.taken", "this username is taken in the organisation", field="username"
        )
