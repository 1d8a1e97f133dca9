"""Password checks shared by operator sign-in and browser sessions.

An unknown login name, a machine user and a wrong password fail alike: the same error, one
argon2 verification each (the hasher's dummy hash stands in for a missing one), and the same
write transaction for the failure counter. Only a user that exists gets a `…check.failed`
event, since there is no aggregate to write it on otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zitui.core.audit import record
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.policies import LockoutPolicy, LoginPolicy, from_settings
from zitui.errors import PreconditionFailed, Unauthenticated
from zitui.records import OrgState, User, UserKind, UserState
from zitui.store import Repositories, Store
from zitui.store.repos.users import Credentials

BAD_CREDENTIALS = "the username or password is wrong"
# A row id no user has: the failure counter of an unknown name is "updated" here, so unknown
# and known names run the same statements.
_NOBODY = ""


@dataclass(frozen=True)
class CheckedUser:
    """A user whose password matched, and a context acting as that user."""

    user: User
    context: Context


def bad_credentials() -> Unauthenticated:
    # On the password field: that is where a hosted page shows it, whatever the cause.
    return Unauthenticated("auth.bad_credentials", BAD_CREDENTIALS, field="password")


async def login_policy(tx: Repositories, org_id: str | None) -> LoginPolicy:
    """The organisation's login policy when one is named, else the instance default."""
    settings = (
        await tx.policies.find_effective("login", org_id)
        if org_id
        else await tx.policies.find("login")
    )
    return from_settings(LoginPolicy, settings)


def user_context(clock: Clock, user: User, request: RequestMeta) -> Context:
    actor = Actor(user_id=user.id, org_id=user.org_id, login_name=user.login_name)
    return Context(clock=clock, actor=actor, request=request)


def check_user_state(user: User) -> None:
    if user.state is UserState.LOCKED:
        raise PreconditionFailed("auth.user_locked", "this account is locked; ask a manager")
    if user.state is UserState.INACTIVE:
        raise PreconditionFailed("auth.user_inactive", "this account is deactivated")


class PasswordChecker:
    def __init__(self, store: Store, hasher: PasswordHasher, clock: Clock) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock

    async def verify(
        self,
        login_name: str,
        password: str,
        request: RequestMeta,
        *,
        policy: LoginPolicy,
        org_id: str | None = None,
    ) -> CheckedUser:
        """Prove `password` for the human `login_name` names; a failure is counted and raised.

        Raises Unauthenticated("auth.bad_credentials") for an unknown name, a machine user
        and a wrong password alike; PreconditionFailed for a locked or deactivated user whose
        password matched. The caller confirms a success with `confirm` in its transaction.
        """
        credentials = await self._find(login_name, policy=policy, org_id=org_id)
        matched = await self._hasher.verify(
            credentials.password_hash if credentials else None, password
        )
        if credentials is None:
            await self._record_unknown()
            raise bad_credentials()
        checked = CheckedUser(
            credentials.user, user_context(self._clock, credentials.user, request)
        )
        if not matched:
            await self._record_failure(checked)
            raise bad_credentials()
        check_user_state(checked.user)
        return checked

    async def confirm(
        self, tx: Repositories, checked: CheckedUser, *, payload: dict[str, Any]
    ) -> None:
        """Inside the caller's transaction: the organisation is active, the failure counter
        starts again, and the success is the command's one event."""
        user = checked.user
        org = await tx.orgs.find(user.org_id)
        if org is None or org.state is not OrgState.ACTIVE:
            raise PreconditionFailed(
                "auth.org_inactive", "this account's organisation is deactivated"
            )
        await tx.users.reset_password_failures(user.id)
        await record(
            tx,
            checked.context,
            "user.human.password.check.succeeded",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload=payload,
        )

    async def _find(
        self, login_name: str, *, policy: LoginPolicy, org_id: str | None
    ) -> Credentials | None:
        login_name = login_name.strip()
        if not login_name:
            return None
        async with self._store.reader() as tx:
            ids = await tx.users.ids_for_login(
                login_name, allow_email=not policy.disable_login_with_email
            )
            found = [await tx.users.find_credentials(user_id) for user_id in ids]
        matches = [c for c in found if c is not None and org_id in (None, c.user.org_id)]
        if len(matches) != 1 or matches[0].user.kind is not UserKind.HUMAN:
            return None
        return matches[0]

    async def _record_failure(self, checked: CheckedUser) -> None:
        user = checked.user
        async with self._store.transaction() as tx:
            lockout = from_settings(
                LockoutPolicy, await tx.policies.find_effective("lockout", user.org_id)
            )
            failures = await tx.users.record_password_failure(user.id)
            locks = 0 < lockout.max_password_attempts <= failures
            if locks:
                await tx.users.set_state(user.id, UserState.LOCKED, at=checked.context.now())
            await record(
                tx,
                checked.context,
                "user.human.password.check.failed",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload={"failures": failures, "locked": locks},
            )

    async def _record_unknown(self) -> None:
        async with self._store.transaction() as tx:
            await tx.policies.find_effective("lockout", _NOBODY)
            await tx.users.record_password_failure(_NOBODY)
