"""Password checks shared by operator sign-in and browser sessions.

Nothing a guesser sees depends on the account: an unknown login name, a machine user, a locked
or deactivated user (or one of a deactivated organisation) and a wrong password all fail with
the same error, after one argon2 verification each (the hasher's dummy hash stands in for a
missing one) and one write transaction of the same statements. Only a user that exists gets a
`…check.failed` event, since there is no aggregate to write it on otherwise. One exception,
chosen by the lockout policy (`show_lockout_failures`, on by default as in ZITADEL): the wrong
password that reaches `max_password_attempts` is told that it locked the account. Remaining
attempts are never shown, since that would tell apart an existing account on every guess.

Before any of that, the attempt is reserved on the login name's and the client address's
throttle counters (zitui/core/throttle.py): a name or address over its limit is answered with
RateLimited, without a hash. The caller confirms a success inside the transaction that starts
the session; `confirm` reloads the user there, so a lock, deactivation or password change that
landed while the hash ran ends the sign-in with the same bad-credentials answer.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from zitui import metrics
from zitui.core import validation
from zitui.core.audit import record
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.policies import LockoutPolicy, LoginPolicy, PasswordAgePolicy, from_settings
from zitui.core.sign_in_metrics import THROTTLED, UNKNOWN_USER
from zitui.core.throttle import Reservation, Throttle, ThrottleLimits
from zitui.errors import InvalidArgument, PreconditionFailed, RateLimited, Unauthenticated
from zitui.records import Organization, OrgState, User, UserKind, UserState
from zitui.store import Repositories, Store
from zitui.store.repos.users import Credentials

BAD_CREDENTIALS = "the username or password is wrong"
# A row id no user has: the failure counter of an unknown name (or of a user who may not sign
# in) is "updated" here, so every failure runs the same statements.
_NOBODY = ""


@dataclass(frozen=True)
class CheckedUser:
    """A user whose password matched, and a context acting as that user."""

    user: User
    context: Context
    # The throttle counters this attempt was reserved on; `confirm` clears them.
    reservation: Reservation = Reservation()
    # The hash the password was verified against; `confirm` refuses if it has changed since.
    password_hash: str = field(default="", repr=False)


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


def locked_now() -> Unauthenticated:
    """The wrong password that reached the lockout policy's limit (`show_lockout_failures`).

    Said once, to the attempt that locked the account; every later attempt gets the answer
    of any other failure, so a locked account is not told apart from a missing one.
    """
    return Unauthenticated(
        "auth.locked_now",
        "the password is wrong, and the account is now locked; ask a manager to unlock it",
        field="password",
    )


def user_context(clock: Clock, user: User, request: RequestMeta) -> Context:
    actor = Actor(user_id=user.id, org_id=user.org_id, login_name=user.login_name)
    return Context(clock=clock, actor=actor, request=request)


def check_user_state(user: User) -> None:
    """For steps after a sign-in (a required password change): say why the user is refused."""
    if user.state is UserState.LOCKED:
        raise PreconditionFailed("auth.user_locked", "this account is locked; ask a manager")
    if user.state is UserState.INACTIVE:
        raise PreconditionFailed("auth.user_inactive", "this account is deactivated")


def refusal(user: User, org: Organization | None) -> str | None:
    """Why this user may not sign in now ("locked", "inactive", "org_inactive"), or None.

    For the audit log only: the one who signs in is never told.
    """
    if user.state is UserState.LOCKED:
        return "locked"
    if user.state is UserState.INACTIVE:
        return "inactive"
    if org is None or org.state is not OrgState.ACTIVE:
        return "org_inactive"
    return None


async def _expired(tx: Repositories, credentials: Credentials, *, now: datetime) -> bool:
    """The password is older than the user's organisation allows (and not already due)."""
    if credentials.user.password_change_required:
        return False
    settings = await tx.policies.find_effective("password_age", credentials.user.org_id)
    max_age_days = from_settings(PasswordAgePolicy, settings).max_age_days
    if max_age_days <= 0:
        return False
    changed = credentials.password_changed_at or credentials.user.created_at
    return now - changed >= timedelta(days=max_age_days)


def _phone_of(login_name: str) -> str:
    """The stored form of a login name that is a phone number, else ""."""
    if "@" in login_name:
        return ""
    try:
        return validation.phone(login_name)
    except InvalidArgument:
        return ""


@dataclass(frozen=True)
class _Found:
    credentials: Credentials
    org: Organization | None


