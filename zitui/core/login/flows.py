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

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from zitui.core.clock import Clock
from zitui.core.context import RequestMeta
from zitui.core.credentials import CheckedUser, PasswordChecker, login_policy
from zitui.core.crypto import tokens
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.ids import new_id
from zitui.core.login.reuse import Demand, alive, in_scope, reusable
from zitui.core.login.steps import (
    SHOWN,
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
    shown_of,
)
from zitui.core.oidc.auth_requests import AuthRequestService
from zitui.core.policies import LoginPolicy
from zitui.core.sessions import (
    SessionService,
    check_login_name,
    may_change_password,
    new_browser_cookie,
    require_passwords,
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
from zitui.records import FlowStep, Session, StoredAuthRequest, StoredLoginFlow
from zitui.store import Repositories, Store

FLOW_LIFETIME = timedelta(hours=1)
# Steps a new login name or account choice may start again from.
_BEFORE_PROOF = frozenset({FlowStep.LOGIN_NAME, FlowStep.CHOOSE_ACCOUNT, FlowStep.PASSWORD})
_PASSWORD = "password"


def _digest(browser_cookie: str) -> str:
    return tokens.digest(browser_cookie)


@dataclass(frozen=True)
class _Loaded:
    """A flow read for one page, in one snapshot: the flow, and when the step needs them the
    auth request it serves and the login policy of its organisation."""

    flow: StoredLoginFlow
    stored: StoredAuthRequest | None = None
    policy: LoginPolicy | None = None

    def view(self, flow: StoredLoginFlow | None = None) -> FlowView:
        return FlowView.of(flow or self.flow)


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
        stored: StoredAuthRequest | None = None
        internal: dict[str, object] = {}
        async with self._store.reader() as tx:
            if auth_request_id:
                stored, shown = await self._auth_requests.read_pending(tx, auth_request_id)
                internal[SHOWN] = shown_of(shown)
                open_flow = await tx.login_flows.find_latest(digest, stored.id, now=now)
                if open_flow is not None and open_flow.step in _BEFORE_PROOF:
                    return Outcome(await self._render(_Loaded(open_flow, stored)))
            if self._max_open and request.ip:
                open_here = await tx.login_flows.count_open_from(request.ip, now=now)
                if open_here >= self._max_open:
                    raise RateLimited(
                        "login.too_many_flows",
                        "too many sign-ins were started from this address",
                        retry_after=60,
                    )
            sessions = await tx.sessions.list_for_browser(digest)
        accounts = await self._judge(sessions, Demand.of(stored), now)
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
            internal=internal,
            created_at=now,
            updated_at=now,
            expires_at=_expiry(now, stored),
        )
        async with self._store.transaction() as tx:
            await tx.login_flows.insert(flow)
        return Outcome(await self._render(_Loaded(flow, stored), accounts=accounts))

    async def show(self, browser_cookie: str, flow_id: str) -> Outcome:
        """The flow's current step, for a page that is only loaded (GET); nothing changes."""
        return Outcome(await self._render(await self._load(browser_cookie, flow_id)))

    async def ask_login_name(self, browser_cookie: str, flow_id: str) -> Outcome:
        """"Use another account": the login-name form, while the flow has proven nothing."""
        loaded = await self._load(browser_cookie, flow_id)
        if loaded.flow.step not in _BEFORE_PROOF:
            return Outcome(await self._render(loaded))
        view = loaded.view()
        return Outcome(AskLoginName(view, login_name=view.login_hint))

    async def submit_login_name(
        self, browser_cookie: str, flow_id: str, login_name: str
    ) -> Outcome:
        """The login name. It looks no user up: the answer and its cost are the same for
        every name; the password step decides."""
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        flow = loaded.flow
        if flow.step not in _BEFORE_PROOF:
            return Outcome(await self._render(loaded))
        try:
            name = check_login_name(login_name)
            require_passwords(await self._policy(loaded))
        except (InvalidArgument, PreconditionFailed) as exc:
            return Outcome(AskLoginName(loaded.view(), login_name=login_name, error=exc))
        flow = replace(flow, login_name=name, user_id=None, session_id=None)
        flow = _moved(flow, FlowStep.PASSWORD, self._clock.now(), language="")
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(AskPassword(loaded.view(flow), login_name=name))

    async def choose_account(
        self, browser_cookie: str, flow_id: str, session_id: str, request: RequestMeta
    ) -> Outcome:
        """Continue as one of the browser's accounts; a password only when the reuse rule
        asks for one."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow, stored = loaded.flow, loaded.stored
        if flow.step not in _BEFORE_PROOF:
            return Outcome(await self._render(loaded))
        now = self._clock.now()
        demand = Demand.of(stored)
        session = await self._sessions.find_browser_session(browser_cookie, session_id)
        if session is None or not in_scope(session, demand):
            return Outcome(await self._render(loaded))
        policy = await self._sessions.login_policy(session.org_id)
        idle = self._sessions.idle_timeout
        flow = replace(flow, login_name=session.login_name, user_id=session.user_id)
        if reusable(session, demand, policy=policy, now=now, idle_timeout=idle):
            flow = replace(flow, session_id=session.id)
            async with self._store.transaction() as tx:
                await tx.sessions.touch(session.id, at=now)
                flow, step = await self._finish(tx, replace(loaded, flow=flow), session, now)
                await tx.login_flows.update(flow)
            return Outcome(step)
        if may_change_password(session, now=now):
            flow = _moved(replace(flow, session_id=session.id), FlowStep.CHANGE_PASSWORD, now)
        else:
            language = session.preferred_language
            flow = _moved(flow, FlowStep.PASSWORD, now, language=language)
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(await self._render(replace(loaded, flow=flow)))

    async def submit_password(
        self, browser_cookie: str, flow_id: str, password: str, request: RequestMeta
    ) -> Outcome:
        """Prove the password of the flow's login name.

        Unknown, machine, locked and inactive users and wrong passwords get the same answer.
        A success, in one transaction: the browser gets a new id (its sessions and flows move
        to it), the user's session records the check, the flow moves on, and the
        application's request is linked when nothing else is needed.
        """
        loaded = await self._load(browser_cookie, flow_id, request=True, policy=True)
        flow = loaded.flow
        if flow.step is not FlowStep.PASSWORD or not flow.login_name:
            return Outcome(await self._render(loaded))
        try:
            policy = require_passwords(await self._policy(loaded))
            checked = await self._checker.verify(
                flow.login_name, password, request, policy=policy, org_id=flow.org_id or None
            )
        except (Unauthenticated, PreconditionFailed, InvalidArgument) as exc:
            await self._count_attempt(flow, _PASSWORD)
            return Outcome(await self._render(loaded, error=exc))
        cookie = new_browser_cookie()
        now = checked.context.now()
        async with self._store.transaction() as tx:
            session = await self._sign_in(tx, flow, checked, cookie, request)
            flow = replace(
                flow,
                browser_digest=_digest(cookie),
                checks={**flow.checks, _PASSWORD: now},
            )
            flow, step = await self._finish(tx, replace(loaded, flow=flow), session, now)
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
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step is not FlowStep.CHANGE_PASSWORD or flow.session_id is None:
            return Outcome(await self._render(loaded))
        session = await self._sessions.find_browser_session(browser_cookie, flow.session_id)
        now = self._clock.now()
        if session is None:
            flow = _moved(replace(flow, user_id=None, session_id=None), FlowStep.LOGIN_NAME, now)
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            return Outcome(await self._render(replace(loaded, flow=flow)))
        if not may_change_password(session, now=now):
            flow = _moved(flow, FlowStep.PASSWORD, now, language=session.preferred_language)
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            error = ReauthRequired("session.reauth_required", "enter your current password again")
            return Outcome(await self._render(replace(loaded, flow=flow), error=error))
        try:
            await self._sessions.check_new_password(session, new_password, repeat)
        except ZituiError as exc:
            return Outcome(await self._render(loaded, error=exc))
        password_hash = await self._hasher.hash(new_password)
        async with self._store.transaction() as tx:
            changed = await self._sessions.set_required_password(
                tx, session, password_hash, request, at=now
            )
            flow, step = await self._finish(tx, loaded, changed, now)
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
    ) -> Session:
        """Inside the transaction: a new browser id, and the user's session on it."""
        new_digest = _digest(cookie)
        await tx.sessions.move_browser(flow.browser_digest, new_digest)
        await tx.login_flows.move_browser(flow.browser_digest, new_digest)
        return await start_session(
            tx, self._checker, new_digest, checked, request, flow_id=flow.id
        )

    async def _finish(
        self, tx: Repositories, loaded: _Loaded, session: Session, now: datetime
    ) -> tuple[StoredLoginFlow, Step]:
        """Inside the transaction: what a proven session does next."""
        flow = replace(loaded.flow, session_id=session.id, user_id=session.user_id)
        view = loaded.view(flow)
        language = session.preferred_language
        if session.password_change_required:
            flow = _moved(flow, FlowStep.CHANGE_PASSWORD, now)
            rules = await password_policy(tx, session.org_id)
            change = ChangePassword(
                view, session.login_name, session.display_name, rules, language=language
            )
            return flow, change
        if loaded.stored is not None:
            stored = loaded.stored
            refusal = await self._auth_requests.link_within(tx, stored, session, now=now)
            if refusal is not None:
                internal = {**flow.internal, "refusal": [refusal.code, refusal.message]}
                flow = _moved(replace(flow, internal=internal), FlowStep.REFUSED, now)
                return flow, Refused(view, refusal.code, refusal.message, language=language)
        return _moved(flow, FlowStep.DONE, now), Done(view, session.user_id, language=language)

    async def _render(
        self,
        loaded: _Loaded,
        *,
        accounts: list[Account] | None = None,
        error: ZituiError | None = None,
    ) -> Step:
        """The page for the flow's stored step."""
        flow, view = loaded.flow, loaded.view()
        language = str(flow.internal.get("language", ""))
        match flow.step:
            case FlowStep.CHOOSE_ACCOUNT:
                if accounts is None:
                    accounts = await self._accounts_of(flow)
                if accounts:
                    return ChooseAccount(view, tuple(accounts))
                return AskLoginName(view, login_name=view.login_hint)
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
        if flow.session_id is None:
            return AskLoginName(view, login_name=flow.login_name)
        async with self._store.reader() as tx:
            session = await tx.sessions.find(flow.session_id, browser_digest=flow.browser_digest)
            rules = await password_policy(tx, session.org_id) if session else None
        if session is None or rules is None:
            return AskLoginName(view, login_name=flow.login_name)
        return ChangePassword(
            view,
            session.login_name,
            session.display_name,
            rules,
            language=session.preferred_language,
            error=error,
        )

    # --- reading -------------------------------------------------------------------

    async def _load(
        self, browser_cookie: str, flow_id: str, *, request: bool = False, policy: bool = False
    ) -> _Loaded:
        """The flow, if it belongs to this browser and has not expired; with its auth request
        (which must still be pending) and its organisation's login policy when asked."""
        digest = self._browser_digest(browser_cookie)
        async with self._store.reader() as tx:
            flow = await tx.login_flows.find(flow_id) if flow_id else None
            ours = flow is not None and tokens.equal(flow.browser_digest, digest)
            if flow is None or flow.kind != "login" or not ours:
                raise NotFound("login.flow_not_found", "this sign-in is unknown to this browser")
            if flow.expires_at <= self._clock.now():
                raise FlowExpired("login.flow_expired", "this sign-in has expired")
            rules = await login_policy(tx, flow.org_id or None) if policy else None
            if not request or not flow.auth_request_id:
                return _Loaded(flow, None, rules)
            try:
                stored = await self._auth_requests.load_pending(tx, flow.auth_request_id)
            except NotFound as exc:  # purged with its request: over either way
                raise FlowExpired("login.flow_expired", "this sign-in has expired") from exc
        return _Loaded(flow, stored, rules)

    async def _policy(self, loaded: _Loaded) -> LoginPolicy:
        """The login policy read with the flow, or read now."""
        if loaded.policy is not None:
            return loaded.policy
        return await self._sessions.login_policy(loaded.flow.org_id or None)

    async def _accounts_of(self, flow: StoredLoginFlow) -> list[Account]:
        async with self._store.reader() as tx:
            sessions = await tx.sessions.list_for_browser(flow.browser_digest)
            stored = None
            if flow.auth_request_id:
                stored = await self._auth_requests.load_pending(tx, flow.auth_request_id)
        return await self._judge(sessions, Demand.of(stored), self._clock.now())

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





