"""Authorization requests: from `/oauth/v2/authorize` through the hosted login to the code.

```mermaid
stateDiagram-v2
    [*] --> pending: authorize (stored)
    pending --> linked: link_session (login pages) / a silent prompt=none
    linked --> linked: link_session (another account)
    linked --> code_issued: issue_code (callback, same browser)
    code_issued --> [*]: the token endpoint redeems the code once
    pending --> [*]: expires (1 h) or the callback answers access_denied
```

The login pages see a request through `get_auth_request` and finish it with `link_session`;
the callback (`issue_code`) then sends the user back with a single-use code whose digest is
stored. `prompt=none` (OIDC Core §3.1.2.1) answers at once from the browser's sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from zitui.core.audit import record
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context
from zitui.core.credentials import login_policy
from zitui.core.crypto import tokens
from zitui.core.login.reuse import Demand, reusable
from zitui.core.login.second_factor import second_factor_missing
from zitui.core.oidc.audience import asked_projects, check_signed_in
from zitui.core.oidc.authorization_request import (
    AuthorizeParams,
    checked_request,
    response_mode,
    trusted_redirect,
)
from zitui.core.oidc.errors import OAuthError
from zitui.core.oidc.issuance import Lifetimes
from zitui.core.oidc.keys import KeyService
from zitui.core.oidc.pending import admit
from zitui.core.oidc.request_bounds import echoed_state
from zitui.core.oidc.responses import Redirect, ToLogin
from zitui.core.oidc.rp_logout import RPInitiatedLogout
from zitui.core.oidc.scopes import Scopes
from zitui.core.policies import LoginPolicy
from zitui.core.sessions import SessionService
from zitui.errors import (
    FlowExpired,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ReauthRequired,
    ZituiError,
)
from zitui.records import (
    AuthRequest,
    AuthRequestStatus,
    OrgState,
    Session,
    StoredAuthRequest,
    User,
    UserState,
)
from zitui.store import Repositories, Store

CODE_BYTES = 32  # 256 bits; the conformance suite wants at least 128


class AuthRequestService(RPInitiatedLogout):
    def __init__(
        self,
        store: Store,
        keys: KeyService,
        sessions: SessionService,
        clock: Clock,
        *,
        issuer: str,
        lifetimes: Lifetimes,
        pending_per_address: int = 0,
    ) -> None:
        self._store = store
        self._keys = keys
        self._sessions = sessions
        self._clock = clock
        self.issuer = issuer
        self._code_lifetime = lifetimes.auth_code
        self._pending_per_address = pending_per_address

    async def authorize(
        self, ctx: Context, params: AuthorizeParams, *, browser_cookie: str = ""
    ) -> Redirect | ToLogin:
        """Check and store an authorization request.

        Raises InvalidArgument (render a page, redirect nowhere) for an unknown client or a
        redirect URI that is not registered, and RateLimited when the caller's address holds
        too many pending requests (`pending.py`); every other problem is an error Redirect.
        """
        async with self._store.reader() as tx:
            found = await tx.oidc_clients.find_by_client_id(params.get("client_id"))
        client, redirect_uri = trusted_redirect(found, params)
        mode, state = response_mode(params), echoed_state(params.get("state"))
        try:
            keys = await self._keys.public_keys()
            async with self._store.transaction() as tx:
                now, cap = ctx.now(), self._pending_per_address
                address = await admit(tx, ctx.request.ip, now=now, limit=cap)
                stored = await checked_request(
                    tx, client, redirect_uri, params, keys=keys, issuer=self.issuer, now=now
                )
                stored = replace(stored, client_ip=address)
                await tx.auth_requests.insert(stored)
            if "none" in stored.prompt:
                return await self._silent_or_ended(ctx, stored, browser_cookie)
        except OAuthError as error:
            return Redirect.error(redirect_uri, mode, error, state=state, issuer=self.issuer)
        return ToLogin(stored.id)

    async def get_auth_request(self, auth_request_id: str) -> AuthRequest:
        """The request as the login pages show it; NotFound, or FlowExpired once it expired
        or its code was issued."""
        async with self._store.reader() as tx:
            _, shown = await self.read_pending(tx, auth_request_id)
        return shown

    async def load_pending(self, tx: Repositories, auth_request_id: str) -> StoredAuthRequest:
        """Inside the caller's transaction: the request while a sign-in may still finish it;
        NotFound, or FlowExpired once it expired or its code was issued."""
        return await self._load(tx, auth_request_id, self._clock.now())

    async def read_pending(
        self, tx: Repositories, auth_request_id: str
    ) -> tuple[StoredAuthRequest, AuthRequest]:
        """Inside the caller's transaction: the request while a sign-in may still finish it,
        and how the pages show it; NotFound, or FlowExpired once it expired or its code was
        issued."""
        stored = await self._load(tx, auth_request_id, self._clock.now())
        client = await tx.oidc_clients.find_by_app_id(stored.app_id)
        shown = AuthRequest(
            id=stored.id,
            client_id=stored.client_id,
            app_name=client.app_name if client else "",
            scopes=stored.scopes,
            prompt=stored.prompt,
            max_age=stored.max_age,
            login_hint=stored.login_hint,
            ui_locales=stored.ui_locales,
            org_id=stored.org_id,
            created_at=stored.created_at,
            expires_at=stored.expires_at,
            hint_user_id=stored.id_token_hint_subject,
        )
        return stored, shown

    async def link_session(self, auth_request_id: str, session_id: str) -> None:
        """The signed-in session finishes the request; the callback then issues the code.

        The session's user must be active, of the requested organisation, have signed in
        recently enough for `prompt=login` and `max_age` (else ReauthRequired), and pass the
        project's has-project and role checks (else PermissionDenied, recorded as an
        `auth_request.denied` event). One `auth_request.succeeded` event on success.
        """
        now = self._clock.now()
        async with self._store.reader() as tx:
            stored = await self._load(tx, auth_request_id, now)
            session = await tx.sessions.find(session_id)
        if session is None:
            raise NotFound("session.not_found", "this sign-in has ended")
        await self._link(stored, session, now)

    async def issue_code(
        self, ctx: Context, auth_request_id: str, *, browser_cookie: str
    ) -> Redirect:
        """The callback: a code for a linked request, sent back in the request's mode.

        Only the browser whose session was linked gets the code; another browser gets a page
        (PermissionDenied). A request nobody signed in to answers `access_denied`: the login
        pages send a user who gives up here.
        """
        now = ctx.now()
        async with self._store.reader() as tx:
            stored = await self._load(tx, auth_request_id, now)
        mode = stored.response_mode
        if stored.status is AuthRequestStatus.PENDING or stored.session_id is None:
            denied = OAuthError("access_denied", "the user did not sign in")
            return Redirect.error(
                stored.redirect_uri, mode, denied, state=stored.state, issuer=self.issuer
            )
        session = await self._sessions.find_browser_session(browser_cookie, stored.session_id)
        if session is None:
            raise PermissionDenied(
                "auth_request.other_browser", "this sign-in was finished in another browser"
            )
        return await self._code(stored, now)

    async def _silent_or_ended(
        self, ctx: Context, stored: StoredAuthRequest, browser_cookie: str
    ) -> Redirect:
        """`prompt=none` answers at once: a request it could not finish is over, so it does
        not wait out its hour counting against the address's cap of pending requests."""
        try:
            return await self._silently(ctx, stored, browser_cookie)
        except OAuthError:
            async with self._store.transaction() as tx:
                await tx.auth_requests.end(stored.id, at=ctx.now())
            raise

    async def _silently(
        self, ctx: Context, stored: StoredAuthRequest, browser_cookie: str
    ) -> Redirect:
        """`prompt=none`: one session that needs no interaction, or an error (§3.1.2.6).

        A session that would do but for the class `acr_values` asks for (a second factor it
        lacks) answers `interaction_required`: the user is signed in, and must prove more.
        """
        now = ctx.now()
        sessions = await self._sessions.list_browser_sessions(browser_cookie)
        hinted = [s for s in sessions if _matches_hints(stored, s)]
        eligible = [s for s in hinted if await self._reusable(stored, s, now)]
        if not eligible:
            plain = replace(stored, acr_values=())
            if stored.acr_values and [s for s in hinted if await self._reusable(plain, s, now)]:
                raise OAuthError("interaction_required", "acr_values asks for a second factor")
            raise OAuthError("login_required", "the user is not signed in")
        if len(eligible) > 1:
            raise OAuthError("interaction_required", "more than one account is signed in")
        try:
            await self._link(stored, eligible[0], now)
        except PermissionDenied as exc:
            raise OAuthError("access_denied", exc.message) from exc
        except ZituiError as exc:
            raise OAuthError("login_required", exc.message) from exc
        linked = await self._reload(stored.id, now)
        return await self._code(linked, now)

    async def _reusable(self, stored: StoredAuthRequest, session: Session, now: datetime) -> bool:
        """The one reuse rule, and no second factor missing: a silent sign-in asks for
        nothing, so a user with second factors needs a fresh enough check of one, and a user
        the policy forces to set one up cannot sign in silently before doing so."""
        policy = await self._sessions.login_policy(session.org_id)
        demand = Demand.of(stored)
        idle = self._sessions.idle_timeout
        if not reusable(session, demand, policy=policy, now=now, idle_timeout=idle):
            return False
        async with self._store.reader() as tx:
            return not await second_factor_missing(tx, session, demand, policy=policy, now=now)

    async def link_within(
        self, tx: Repositories, stored: StoredAuthRequest, session: Session, *, now: datetime
    ) -> Refusal | None:
        """`link_in` inside the caller's transaction, under the session's login policy."""
        policy = await login_policy(tx, session.org_id)
        idle = self._sessions.idle_timeout
        return await link_in(
            tx, self._clock, stored, session, now=now, policy=policy, idle_timeout=idle
        )

    async def _link(self, stored: StoredAuthRequest, session: Session, now: datetime) -> None:
        async with self._store.transaction() as tx:
            refusal = await self.link_within(tx, stored, session, now=now)
        if refusal is not None:
            raise PermissionDenied(refusal.code, refusal.message)

    async def _code(self, stored: StoredAuthRequest, now: datetime) -> Redirect:
        if asked_projects(Scopes(stored.scopes)):
            try:
                async with self._store.reader() as tx:
                    await check_signed_in(tx, stored)
            except OAuthError as refused:
                return Redirect.error(
                    stored.redirect_uri,
                    stored.response_mode,
                    refused,
                    state=stored.state,
                    issuer=self.issuer,
                )
        code = tokens.random_token(CODE_BYTES)
        async with self._store.transaction() as tx:
            if not await tx.auth_requests.mark_code_issued(stored.id):
                raise FlowExpired("auth_request.done", "this sign-in request is finished")
            await tx.auth_requests.insert_code(
                tokens.digest(code),
                stored.id,
                created_at=now,
                expires_at=now + self._code_lifetime,
            )
        return Redirect.success(
            stored.redirect_uri,
            stored.response_mode,
            code=code,
            state=stored.state,
            issuer=self.issuer,
        )

    async def _reload(self, auth_request_id: str, now: datetime) -> StoredAuthRequest:
        async with self._store.reader() as tx:
            return await self._load(tx, auth_request_id, now)

    @staticmethod
    async def _load(tx: Repositories, auth_request_id: str, now: datetime) -> StoredAuthRequest:
        stored = await tx.auth_requests.find(auth_request_id) if auth_request_id else None
        if stored is None:
            raise NotFound("auth_request.not_found", "this sign-in request is unknown")
        if stored.expires_at <= now or stored.status is AuthRequestStatus.CODE_ISSUED:
            raise FlowExpired("auth_request.expired", "this sign-in request has expired")
        return stored


