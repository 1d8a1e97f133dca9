"""LoginFlowService: the hosted login (and the console's sign-in) as one stored flow.

```mermaid
stateDiagram-v2
    [*] --> choose_account: start, the browser has accounts in scope (no prompt=login)
    [*] --> login_name: start, otherwise
    [*] --> register: start, prompt=create (self_service.py)
    choose_account --> done: an account the reuse rule accepts
    choose_account --> password: an account that must prove its password again
    choose_account --> external: an account whose last sign-in was at a provider, there again
    choose_account --> change_password: an account that must change its password
    choose_account --> login_name: another account
    login_name --> password: a login name (the same answer for every name)
    password --> mfa_verify: proven; second factors whose check is due (factor_steps.py)
    password --> mfa_prompt: proven; no second factor, MFA forced or the last skip old
    login_name --> done: a passkey alone (key_steps.py); or on to verify_email / password change
    mfa_prompt --> mfa_totp: TOTP chosen
    mfa_prompt --> mfa_key: a security key or passkey chosen
    mfa_prompt --> mfa_verify: a code by email or SMS chosen (its first code sent)
    mfa_totp --> recovery_codes: the first factor set up
    mfa_key --> recovery_codes: the first factor set up
    mfa_verify --> recovery_codes: a code factor set up
    mfa_verify --> done: a factor or a recovery code proven
    login_name --> register: a name whose domain discovers an organisation, no user (discovery.py)
    login_name --> external: a provider's button (external_steps.py has its own diagram)
    password --> password: a wrong password (the same answer for unknown users)
    password --> verify_email: proven; a registered user who never verified (self_service.py)
    password --> change_password: the password must be changed
    password --> done: proven; the application's request is linked
    password --> refused: proven, but the application refuses this user
    change_password --> done: a new password
    change_password --> refused: a new password, but the application refuses this user
    done --> [*]
    refused --> [*]
```

The steps of registration, email verification, password reset and initialisation are in
`SelfServiceSteps` (self_service.py), those of second factors in `FactorSteps`
(factor_steps.py, verify_steps.py, key_steps.py), and what all steps share in `FlowBase` (base.py);
docs/login.md draws the whole flow.

Each method is what one page submission calls; it answers with the next `Step`. A password
sign-in writes once after the password check (session, new browser id, flow and the
application's request in one transaction); the OIDC callback writes the code.
"""

from __future__ import annotations

from dataclasses import replace

from zitui.core.context import RequestMeta
from zitui.core.credentials import CheckedUser, login_policy
from zitui.core.login.base import (
    BACK_TO_NAME,
    BEFORE_PROOF,
    DISCOVERED,
    PASSWORD_CHECK,
    REGISTRATION_CLOSED,
    Loaded,
    cookie_digest,
    hint_of,
    moved,
    new_flow,
    undiscovered,
)
from zitui.core.login.discovery import discovered_org
from zitui.core.login.external_steps import ExternalSteps, idp_of_scopes
from zitui.core.login.returning import ReturningSteps
from zitui.core.login.reuse import Demand, in_scope, reusable
from zitui.core.login.second_factor import external_sign_in
from zitui.core.login.self_service import SelfServiceSteps
from zitui.core.login.steps import (
    SHOWN,
    Outcome,
    shown_of,
)
from zitui.core.policies import LoginPolicy
from zitui.core.sessions import (
    check_login_name,
    may_change_password,
    new_browser_cookie,
    require_passwords,
    start_session,
)
from zitui.errors import (
    InvalidArgument,
    PreconditionFailed,
    ReauthRequired,
    Unauthenticated,
    ZituiError,
)
from zitui.records import (
    FlowStep,
    Session,
    StoredAuthRequest,
    StoredLoginFlow,
)
from zitui.store import Repositories


