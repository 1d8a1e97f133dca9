"""Operator sign-in: a manager proves a password and receives a Context to act with."""

from __future__ import annotations

from dataclasses import dataclass

from zitui.core.audit import record
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.policies import LockoutPolicy, LoginPolicy, from_settings
from zitui.errors import PermissionDenied, PreconditionFailed, Unauthenticated
from zitui.records import OrgState, User, UserKind, UserState
from zitui.store import Store
from zitui.store.repos.users import Credentials

_BAD_LOGIN = "the username or password is wrong"


@dataclass(frozen=True)
class OperatorLogin:
    context: Context
    user: User
    password_change_required: bool


class AuthService:
    def __init__(self, store: Store, hasher: PasswordHasher, clock: Clock) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock

    async def login_operator(
        self, login_name: str, password: str, request: RequestMeta
    ) -> OperatorLogin:
        """Check a manager's password; unknown users and wrong passwords look and cost alike."""
        credentials = await self._find_credentials(login_name)
        matched = await self._hasher.verify(
            credentials.password_hash if credentials else None, password
        )
        if credentials is None:
            raise Unauthenticated("auth.bad_credentials", _BAD_LOGIN)
        user = credentials.user
        as_user = Context(
            clock=self._clock,
            request=request,
            actor=Actor(user_id=user.id, org_id=user.org_id, login_name=user.login_name),
        )
        if not matched:
            await self._record_failure(as_user, user)
            raise Unauthenticated("auth.bad_credentials", _BAD_LOGIN)
        _check_state(user)
        async with self._store.transaction() as tx:
            org = await tx.orgs.find(user.org_id)
            if org is None or org.state is not OrgState.ACTIVE:
                raise PreconditionFailed(
                    "auth.org_inactive", "this account's organisation is deactivated"
                )
            await tx.users.reset_password_failures(user.id)
            memberships = tuple(await tx.memberships.list_for_user(user.id))
            await record(
                tx,
                as_user,
                "user.human.password.check.succeeded",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload={"origin": request.origin},
            )
        if not memberships:
            raise PermissionDenied("auth.not_manager", "only managers may use the operator console")
        actor = Actor(
            user_id=user.id, org_id=user.org_id, login_name=user.login_name, memberships=memberships
        )
        return OperatorLogin(
            context=Context(clock=self._clock, actor=actor, request=request),
            user=user,
            password_change_required=user.password_change_required,
        )

    async def _find_credentials(self, login_name: str) -> Credentials | None:
        login_name = login_name.strip()
        if not login_name:
            return None
        async with self._store.reader() as tx:
            policy = from_settings(LoginPolicy, await tx.policies.find("login"))
            ids = await tx.users.ids_for_login(
                login_name, allow_email=not policy.disable_login_with_email
            )
            if len(ids) != 1:
                return None
            credentials = await tx.users.find_credentials(ids[0])
        if credentials is None or credentials.user.kind is not UserKind.HUMAN:
            return None
        return credentials

    async def _record_failure(self, ctx: Context, user: User) -> None:
        async with self._store.transaction() as tx:
            lockout = from_settings(
                LockoutPolicy, await tx.policies.find_effective("lockout", user.org_id)
            )
            failures = await tx.users.record_password_failure(user.id)
            locks = 0 < lockout.max_password_attempts <= failures
            if locks:
                await tx.users.set_state(user.id, UserState.LOCKED, at=ctx.now())
            await record(
                tx,
                ctx,
                "user.human.password.check.failed",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload={"failures": failures, "locked": locks},
            )


def _check_state(user: User) -> None:
    if user.state is UserState.LOCKED:
        raise PreconditionFailed("auth.user_locked", "this account is locked; ask a manager")
    if user.state is UserState.INACTIVE:
        raise PreconditionFailed("auth.user_inactive", "this account is deactivated")