@dataclass(frozen=True)
class Refusal:
    """Why a signed-in user may not use the request's application."""

    code: str
    message: str


async def link_in(
    tx: Repositories,
    clock: Clock,
    stored: StoredAuthRequest,
    session: Session,
    *,
    now: datetime,
    policy: LoginPolicy,
    idle_timeout: timedelta,
) -> Refusal | None:
    """Inside the caller's transaction: finish the request with `session`, or say why not.

    The user must be active and of an active organisation (else PreconditionFailed), and the
    session must satisfy the request by the one reuse rule (else ReauthRequired). A refusal
    (another organisation, the project's has-project or role check, an inactive app) is
    recorded as `auth_request.denied` and returned; a success links the session and records
    `auth_request.succeeded`. FlowExpired if the request was finished meanwhile.
    """
    user = await tx.users.find(session.user_id)
    if user is None:
        raise NotFound("user.not_found", "no such user")
    refusal = await _refusal(tx, stored, user)
    ctx = _acting_as(clock, user)
    payload = {"auth_request_id": stored.id, "client_id": stored.client_id}
    payload["session_id"] = session.id
    if refusal is not None:
        payload["reason"] = refusal.code
        await _record(tx, ctx, "auth_request.denied", user, payload)
        return refusal
    demand = Demand.of(stored)
    if session.auth_time is None or not reusable(
        session, demand, policy=policy, now=now, idle_timeout=idle_timeout
    ):
        raise ReauthRequired("auth_request.reauth_required", "sign in again to continue")
    if await second_factor_missing(tx, session, demand, policy=policy, now=now):
        # The login flow asks for the factor before it links; no other path may skip it.
        raise ReauthRequired(
            "auth_request.second_factor_required", "prove a second factor to continue"
        )
    linked = await tx.auth_requests.link(
        stored.id,
        session_id=session.id,
        user_id=user.id,
        auth_time=session.auth_time,
        amr=session.amr,
    )
    if not linked:
        raise FlowExpired("auth_request.done", "this sign-in request is finished")
    await _record(tx, ctx, "auth_request.succeeded", user, payload)
    return None


