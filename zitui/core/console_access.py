"""Who may open the operator console over SSH, and the audit trail of those sessions.

Two ways in: a public key registered to the user (`core/ssh_keys.py`), whose SSH username is
the user's login name; or the user's password and then their second factor, which is the
console's sign-in (`AuthService.login_operator`, the hosted login's password step with its
throttle and lockout). Either way only a user with a manager role gets a console: anyone else
is refused after proving who they are, with an event that says so. Key sign-ins and their
failures, refusals and the end of each session are events on the user.

Each SSH session's console runs in a process of its own (zitui/ssh/), which learns who signed
in from a hand-off token: one use, a minute to live, kept as a digest in `user_codes` under a
purpose of its own per hand-off (so two sessions of one user do not replace each other's).
Redeeming it loads the user and their memberships again, from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from zitui.core.audit import record
from zitui.core.auth import AuthService, OperatorLogin
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.credentials import bad_credentials, refusal, user_context
from zitui.core.crypto import tokens
from zitui.errors import PermissionDenied, Unauthenticated
from zitui.records import User, UserKind
from zitui.store import Repositories, Store

KEY_SIGN_IN = "user.human.ssh_key.check.succeeded"
KEY_FAILED = "user.human.ssh_key.check.failed"
REFUSED = "user.human.console.refused"
ENDED = "user.human.console.ended"
HANDOFF_LIFETIME = timedelta(minutes=1)
# `user_codes.purpose` holds 20 characters: the prefix and 16 of the hand-off's id.
HANDOFF_PURPOSE = "ssh:"
HANDOFF_ID_LENGTH = 16


def not_manager() -> PermissionDenied:
    return PermissionDenied("auth.not_manager", "only managers may use the operator console")


class ConsoleAccess:
    def __init__(self, store: Store, auth: AuthService, clock: Clock) -> None:
        self._store = store
        self._auth = auth
        self._clock = clock

    async def key_matches(self, login_name: str, fingerprint: str) -> bool:
        """Whether the key is registered to the human user `login_name` names (before the
        client proves it holds the key; nothing is recorded)."""
        async with self._store.reader() as tx:
            user = await _user_of_key(tx, login_name, fingerprint)
        return user is not None

    async def sign_in_with_key(
        self, login_name: str, fingerprint: str, request: RequestMeta
    ) -> OperatorLogin:
        """After the client proved it holds the key: the user of the key, when they may sign
        in and are a manager. Unauthenticated("auth.bad_credentials") when the key is not
        theirs (any more) or they are locked or deactivated; PermissionDenied
        ("auth.not_manager") for a user without a manager role. Each outcome is an event."""
        async with self._store.transaction() as tx:
            user = await _user_of_key(tx, login_name, fingerprint)
            if user is None:
                raise bad_credentials()
            ctx = user_context(self._clock, user, request)
            refused = refusal(user, await tx.orgs.find(user.org_id))
            if refused is not None:
                await _event(tx, ctx, user, KEY_FAILED, fingerprint=fingerprint, refused=refused)
        if refused is not None:
            raise bad_credentials()
        async with self._store.transaction() as tx:
            stored = await tx.ssh_keys.find_by_fingerprint(fingerprint)
            memberships = tuple(await tx.memberships.list_for_user(user.id))
            if not memberships:
                await _event(tx, ctx, user, REFUSED, method="ssh_key")
            else:
                if stored is not None:
                    await tx.ssh_keys.mark_used(stored.id, ctx.now())
                await _event(tx, ctx, user, KEY_SIGN_IN, fingerprint=fingerprint)
        if not memberships:
            raise not_manager()
        actor = Actor(
            user_id=user.id, org_id=user.org_id, login_name=user.login_name, memberships=memberships
        )
        context = Context(clock=self._clock, actor=actor, request=request, auth_time=ctx.now())
        return OperatorLogin(context=context, user=user, password_change_required=False)

    async def sign_in_with_password(
        self, login_name: str, password: str, request: RequestMeta, *, code: str = ""
    ) -> OperatorLogin:
        """The console's password sign-in (`AuthService.login_operator`), whose refusal of a
        user without a manager role is recorded here."""
        try:
            return await self._auth.login_operator(login_name, password, request, code=code)
        except PermissionDenied as exc:
            if exc.code == "auth.not_manager":
                await self._record_refusal(login_name, request)
            raise

    async def hand_off(self, login: OperatorLogin) -> str:
        """A one-time token that lets the console process act as the signed-in user."""
        user = login.user
        handoff_id = tokens.code(HANDOFF_ID_LENGTH, "abcdefghijkmnpqrstuvwxyz23456789")
        secret = tokens.random_token()
        now = self._clock.now()
        async with self._store.transaction() as tx:
            await tx.user_codes.put(
                user.id,
                HANDOFF_PURPOSE + handoff_id,
                digest=tokens.digest(secret),
                target=login.context.request.ip,
                at=now,
                expires_at=now + HANDOFF_LIFETIME,
                message_id=None,
            )
        return f"{user.id}.{handoff_id}.{secret}"

    async def redeem(self, token: str, request: RequestMeta) -> OperatorLogin:
        """The sign-in a hand-off token stands for, once; Unauthenticated for an unknown,
        used or expired token, or for a user who may not sign in or manage any more."""
        user_id, _, rest = token.partition(".")
        handoff_id, _, secret = rest.partition(".")
        purpose = HANDOFF_PURPOSE + handoff_id
        now = self._clock.now()
        async with self._store.transaction() as tx:
            stored = await tx.user_codes.find(user_id, purpose) if handoff_id else None
            if (
                stored is None
                or len(handoff_id) != HANDOFF_ID_LENGTH
                or not tokens.equal(stored.digest, tokens.digest(secret))
                or stored.expires_at <= now
                or not await tx.user_codes.delete(user_id, purpose)
            ):
                raise _handoff_refused()
            user = await tx.users.find(user_id)
            org = await tx.orgs.find(user.org_id) if user is not None else None
            memberships = tuple(await tx.memberships.list_for_user(user_id))
        if user is None or refusal(user, org) is not None:
            raise _handoff_refused()
        if not memberships:
            raise not_manager()
        actor = Actor(
            user_id=user.id, org_id=user.org_id, login_name=user.login_name, memberships=memberships
        )
        context = Context(
            clock=self._clock, actor=actor, request=request, auth_time=stored.created_at
        )
        return OperatorLogin(
            context=context, user=user, password_change_required=user.password_change_required
        )

    async def record_key_failure(
        self, login_name: str, fingerprints: Sequence[str], request: RequestMeta
    ) -> None:
        """A connection offered keys for `login_name` that are not that user's, and never
        signed in: one event on the user, when the name names one."""
        async with self._store.transaction() as tx:
            ids = await tx.users.ids_for_login(login_name.strip(), allow_email=False, phone="")
            user = await tx.users.find(ids[0]) if len(ids) == 1 else None
            if user is None or user.kind is not UserKind.HUMAN:
                return
            ctx = user_context(self._clock, user, request)
            await _event(
                tx,
                ctx,
                user,
                KEY_FAILED,
                refused="not_registered",
                fingerprints=", ".join(sorted(set(fingerprints))[:10]),
            )

    async def record_end(self, ctx: Context, *, reason: str) -> None:
        """The console session of `ctx`'s actor ended (`reason`: closed, idle, error)."""
        if ctx.actor is None:
            return
        async with self._store.transaction() as tx:
            user = await tx.users.find(ctx.actor.user_id)
            if user is not None:
                await _event(tx, ctx, user, ENDED, reason=reason)

    async def _record_refusal(self, login_name: str, request: RequestMeta) -> None:
        async with self._store.transaction() as tx:
            ids = await tx.users.ids_for_login(login_name.strip(), allow_email=True, phone="")
            user = await tx.users.find(ids[0]) if len(ids) == 1 else None
            if user is not None:
                ctx = user_context(self._clock, user, request)
                await _event(tx, ctx, user, REFUSED, method="password")


def _handoff_refused() -> Unauthenticated:
    return Unauthenticated("console.handoff_invalid", "this console hand-off is unknown or used")


async def _user_of_key(tx: Repositories, login_name: str, fingerprint: str) -> User | None:
    """The human user owning the key, when `login_name` names that user too."""
    stored = await tx.ssh_keys.find_by_fingerprint(fingerprint)
    if stored is None:
        return None
    user = await tx.users.find(stored.user_id)
    if user is None or user.kind is not UserKind.HUMAN:
        return None
    wanted = login_name.strip().casefold()
    if wanted not in (user.login_name.casefold(), user.username.casefold()):
        return None
    return user


async def _event(
    tx: Repositories, ctx: Context, user: User, event_type: str, **payload: str
) -> None:
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("user", user.id),
        org_id=user.org_id,
        payload={"origin": ctx.request.origin, **payload},
    )