class PasswordChecker:
    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        clock: Clock,
        *,
        limits: ThrottleLimits | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._throttle = Throttle(store, clock, limits or ThrottleLimits(), purpose="password")

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

        Raises RateLimited("auth.throttled") before any hash when the login name or the
        client address has had too many attempts; Unauthenticated("auth.bad_credentials")
        for an unknown name, a machine user, a user who may not sign in (locked, deactivated,
        in a deactivated organisation) and a wrong password alike. The caller confirms a
        success with `confirm` in the transaction that starts its session.
        """
        try:
            reservation = await self._throttle.reserve(name=login_name, ip=request.ip)
        except RateLimited:
            metrics.count_sign_in_failure(THROTTLED)
            raise
        found = await self._find(login_name, policy=policy, org_id=org_id)
        encoded = found.credentials.password_hash if found else None
        matched = await self._hasher.verify(encoded, password)
        if found is None:
            await self._record_unknown()
            metrics.count_sign_in_failure(UNKNOWN_USER)
            raise bad_credentials()
        user = found.credentials.user
        checked = CheckedUser(
            user, user_context(self._clock, user, request), reservation, encoded or ""
        )
        refused = refusal(user, found.org)
        if refused is not None:
            await self._record_failure(checked, refused=refused)
            raise bad_credentials()
        if not matched:
            if await self._record_failure(checked):
                raise locked_now()
            raise bad_credentials()
        return checked

    async def confirm(
        self, tx: Repositories, checked: CheckedUser, *, payload: dict[str, Any]
    ) -> User:
        """Inside the caller's transaction: the user may still sign in with the password that
        was verified, the failure and throttle counters start again, and the success is the
        command's one event. Returns the user as now: a password older than the password age
        policy's `max_age_days` must be changed (ZITADEL's expired password), which the
        returned user's `password_change_required` tells.

        A user locked or deactivated (or whose organisation was, or whose password changed)
        since `verify` gets Unauthenticated("auth.bad_credentials"); the caller's transaction
        rolls back with it, so no session is made.
        """
        user = checked.user
        current = await tx.users.find_credentials(user.id)
        org = await tx.orgs.find(user.org_id)
        if (
            current is None
            or refusal(current.user, org) is not None
            or not hmac.compare_digest(
                (current.password_hash or "").encode(), checked.password_hash.encode()
            )
        ):
            raise bad_credentials()
        await tx.users.reset_password_failures(user.id)
        await self._throttle.succeeded(tx, checked.reservation)
        expired = await _expired(tx, current, now=checked.context.now())
        if expired:
            await tx.users.require_password_change(user.id, at=checked.context.now())
            payload = {**payload, "password_expired": True}
        await record(
            tx,
            checked.context,
            "user.human.password.check.succeeded",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload=payload,
        )
        return replace(current.user, password_change_required=True) if expired else current.user

    async def lookup(
        self, login_name: str, *, policy: LoginPolicy, org_id: str | None
    ) -> User | None:
        """The human `login_name` names, when they may sign in; None otherwise (for a step
        that answers every name the same way, such as a password reset)."""
        found = await self._find(login_name, policy=policy, org_id=org_id)
        if found is None or refusal(found.credentials.user, found.org) is not None:
            return None
        return found.credentials.user

    async def _find(
        self, login_name: str, *, policy: LoginPolicy, org_id: str | None
    ) -> _Found | None:
        login_name = login_name.strip()
        if not login_name:
            return None
        async with self._store.reader() as tx:
            ids = await tx.users.ids_for_login(
                login_name,
                allow_email=not policy.disable_login_with_email,
                phone="" if policy.disable_login_with_phone else _phone_of(login_name),
            )
            found = [await tx.users.find_credentials(user_id) for user_id in ids]
            matches = [c for c in found if c is not None and org_id in (None, c.user.org_id)]
            if len(matches) != 1 or matches[0].user.kind is not UserKind.HUMAN:
                return None
            return _Found(matches[0], await tx.orgs.find(matches[0].user.org_id))

    async def _record_failure(self, checked: CheckedUser, *, refused: str | None = None) -> bool:
        """A wrong password counts towards the lockout policy; a refused user's attempt is
        recorded with its reason and runs the same statements on no row.

        True when this failure locked the user and the policy shows lockout failures."""
        user = checked.user
        async with self._store.transaction() as tx:
            lockout = from_settings(
                LockoutPolicy, await tx.policies.find_effective("lockout", user.org_id)
            )
            payload: dict[str, Any] = {"refused": refused}
            if refused is None:
                payload = await self._count_failure(tx, checked, lockout)
            else:
                await tx.users.record_password_failure(_NOBODY)
            await record(
                tx,
                checked.context,
                "user.human.password.check.failed",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload=payload,
            )
        return bool(payload.get("locked")) and lockout.show_lockout_failures

    @staticmethod
    async def _count_failure(
        tx: Repositories, checked: CheckedUser, lockout: LockoutPolicy
    ) -> dict[str, Any]:
        failures = await tx.users.record_password_failure(checked.user.id)
        locks = 0 < lockout.max_password_attempts <= failures
        if locks:
            await tx.users.set_state(checked.user.id, UserState.LOCKED, at=checked.context.now())
        return {"failures": failures, "locked": locks}

    async def _record_unknown(self) -> None:
        async with self._store.transaction() as tx:
            await tx.policies.find_effective("lockout", _NOBODY)
            await tx.users.record_password_failure(_NOBODY)
