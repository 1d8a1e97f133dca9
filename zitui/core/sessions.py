"""Browser sessions, as ZITADEL's login v1 keeps them.

A random cookie identifies the browser; the store keeps only its SHA-256 digest. Each user who
signs in on that browser gets one session row recording when each factor was last checked, so
`max_age`, `prompt=login` and the login policy's lifetimes decide when a user must prove
something again (`satisfies`).
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

from zitui.core.access import end_user_access
from zitui.core.audit import record
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.credentials import (
    CheckedUser,
    PasswordChecker,
    bad_credentials,
    check_user_state,
    login_policy,
    refusal,
    user_context,
)
from zitui.core.crypto import tokens
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.ids import new_id
from zitui.core.login.reuse import Demand, reusable
from zitui.core.login.second_factor import second_factor_missing
from zitui.core.password_expiry import days_left
from zitui.core.password_notice import PasswordNotice
from zitui.core.policies import LoginPolicy, PasswordComplexityPolicy
from zitui.core.users import password_policy
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed, Unauthenticated
from zitui.records import Session, User
from zitui.store import Repositories, Store

__all__ = [
    "PASSWORD_CHANGE_WINDOW",
    "SessionService",
    "may_change_password",
    "new_browser_cookie",
    "satisfies",
    "start_passkey_session",
    "start_session",
]

_BROWSER_COOKIE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_LOGIN_NAME = 320
# How long after a password check a user who must change it may do so without the current one.
PASSWORD_CHANGE_WINDOW = timedelta(minutes=10)
DEFAULT_IDLE_TIMEOUT = timedelta(hours=24)


def new_browser_cookie() -> str:
    """A fresh browser identifier: 32 random bytes, URL-safe."""
    return tokens.random_token(32)


def _browser_digest(browser_cookie: str) -> str | None:
    return tokens.digest(browser_cookie) if _BROWSER_COOKIE.fullmatch(browser_cookie) else None


def satisfies(
    session: Session,
    *,
    now: datetime,
    max_age: int | None,
    not_before: datetime | None,
    policy: LoginPolicy,
) -> bool:
    """True when the session's password check is good enough to sign in without a new one.

    The check must lie within the login policy's `password_check_lifetime`, within `max_age`
    seconds of `now` when given (OIDC Core §3.1.2.1), and at or after `not_before` when given
    (for `prompt=login`, the auth request's creation). A session whose user must change the
    password satisfies nothing until the change is made.
    """
    checked = session.password_checked_at
    if checked is None or session.password_change_required:
        return False
    if now - checked >= timedelta(seconds=policy.password_check_lifetime_s):
        return False
    if max_age is not None and now - checked > timedelta(seconds=max_age):
        return False
    return not_before is None or checked >= not_before


def may_change_password(session: Session, *, now: datetime) -> bool:
    """The user must change the password and proved the current one moments ago."""
    checked = session.password_checked_at
    return (
        session.password_change_required
        and checked is not None
        and now - checked <= PASSWORD_CHANGE_WINDOW
    )


def check_login_name(login_name: str) -> str:
    """The typed login name, trimmed; InvalidArgument when it cannot be one."""
    name = login_name.strip()
    if not name:
        raise InvalidArgument("login.name_required", "enter your login name", field="login_name")
    if len(name) > MAX_LOGIN_NAME or any(c.isspace() or not c.isprintable() for c in name):
        raise InvalidArgument("login.name_invalid", "this is not a login name", field="login_name")
    return name


def require_passwords(policy: LoginPolicy) -> LoginPolicy:
    """The policy, if it allows signing in with a password; else PreconditionFailed."""
    if not policy.allow_username_password:
        raise PreconditionFailed(
            "login.password_not_allowed", "signing in with a password is not allowed here"
        )
    return policy


class SessionService:
    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        clock: Clock,
        *,
        idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
        checker: PasswordChecker | None = None,
        notice: PasswordNotice | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._checker = checker or PasswordChecker(store, hasher, clock)
        self._notice = notice
        # A session unused this long counts as signed out (and the browser cookie expires).
        self.idle_timeout = idle_timeout

    async def check_password(
        self,
        browser_cookie: str,
        login_name: str,
        password: str,
        request: RequestMeta,
        *,
        org_id: str | None = None,
    ) -> Session:
        """Prove a password and start (or refresh) this browser's session for the user.

        Unknown users, machine users and wrong passwords all raise
        Unauthenticated("auth.bad_credentials") at the same argon2 cost; failures count
        towards the lockout policy. The returned session's `password_change_required` tells
        whether the user must choose a new password before going on.
        """
        digest = self._require_browser(browser_cookie)
        policy = await self.password_login_policy(org_id)
        checked = await self._checker.verify(
            login_name, password, request, policy=policy, org_id=org_id or None
        )
        async with self._store.transaction() as tx:
            return await start_session(tx, self._checker, digest, checked, request)

    async def start_passkey_session(
        self,
        tx: Repositories,
        browser_digest: str,
        user: User,
        request: RequestMeta,
        **payload: str,
    ) -> Session:
        """The module's `start_passkey_session` with this service's clock: inside the caller's
        transaction, after a verified passkey assertion, the session proven by the passkey."""
        return await start_passkey_session(
            tx, self._clock, browser_digest, user, request, **payload
        )

    async def check_new_password(self, session: Session, new_password: str, repeat: str) -> None:
        """The new password a user must choose: typed twice alike, within the complexity
        rules, and not the current one. InvalidArgument names the field at fault."""
        if not hmac.compare_digest(new_password.encode(), repeat.encode()):
            raise InvalidArgument(
                "password.mismatch", "the passwords differ", field="new_password_repeat"
            )
        async with self._store.reader() as tx:
            credentials = await tx.users.find_credentials(session.user_id)
            complexity = await password_policy(tx, session.org_id)
        if credentials is None:
            raise NotFound("session.not_found", "this sign-in has ended")
        if not session.password_change_required:
            raise PreconditionFailed(
                "password.change_not_required", "this password need not be changed"
            )
        complexity.check(new_password, field="new_password")
        if await self._hasher.verify(credentials.password_hash, new_password):
            raise InvalidArgument(
                "password.unchanged", "choose a password you did not use now", field="new_password"
            )

    async def set_required_password(
        self,
        tx: Repositories,
        session: Session,
        password_hash: str,
        request: RequestMeta,
        *,
        at: datetime,
    ) -> Session:
        """Inside the caller's transaction: the new password is set, the user's other
        sessions and tokens end, and one event records it. Returns the session as now."""
        user = await tx.users.find(session.user_id)
        if user is None:
            raise NotFound("session.not_found", "this sign-in has ended")
        check_user_state(user)
        await tx.users.set_password(session.user_id, password_hash, change_required=False, at=at)
        await tx.sessions.touch(session.id, at=at)
        ended = await end_user_access(tx, session.user_id, at=at, keep_session_id=session.id)
        ctx = user_context(self._clock, user, request)
        await record(
            tx,
            ctx,
            "user.human.password.changed",
            aggregate=("user", session.user_id),
            org_id=session.org_id,
            payload={"change_required": False, **ended.payload()},
        )
        if self._notice is not None:
            await self._notice.password_changed(tx, ctx, user)
        return await _load(tx, session.id)

    async def login_policy(self, org_id: str | None) -> LoginPolicy:
        """The login policy of an organisation (its override or the default)."""
        async with self._store.reader() as tx:
            return await login_policy(tx, org_id)

    async def password_requirements(self, session: Session) -> PasswordComplexityPolicy:
        """The complexity rules a new password of the session's user must meet."""
        async with self._store.reader() as tx:
            return await password_policy(tx, session.org_id)

    async def password_rules(self, org_id: str) -> PasswordComplexityPolicy:
        """The complexity rules of an organisation's passwords, as its pages list them."""
        async with self._store.reader() as tx:
            return await password_policy(tx, org_id)

    async def list_browser_sessions(self, browser_cookie: str) -> list[Session]:
        """The browser's active sessions, the most recently used first."""
        digest = _browser_digest(browser_cookie)
        if digest is None:
            return []
        async with self._store.reader() as tx:
            sessions = await tx.sessions.list_for_browser(digest)
        now = self._clock.now()
        return [s for s in sessions if now - s.last_used_at < self.idle_timeout]

    async def password_warnings(self, sessions: list[Session]) -> dict[str, int]:
        """For the signed-in page: session id → days until its user's password expires, for
        the sessions whose password is within the password age policy's warning window."""
        now = self._clock.now()
        async with self._store.reader() as tx:
            found = {s.id: await days_left(tx, s.user_id, now=now) for s in sessions}
        return {session_id: days for session_id, days in found.items() if days is not None}

    async def find_browser_session(self, browser_cookie: str, session_id: str) -> Session | None:
        """The active session `session_id` if it belongs to this browser."""
        digest = _browser_digest(browser_cookie)
        if digest is None:
            return None
        async with self._store.reader() as tx:
            session = await tx.sessions.find(session_id, browser_digest=digest)
        if session is None or self._clock.now() - session.last_used_at >= self.idle_timeout:
            return None
        return session

    async def account_context(
        self, browser_cookie: str, session_id: str, request: RequestMeta
    ) -> Context:
        """The context of one account signed in on this browser, for the account pages: the
        session `session_id` (or, given "", the most recently used), its user as actor, the
        latest first-factor check as `auth_time`.

        Unauthenticated unless the session could sign in to an application now without
        proving anything (`reuse.reusable`, and no second factor due or missing): a sign-in
        left at the second factor, or a password that must be changed first, opens nothing.
        """
        sessions = await self.list_browser_sessions(browser_cookie)
        chosen = [s for s in sessions if s.id == session_id] if session_id else sessions[:1]
        if not chosen or not await self._complete(chosen[0]):
            raise Unauthenticated("auth.required", "sign in first")
        session = chosen[0]
        # A sign-in at an external provider proves the first factor as a password does.
        proofs = (
            session.password_checked_at,
            session.multi_factor_checked_at,
            session.external_checked_at,
        )
        first = [at for at in proofs if at]
        return Context(
            clock=self._clock,
            actor=_actor(session),
            request=request,
            auth_time=max(first, default=None),
            session_id=session.id,
        )

    async def _complete(self, session: Session) -> bool:
        now, demand = self._clock.now(), Demand()
        async with self._store.reader() as tx:
            policy = await login_policy(tx, session.org_id)
            if not reusable(
                session, demand, policy=policy, now=now, idle_timeout=self.idle_timeout
            ):
                return False
            return not await second_factor_missing(tx, session, demand, policy=policy, now=now)

    async def find_session(self, session_id: str) -> Session | None:
        """The session if it is active; a terminated session is gone."""
        async with self._store.reader() as tx:
            return await tx.sessions.find(session_id)

    async def touch(self, session_id: str) -> None:
        """Note that the session was used now (it moves to the top of the account list)."""
        async with self._store.transaction() as tx:
            await tx.sessions.touch(session_id, at=self._clock.now())

    async def terminate_session(
        self, browser_cookie: str, session_id: str, *, request: RequestMeta | None = None
    ) -> None:
        """Sign one user out of this browser."""
        digest = _browser_digest(browser_cookie) or ""
        async with self._store.transaction() as tx:
            session = await _browser_session(tx, digest, session_id)
            await self._terminate(tx, [session], request)

    async def terminate_browser(
        self, browser_cookie: str, *, request: RequestMeta | None = None
    ) -> list[str]:
        """Sign every user out of this browser; returns the ended session ids.

        One event records it, on the user of the most recently used session; its payload
        names every session and user that was signed out.
        """
        digest = _browser_digest(browser_cookie)
        if digest is None:
            return []
        async with self._store.transaction() as tx:
            sessions = await tx.sessions.list_for_browser(digest)
            return await self._terminate(tx, sessions, request)

    async def _terminate(
        self,
        tx: Repositories,
        sessions: list[Session],
        request: RequestMeta | None,
        *,
        system: bool = False,
    ) -> list[str]:
        if not sessions:
            return []
        ids = [session.id for session in sessions]
        newest = sessions[0]
        request = request or RequestMeta(origin="sessions")
        ctx = (
            Context.system(self._clock, origin=request.origin)
            if system
            else Context(clock=self._clock, actor=_actor(newest), request=request)
        )
        await tx.sessions.terminate(ids, at=ctx.now())
        payload: dict[str, object] = {"session_ids": ids}
        users = sorted({session.user_id for session in sessions})
        if users != [newest.user_id]:
            payload["user_ids"] = users
        await record(
            tx,
            ctx,
            "user.session.terminated",
            aggregate=("user", newest.user_id),
            org_id=newest.org_id,
            payload=payload,
        )
        return ids

    async def password_login_policy(self, org_id: str | None) -> LoginPolicy:
        """The organisation's login policy; PreconditionFailed when it allows no passwords."""
        return require_passwords(await self.login_policy(org_id or None))

    @staticmethod
    def _require_browser(browser_cookie: str) -> str:
        digest = _browser_digest(browser_cookie)
        if digest is None:
            raise InvalidArgument("session.browser_invalid", "this browser has no valid cookie")
        return digest


async def start_session(
    tx: Repositories,
    checker: PasswordChecker,
    browser_digest: str,
    checked: CheckedUser,
    request: RequestMeta,
    **payload: str,
) -> Session:
    """Inside the caller's transaction: the (browser, user) session records the password
    check, and the checker confirms it (state re-checked, counters reset, one event)."""
    now = checked.context.now()
    session_id = await tx.sessions.record_password_check(
        browser_digest,
        checked.user.id,
        new_id=new_id(),
        at=now,
        user_agent=request.user_agent,
        client_ip=request.ip,
    )
    details = {"origin": request.origin, "session_id": session_id, **payload}
    await checker.confirm(tx, checked, payload=details)
    return await _load(tx, session_id)


async def start_passkey_session(
    tx: Repositories,
    clock: Clock,
    browser_digest: str,
    user: User,
    request: RequestMeta,
    **payload: str,
) -> Session:
    """Inside the caller's transaction, after the caller verified a passkey assertion with user
    verification for `user`: the (browser, user) session records a multi-factor check, with no
    password (ZITADEL's passwordless login), and one `user.human.passwordless.check.succeeded`
    event names the session.

    The user and the organisation are read again, so one locked or deactivated since the
    assertion began gets Unauthenticated("auth.bad_credentials") and no session is made.
    """
    return await _start_without_password(
        tx,
        clock,
        browser_digest,
        user,
        request,
        "user.human.passwordless.check.succeeded",
        payload,
        passkey=True,
    )


async def start_external_session(
    tx: Repositories,
    clock: Clock,
    browser_digest: str,
    user: User,
    idp_id: str,
    request: RequestMeta,
    **payload: str,
) -> Session:
    """Inside the caller's transaction, after the caller checked an external provider's
    answer for `user`'s link: the (browser, user) session records the external sign-in
    (ZITADEL's `ExternalLoginCheckLifetime` applies to it), and one
    `user.human.externallogin.check.succeeded` event names the session and the provider.

    A user locked or deactivated meanwhile gets Unauthenticated("auth.bad_credentials")."""
    return await _start_without_password(
        tx,
        clock,
        browser_digest,
        user,
        request,
        "user.human.externallogin.check.succeeded",
        {**payload, "idp_id": idp_id},
        external_idp=idp_id,
    )


async def _start_without_password(
    tx: Repositories,
    clock: Clock,
    browser_digest: str,
    user: User,
    request: RequestMeta,
    event_type: str,
    payload: dict[str, str],
    *,
    passkey: bool = False,
    external_idp: str = "",
) -> Session:
    """The session of a first factor other than the password, and its event; the user and
    the organisation read again first (Unauthenticated when they may not sign in now)."""
    current = await tx.users.find(user.id)
    org = await tx.orgs.find(user.org_id)
    if current is None or refusal(current, org) is not None:
        raise bad_credentials()
    ctx = user_context(clock, current, request)
    session_id = await tx.sessions.record_first_factor(
        browser_digest,
        current.id,
        new_id=new_id(),
        at=ctx.now(),
        user_agent=request.user_agent,
        client_ip=request.ip,
        passkey=passkey,
        external_idp=external_idp,
    )
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("user", current.id),
        org_id=current.org_id,
        payload={"origin": request.origin, "session_id": session_id, **payload},
    )
    return await _load(tx, session_id)


def _actor(session: Session) -> Actor:
    return Actor(user_id=session.user_id, org_id=session.org_id, login_name=session.login_name)


async def _browser_session(tx: Repositories, digest: str, session_id: str) -> Session:
    session = await tx.sessions.find(session_id, browser_digest=digest)
    if session is None:
        raise NotFound("session.not_found", "this sign-in has ended")
    return session


async def _load(tx: Repositories, session_id: str) -> Session:
    session = await tx.sessions.find(session_id)
    if session is None:  # written in this very transaction
        raise NotFound("session.not_found", "this sign-in has ended")
    return session
