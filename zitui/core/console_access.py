"""Who may open the operator console over SSH, and the audit trail of those sessions.

Two ways in: a public key registered to the user (`core/ssh_keys.py`), whose SSH username is
the user's login name; or the user's password and then their second factor, which is the
console's sign-in (`AuthService.login_operator`, the hosted login's password step with its
throttle and lockout). Either way only a user with a manager role gets a console: anyone else
is refused after proving who they are, with an event that says so. Key sign-ins and their
failures, refusals and the end of each session are events on the user.
"""

from __future__ import annotations

from zitui.core.audit import record
from zitui.core.auth import AuthService, OperatorLogin
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.credentials import bad_credentials, refusal, user_context
from zitui.errors import PermissionDenied
from zitui.records import User, UserKind
from zitui.store import Repositories, Store

KEY_SIGN_IN = "user.human.ssh_key.check.succeeded"
KEY_FAILED = "user.human.ssh_key.check.failed"
REFUSED = "user.human.console.refused"
ENDED = "user.human.console.ended"


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