class LoginFlowService(SelfServiceSteps, ReturningSteps, ExternalSteps):
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
                if open_flow is not None and open_flow.step in BEFORE_PROOF:
                    return Outcome(await self._render(Loaded(open_flow, stored)))
            await self._refuse_over_cap(tx, request.ip, now)
            sessions = await tx.sessions.list_for_browser(digest)
            policy = await login_policy(tx, stored.org_id if stored else None)
        accounts = await self._judge(sessions, Demand.of(stored), now)
        fresh = stored is not None and "login" in stored.prompt
        step = FlowStep.CHOOSE_ACCOUNT if accounts and not fresh else FlowStep.LOGIN_NAME
        if stored is not None and "create" in stored.prompt:
            step = FlowStep.REGISTER if policy.allow_register else FlowStep.NOT_ALLOWED
            internal["refusal"] = list(REGISTRATION_CLOSED)
        login_name = hint_of(stored, [a.session for a in accounts])
        flow = new_flow(
            digest,
            step,
            now,
            client_ip=request.ip,
            stored=stored,
            login_name=login_name,
            internal=internal,
        )
        async with self._store.transaction() as tx:
            await tx.login_flows.insert(flow)
        loaded = Loaded(flow, stored, policy)
        idp_id = ""
        if stored is not None and "select_account" not in stored.prompt:
            idp_id = idp_of_scopes(stored.scopes)
        if idp_id and step is not FlowStep.REGISTER:
            # ZITADEL's RedirectToExternalIDP: the request names its provider by scope.
            try:
                return Outcome(await self._go_to_provider(loaded, idp_id))
            except ZituiError as exc:
                flow = moved(flow, FlowStep.LOGIN_NAME, now)
                async with self._store.transaction() as tx:
                    await tx.login_flows.update(flow)
                loaded = replace(loaded, flow=flow)
                return Outcome(await self._ask_login_name(loaded, login_name=login_name, error=exc))
        return Outcome(await self._render(loaded, accounts=accounts))

    async def show(self, browser_cookie: str, flow_id: str) -> Outcome:
        """The flow's current step, for a page that is only loaded (GET); nothing changes."""
        return Outcome(await self._render(await self._load(browser_cookie, flow_id)))

    async def ask_login_name(self, browser_cookie: str, flow_id: str) -> Outcome:
        """ "Use another account": the login-name form, while the flow has proven nothing
        (the registration form and its refusal lead back here too)."""
        loaded = await self._load(browser_cookie, flow_id)
        if loaded.flow.step not in BACK_TO_NAME:
            return Outcome(await self._render(loaded))
        discovered = DISCOVERED in loaded.flow.internal
        loaded = await self._undiscovered(loaded)
        if loaded.flow.step not in BEFORE_PROOF or discovered:
            flow = moved(loaded.flow, FlowStep.LOGIN_NAME, self._clock.now())
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            loaded = replace(loaded, flow=flow)
        return Outcome(await self._ask_login_name(loaded, login_name=loaded.view().login_hint))

    async def submit_login_name(
        self, browser_cookie: str, flow_id: str, login_name: str
    ) -> Outcome:
        """The login name. It looks no user up: the answer and its cost are the same for
        every name; the password step decides.

        The one exception is domain discovery (discovery.py, ZITADEL's behaviour): when the
        request names no organisation and the name's domain discovers one, the flow moves to
        it, and to its registration with the name as email when no user may sign in with the
        name and that organisation allows registration.
        """
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        if loaded.flow.step not in BEFORE_PROOF:
            return Outcome(await self._render(loaded))
        loaded = await self._undiscovered(loaded)
        flow = loaded.flow
        try:
            name = check_login_name(login_name)
            require_passwords(await self._policy(loaded))
        except (InvalidArgument, PreconditionFailed) as exc:
            return Outcome(await self._ask_login_name(loaded, login_name=login_name, error=exc))
        flow = replace(flow, login_name=name, user_id=None, session_id=None)
        flow, step = await self._discover(flow, await self._policy(loaded))
        flow = moved(flow, step, self._clock.now(), language="")
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(await self._render(Loaded(flow, loaded.stored)))

    async def _discover(
        self, flow: StoredLoginFlow, policy: LoginPolicy
    ) -> tuple[StoredLoginFlow, FlowStep]:
        """The flow and its next step once domain discovery had its say on the login name.

        A user of another organisation who may sign in with the name keeps the flow as it
        is; only for a name at a discovering domain does the answer depend on the user.
        """
        if flow.org_id:
            return flow, FlowStep.PASSWORD
        async with self._store.reader() as tx:
            found = await discovered_org(tx, flow.login_name)
        if found is None:
            return flow, FlowStep.PASSWORD
        user = await self._checker.lookup(flow.login_name, policy=policy, org_id=None)
        if user is not None and user.org_id != found.org_id:
            return flow, FlowStep.PASSWORD
        internal = {**flow.internal, DISCOVERED: found.org_id}
        flow = replace(flow, org_id=found.org_id, internal=internal)
        register = user is None and found.offers_registration
        return flow, FlowStep.REGISTER if register else FlowStep.PASSWORD

    async def _undiscovered(self, loaded: Loaded) -> Loaded:
        """The flow as before a previous name discovered an organisation (a new name is
        discovered afresh), with the instance's login policy."""
        if DISCOVERED not in loaded.flow.internal:
            return loaded
        policy = await self._sessions.login_policy(None)
        return Loaded(undiscovered(loaded.flow), loaded.stored, policy)

    async def choose_account(
        self, browser_cookie: str, flow_id: str, session_id: str, request: RequestMeta
    ) -> Outcome:
        """Continue as one of the browser's accounts; a password only when the reuse rule
        asks for one."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow, stored = loaded.flow, loaded.stored
        if flow.step not in BEFORE_PROOF:
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
        if external_sign_in(session) and session.idp_id:
            again = await self._provider_again(replace(loaded, flow=flow), session.idp_id)
            if again is not None:
                return again
        if may_change_password(session, now=now):
            flow = moved(replace(flow, session_id=session.id), FlowStep.CHANGE_PASSWORD, now)
        else:
            language = session.preferred_language
            flow = moved(flow, FlowStep.PASSWORD, now, language=language)
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
            await self._count_attempt(flow, PASSWORD_CHECK)
            return Outcome(await self._render(loaded, error=exc))
        cookie = new_browser_cookie()
        now = checked.context.now()
        async with self._store.transaction() as tx:
            session = await self._sign_in(tx, flow, checked, cookie, request)
            flow = replace(
                flow,
                browser_digest=cookie_digest(cookie),
                checks={**flow.checks, PASSWORD_CHECK: now},
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
            flow = moved(replace(flow, user_id=None, session_id=None), FlowStep.LOGIN_NAME, now)
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            return Outcome(await self._render(replace(loaded, flow=flow)))
        if not may_change_password(session, now=now):
            flow = moved(flow, FlowStep.PASSWORD, now, language=session.preferred_language)
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
        self, login_name: str, password: str, request: RequestMeta, *, code: str = ""
    ) -> CheckedUser:
        """The console's sign-in: the same password step, on a flow of its own (no browser),
        and the second factor a terminal can give: a code of the authenticator app, or a
        recovery code (`console_second_factor`).

        The flow is stored finished, as the record of this sign-in's checks.
        """
        async with self._store.reader() as tx:
            policy = await login_policy(tx, None)
        checked = await self._checker.verify(login_name, password, request, policy=policy)
        await self.console_second_factor(checked.user, code, request)
        now = checked.context.now()
        user = checked.user
        step = FlowStep.CHANGE_PASSWORD if user.password_change_required else FlowStep.DONE
        flow = new_flow(
            "",
            step,
            now,
            client_ip=request.ip,
            login_name=login_name,
            user_id=user.id,
            checks={PASSWORD_CHECK: now},
            kind="console",
        )
        async with self._store.transaction() as tx:
            user = await self._checker.confirm(tx, checked, payload={"origin": request.origin})
            if user.password_change_required:
                flow = replace(flow, step=FlowStep.CHANGE_PASSWORD)
            await tx.login_flows.insert(flow)
        return replace(checked, user=user)

    async def _sign_in(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        checked: CheckedUser,
        cookie: str,
        request: RequestMeta,
    ) -> Session:
        """Inside the transaction: a new browser id, and the user's session on it."""
        new_digest = cookie_digest(cookie)
        await tx.sessions.move_browser(flow.browser_digest, new_digest)
        await tx.login_flows.move_browser(flow.browser_digest, new_digest)
        return await start_session(tx, self._checker, new_digest, checked, request, flow_id=flow.id)