def _matches_hints(stored: StoredAuthRequest, session: Session) -> bool:
    """`id_token_hint` and `login_hint` narrow the accounts `prompt=none` may pick."""
    if stored.id_token_hint_subject and session.user_id != stored.id_token_hint_subject:
        return False
    return not stored.login_hint or session.login_name.lower() == stored.login_hint.lower()


async def _refusal(tx: Repositories, stored: StoredAuthRequest, user: User) -> Refusal | None:
    """Why this user may not sign in to the request's application, if they may not."""
    if user.state is not UserState.ACTIVE:
        raise PreconditionFailed("auth.user_inactive", "this account is not active")
    org = await tx.orgs.find(user.org_id)
    if org is None or org.state is not OrgState.ACTIVE:
        raise PreconditionFailed("auth.org_inactive", "this account's organisation is deactivated")
    if stored.org_id and user.org_id != stored.org_id:
        return Refusal(
            "auth_request.wrong_org", "this application asks for a user of another organisation"
        )
    client = await tx.oidc_clients.find_by_app_id(stored.app_id)
    if client is None or not client.active:
        return Refusal("auth_request.app_inactive", "the application is not active")
    if client.project_has_project_check and not await tx.oidc_clients.org_has_project(
        user.org_id, client.project_id
    ):
        return Refusal(
            "auth_request.project_required",
            "your organisation has no access to this application",
        )
    if client.project_role_check:
        grants = await tx.oidc_clients.granted_roles(user.id, [client.project_id])
        if not any(grant.role_keys for grant in grants):
            return Refusal("auth_request.role_required", "you have no role in this application")
    return None


def _acting_as(clock: Clock, user: User) -> Context:
    actor = Actor(user_id=user.id, org_id=user.org_id, login_name=user.login_name)
    return Context(clock=clock, actor=actor)


async def _record(
    tx: Repositories, ctx: Context, event_type: str, user: User, payload: dict[str, str]
) -> None:
    await record(
        tx, ctx, event_type, aggregate=("user", user.id), org_id=user.org_id, payload=payload
    )
