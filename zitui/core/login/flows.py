"""LoginFlowService: the hosted login (and the console's sign-in) as one stored flow.

```mermaid
stateDiagram-v2
    [*] --> choose_account: start, the browser has accounts in scope (no prompt=login)
    [*] --> login_name: start, otherwise
    choose_account --> done: an account the reuse rule accepts
    choose_account --> password: an account that must prove its password again
    choose_account --> change_password: an account that must change its password
    choose_account --> login_name: another account
    login_name --> password: a login name (the same answer for every name)
    password --> password: a wrong password (the same answer for unknown users)
    password --> change_password: the password must be changed
    password --> done: proven; the application's request is linked
    password --> refused: proven, but the application refuses this user
    change_password --> done: a new password
    change_password --> refused: a new password, but the application refuses this user
    done --> [*]
    refused --> [*]
```

Each method is what one page submission calls; it answers with the next `Step`. A password
sign-in writes once after the password check (session, new browser id, flow and the
application's request in one transaction); the OIDC callback writes the code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from zitui.core.clock import Clock
from zitui.core.context import RequestMeta
from zitui.core.credentials import CheckedUser, PasswordChecker, login_policy
from zitui.core.crypto import tokens
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.ids import new_id
from zitui.core.login.reuse import Demand, alive, in_scope, reusable
from zitui.core.login.steps import (
    Account,
    AskLoginName,
    AskPassword,
    ChangePassword,
    ChooseAccount,
    Done,
    FlowView,
    Outcome,
    Refused,
    Step,
)
from zitui.core.oidc.auth_requests import AuthRequestService
from zitui.core.sessions import (
    SessionService,
    may_change_password,
    new_browser_cookie,
    start_session,
)
from zitui.core.users import password_policy
from zitui.errors import (
    FlowExpired,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ReauthRequired,
    Unauthenticated,
    ZituiError,
)
from zitui.records import AuthRequest, FlowStep, Session, StoredAuthRequest, StoredLoginFlow
from zitui.store import Repositories, Store

FLOW_LIFETIME = timedelta(hours=1)
# Steps a new login name or account choice may start again from.
_BEFORE_PROOF = frozenset({FlowStep.LOGIN_NAME, FlowStep.CHOOSE_ACCOUNT, FlowStep.PASSWORD})
_PASSWORD = "password"


def _digest(browser_cookie: str) -> str:
    return tokens.digest(browser_cookie)


class LoginFlowService:
    def __init__(
        self,
        store: Store,
        hasher: PasswordHasher,
        clock: Clock,
        sessions: SessionService,
        auth_requests: AuthRequestService,
        *,
        checker: PasswordChecker | None = None,
        max_open_flows_per_address: int = 100,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._sessions = sessions
        self._auth_requests = auth_requests
        self._checker = checker or PasswordChecker(store, hasher, clock)
        self._max_open = max_open_flows_per_address

    # --- the pages' calls ------------------------------------------------------------

    async def start(
        self, browser_cookie: str, *, auth_request_id: str, request: RequestMeta
    ) -> Outcome:
        """The entry page: this browser's open flow for the request, or a new one.

        The first step is the account list when the browser has accounts in the request's
        scope (and no `prompt=login`), else the login name.
        """
        digest = self._browser_digest(browser_cookie)
        now = self._clock.now()
        stored = None
        if auth_request_id:
            stored = await self._auth_requests.find_pending(auth_request_id)
        if auth_request_id and stored is None:
            raise NotFound("auth_request.not_found", "this sign-in request is unknown")
        async with self._store.reader() as tx:
            if stored is not None:
                open_flow = await tx.login_flows.find_latest(digest, stored.id, now=now)
                if open_flow is not None and open_flow.step in _BEFORE_PROOF:
                    return Outcome(await self._render(open_flow))
            if self._max_open and request.ip:
                open_here = await tx.login_flows.count_open_from(request.ip, now=now)
            else:
                open_here = 0
            if self._max_open and open_here >= self._max_open:
                raise RateLimited(
                    "login.too_many_flows",
                    "too many sign-ins were started from this address",
                    retry_after=60,
                )
        accounts = await self._accounts(browser_cookie, Demand.of(stored), now)
        fresh = stored is not None and "login" in stored.prompt
        step = FlowStep.CHOOSE_ACCOUNT if accounts and not fresh else FlowStep.LOGIN_NAME
        flow = StoredLoginFlow(
            id=new_id(),
            kind="login",
            browser_digest=digest,
            auth_request_id=stored.id if stored else None,
            org_id=stored.org_id if stored else "",
            user_id=None,
            session_id=None,
            login_name=_hint(stored, [a.session for a in accounts]),
            client_ip=request.ip[:64],
            step=step,
            checks={},
            attempts={},
            internal={},
            created_at=now,
            updated_at=now,
            expires_at=_expiry(now, stored),
        )
        async with self._store.transaction() as tx:
            await tx.login_flows.insert(flow)
        return Outcome(await self._render(flow, accounts=accounts))

    async def show(self, browser_cookie: str, flow_id: str) -> Outcome:
        """The flow's current step, for a page that is only loaded (GET); nothing changes."""
        return Outcome(await self._render(await self._load(browser_cookie, flow_id)))

    async def ask_login_name(self, browser_cookie: str, flow_id: str) -> Outcome:
        """"Use another account": the login-name form, while the flow has proven nothing."""
        flow = await self._load(browser_cookie, flow_id)
        if flow.step not in _BEFORE_PROOF:
            return Outcome(await self._render(flow))
        view = await self._view(flow)
        return Outcome(AskLoginName(view, login_name=_hint_of(view)))

    async def submit_login_name(
        self, browser_cookie: str, flow_id: str, login_name: str
    ) -> Outcome:
        """The login name. It looks no user up: the answer and its cost are the same for
        every name; the password step decides."""
        flow = await self._load(browser_cookie, flow_id)
        if flow.step not in _BEFORE_PROOF:
            return Outcome(await self._render(flow))
        view = await self._view(flow)
        try:
            target = await self._sessions.resolve_login_name(login_name, org_id=flow.org_id)
        except (InvalidArgument, PreconditionFailed) as exc:
            return Outcome(AskLoginName(view, login_name=login_name, error=exc))
        name = target.login_name
        flow = replace(flow, login_name=name, user_id=None, session_id=None)
        flow = _moved(flow, FlowStep.PASSWORD, self._clock.now(), language="")
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(AskPassword(replace(view, login_name=name), login_name=name))

    async def choose_account(
        self, browser_cookie: str, flow_id: str, session_id: str, request: RequestMeta
    ) -> Outcome:
        """Continue as one of the browser's accounts; a password only when the reuse rule
        asks for one."""
        flow = await self._load(browser_cookie, flow_id)
        if flow.step not in _BEFORE_PROOF:
            return Outcome(await self._render(flow))
        now = self._clock.now()
        stored = await self._request_of(flow)
        session = await self._sessions.find_browser_session(browser_cookie, session_id)
        if session is None or not in_scope(session, Demand.of(stored)):
            return Outcome(await self._render(flow))
        policy = await self._sessions.login_policy(session.org_id)
        demand = Demand.of(stored)
        idle = self._sessions.idle_timeout
        flow = replace(flow, login_name=session.login_name, user_id=session.user_id)
        if reusable(session, demand, policy=policy, now=now, idle_timeout=idle):
            flow = replace(flow, session_id=session.id)
            async with self._store.transaction() as tx:
                await tx.sessions.touch(session.id, at=now)
                flow, step = await self._finish(tx, flow, stored, session, now)
                await tx.login_flows.update(flow)
            return Outcome(step)
        if may_change_password(session, now=now):
            flow = _moved(replace(flow, session_id=session.id), FlowStep.CHANGE_PASSWORD, now)
        else:
            language = session.preferred_language
            flow = _moved(flow, FlowStep.PASSWORD, now, language=language)
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(await self._render(flow))

    async def submit_password(
        self, browser_cookie: str, flow_id: str, password: str, request: RequestMeta
    ) -> Outcome:
        """Prove the password of the flow's login name.

        Unknown, machine, locked and inactive users and wrong passwords get the same answer.
        A success, in one transaction: the browser gets a new id (its sessions and flows move
        to it), the user's session records the check, the flow moves on, and the
        application's request is linked when nothing else is needed.
        """
        flow = await self._load(browser_cookie, flow_id)
        if flow.step is not FlowStep.PASSWORD or not flow.login_name:
            return Outcome(await self._render(flow))
        view = await self._view(flow)
        language = str(flow.internal.get("language", ""))
        try:
            policy = await self._sessions.password_login_policy(flow.org_id or None)
            checked = await self._checker.verify(
                flow.login_name, password, request, policy=policy, org_id=flow.org_id or None
            )
        except (Unauthenticated, PreconditionFailed, InvalidArgument) as exc:
            await self._count_attempt(flow, _PASSWORD)
            return Outcome(AskPassword(view, flow.login_name, language=language, error=exc))
        cookie = new_browser_cookie()
        now = checked.context.now()
        stored = await self._request_of(flow)
        async with self._store.transaction() as tx:
            session = await self._sign_in(tx, flow, checked, cookie, request, now)
            flow = replace(
                flow,
                browser_digest=_digest(cookie),
                user_id=session.user_id,
                session_id=session.id,
                checks={**flow.checks, _PASSWORD: now},
            )
            flow, step = await self._finish(tx, flow, stored, session, now)
            await tx.login_flows.update(flow)
        return Outcome(step, browser_cookie=cookie)

    async def change_password(
        self,
        browser_cookie: str,
        flow_id: str,
        new_password: str,
        repeat: str,
        request: RequestMeta,
    ) -> Outcome:
        """The new password a user must choose, right after proving the current one."""
        flow = await self._load(browser_cookie, flow_id)
        if flow.step is not FlowStep.CHANGE_PASSWORD or flow.session_id is None:
            return Outcome(await self._render(flow))
        session = await self._sessions.find_browser_session(browser_cookie, flow.session_id)
        if session is None:
            return await self._restart(flow)
        now = self._clock.now()
        if not may_change_password(session, now=now):
            flow = _moved(flow, FlowStep.PASSWORD, now, language=session.preferred_language)
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            error = ReauthRequired("session.reauth_required", "enter your current password again")
            view = await self._view(flow)
            again = AskPassword(view, flow.login_name, session.preferred_language, error=error)
            return Outcome(again)
        try:
            await self._sessions.check_new_password(session, new_password, repeat)
        except ZituiError as exc:
            return Outcome(await self._render(flow, error=exc))
        password_hash = await self._hasher.hash(new_password)
        stored = await self._request_of(flow)
        async with self._store.transaction() as tx:
            changed = await self._sessions.set_required_password(
                tx, session, password_hash, request, at=now
            )
            flow, step = await self._finish(tx, flow, stored, changed, now)
            await tx.login_flows.update(flow)
        return Outcome(step)

    async def sign_in_console(
        self, login_name: str, password: str, request: RequestMeta
    ) -> CheckedUser:
        """The console's sign-in: the same password step, on a flow of its own (no browser).

        The flow is stored finished, as the record of this sign-in's checks.
        """
        async with self._store.reader() as tx:
            policy = await login_policy(tx, None)
        checked = await self._checker.verify(login_name, password, request, policy=policy)
        now = checked.context.now()
        user = checked.user
        flow = StoredLoginFlow(
            id=new_id(),
            kind="console",
            browser_digest="",
            auth_request_id=None,
            org_id="",
            user_id=user.id,
            session_id=None,
            login_name=login_name[:400],
            client_ip=request.ip[:64],
            step=FlowStep.CHANGE_PASSWORD if user.password_change_required else FlowStep.DONE,
            checks={_PASSWORD: now},
            attempts={},
            internal={},
            created_at=now,
            updated_at=now,
            expires_at=now + FLOW_LIFETIME,
        )
        async with self._store.transaction() as tx:
            await self._checker.confirm(tx, checked, payload={"origin": request.origin})
            await tx.login_flows.insert(flow)
        return checked

    # --- moving on -------------------------------------------------------------------

    async def _sign_in(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        checked: CheckedUser,
        cookie: str,
        request: RequestMeta,
        now: datetime,
    ) -> Session:
        """Inside the transaction: a new browser id, and the user's session on it."""
        new_digest = _digest(cookie)
        await tx.sessions.move_browser(flow.browser_digest, new_digest)
        await tx.login_flows.move_browser(flow.browser_digest, new_digest)
        return await start_session(
            tx, self._checker, new_digest, checked, request, flow_id=flow.id
        )

    async def _finish(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        stored: StoredAuthRequest | None,
        session: Session,
        now: datetime,
    ) -> tuple[StoredLoginFlow, Step]:
        """Inside the transaction: what a proven session does next."""
        flow = replace(flow, session_id=session.id, user_id=session.user_id)
        view = await self._view(flow)
        language = session.preferred_language
        if session.password_change_required:
            flow = _moved(flow, FlowStep.CHANGE_PASSWORD, now)
            rules = await password_policy(tx, session.org_id)
            change = ChangePassword(
                view, session.login_name, session.display_name, rules, language=language
            )
            return flow, change
        if stored is not None:
            refusal = await self._auth_requests.link_within(tx, stored, session, now=now)
            if refusal is not None:
                internal = {**flow.internal, "refusal": [refusal.code, refusal.message]}
                flow = _moved(replace(flow, internal=internal), FlowStep.REFUSED, now)
                return flow, Refused(view, refusal.code, refusal.message, language=language)
        return _moved(flow, FlowStep.DONE, now), Done(view, session.user_id, language=language)

    async def _render(
        self,
        flow: StoredLoginFlow,
        *,
        accounts: list[Account] | None = None,
        error: ZituiError | None = None,
    ) -> Step:
        """The page for the flow's stored step."""
        view = await self._view(flow)
        language = str(flow.internal.get("language", ""))
        match flow.step:
            case FlowStep.CHOOSE_ACCOUNT:
                if accounts is None:
                    stored = await self._request_of(flow)
                    accounts = await self._accounts_of(flow, stored)
                if accounts:
                    return ChooseAccount(view, tuple(accounts))
                return AskLoginName(view, login_name=_hint_of(view))
            case FlowStep.PASSWORD:
                return AskPassword(view, flow.login_name, language=language, error=error)
            case FlowStep.CHANGE_PASSWORD:
                return await self._change_step(flow, view, error)
            case FlowStep.DONE:
                return Done(view, flow.user_id or "")
            case FlowStep.REFUSED:
                code, message = flow.internal.get("refusal", ["", ""])
                return Refused(view, str(code), str(message))
            case _:
                return AskLoginName(view, login_name=flow.login_name, error=error)

    async def _change_step(
        self, flow: StoredLoginFlow, view: FlowView, error: ZituiError | None
    ) -> Step:
        session = await self._session_of(flow)
        if session is None:
            return AskLoginName(view, login_name=flow.login_name)
        async with self._store.reader() as tx:
            policy = await password_policy(tx, session.org_id)
        return ChangePassword(
            view,
            session.login_name,
            session.display_name,
            policy,
            language=session.preferred_language,
            error=error,
        )

    async def _restart(self, flow: StoredLoginFlow) -> Outcome:
        """The flow's session ended elsewhere: ask for a login name again."""
        flow = replace(flow, user_id=None, session_id=None)
        flow = _moved(flow, FlowStep.LOGIN_NAME, self._clock.now(), language="")
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(await self._render(flow))

    # --- reading -------------------------------------------------------------------

    async def _load(self, browser_cookie: str, flow_id: str) -> StoredLoginFlow:
        """The flow, if it belongs to this browser and has not expired."""
        digest = self._browser_digest(browser_cookie)
        async with self._store.reader() as tx:
            flow = await tx.login_flows.find(flow_id) if flow_id else None
        if flow is None or flow.kind != "login" or not tokens.equal(flow.browser_digest, digest):
            raise NotFound("login.flow_not_found", "this sign-in is unknown to this browser")
        if flow.expires_at <= self._clock.now():
            raise FlowExpired("login.flow_expired", "this sign-in has expired")
        return flow

    async def _view(self, flow: StoredLoginFlow) -> FlowView:
        auth_request: AuthRequest | None = None
        if flow.auth_request_id:
            auth_request = await self._auth_requests.get_auth_request(flow.auth_request_id)
        return FlowView.of(flow, auth_request)

    async def _request_of(self, flow: StoredLoginFlow) -> StoredAuthRequest | None:
        if not flow.auth_request_id:
            return None
        stored = await self._auth_requests.find_pending(flow.auth_request_id)
        if stored is None:
            raise FlowExpired("auth_request.expired", "this sign-in request has expired")
        return stored

    async def _session_of(self, flow: StoredLoginFlow) -> Session | None:
        if flow.session_id is None:
            return None
        async with self._store.reader() as tx:
            session = await tx.sessions.find(flow.session_id, browser_digest=flow.browser_digest)
        return session

    async def _accounts_of(
        self, flow: StoredLoginFlow, stored: StoredAuthRequest | None
    ) -> list[Account]:
        async with self._store.reader() as tx:
            sessions = await tx.sessions.list_for_browser(flow.browser_digest)
        return await self._judge(sessions, Demand.of(stored), self._clock.now())

    async def _accounts(self, browser_cookie: str, demand: Demand, now: datetime) -> list[Account]:
        sessions = await self._sessions.list_browser_sessions(browser_cookie)
        return await self._judge(sessions, demand, now)

    async def _judge(self, sessions: list[Session], demand: Demand, now: datetime) -> list[Account]:
        """The accounts in scope, each marked by the one reuse rule."""
        idle = self._sessions.idle_timeout
        shown = [
            s for s in sessions if alive(s, now=now, idle_timeout=idle) and in_scope(s, demand)
        ]
        orgs = {s.org_id for s in shown}
        policies = {org: await self._sessions.login_policy(org) for org in orgs}
        return [
            Account(s, reusable(s, demand, policy=policies[s.org_id], now=now, idle_timeout=idle))
            for s in shown
        ]

    async def _count_attempt(self, flow: StoredLoginFlow, factor: str) -> None:
        attempts = {**flow.attempts, factor: int(flow.attempts.get(factor, 0)) + 1}
        flow = replace(flow, attempts=attempts, updated_at=self._clock.now())
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)

    @staticmethod
    def _browser_digest(browser_cookie: str) -> str:
        if len(browser_cookie) != 43:
            raise InvalidArgument("session.browser_invalid", "this browser has no valid cookie")
        return _digest(browser_cookie)


def _moved(
    flow: StoredLoginFlow, step: FlowStep, now: datetime, *, language: str | None = None
) -> StoredLoginFlow:
    internal = dict(flow.internal)
    if language is not None:
        internal["language"] = language
    return replace(flow, step=step, internal=internal, updated_at=now)


def _expiry(now: datetime, stored: StoredAuthRequest | None) -> datetime:
    end = now + FLOW_LIFETIME
    return min(end, stored.expires_at) if stored is not None else end


def _hint(stored: StoredAuthRequest | None, sessions: list[Session]) -> str:
    """The login name to pre-fill: the request's login_hint, else the id_token_hint's user
    when this browser knows them."""
    if stored is None:
        return ""
    if stored.login_hint:
        return stored.login_hint[:400]
    known = [s.login_name for s in sessions if s.user_id == stored.id_token_hint_subject]
    return known[0] if stored.id_token_hint_subject and known else ""


def _hint_of(view: FlowView) -> str:
    return view.auth_request.login_hint if view.auth_request else ""


