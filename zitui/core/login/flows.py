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

from zitui.core import validation
from zitui.core.access import ACCESS_ENDED, end_user_access
from zitui.core.audit import record
from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.credentials import CheckedUser, PasswordChecker, login_policy, user_context
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
    Delivery,
    Done,
    EmailVerified,
    FlowView,
    NotAllowed,
    Outcome,
    Refused,
    Register,
    Registration,
    SetPassword,
    Step,
    VerifyEmail,
    shown_of,
)
from zitui.core.oidc.auth_requests import AuthRequestService
from zitui.core.policies import (
    LoginPolicy,
    PasswordComplexityPolicy,
    PrivacyPolicy,
    from_settings,
)
from zitui.core.sessions import (
    SessionService,
    check_login_name,
    may_change_password,
    new_browser_cookie,
    require_passwords,
    start_session,
)
from zitui.core.throttle import Throttle, ThrottleLimits
from zitui.core.user_base import check_new_username
from zitui.core.user_codes import CodeMailer, Purpose, wrong_code
from zitui.core.users import NewHumanUser, add_human_user, password_policy
from zitui.errors import (
    AlreadyExists,
    FlowExpired,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ReauthRequired,
    Unauthenticated,
    ZituiError,
)
from zitui.records import (
    FlowStep,
    Session,
    StoredAuthRequest,
    StoredLoginFlow,
    User,
    UserState,
)
from zitui.store import Repositories, Store

FLOW_LIFETIME = timedelta(hours=1)
# Mails with a code one address (or login name) may ask for within the throttle's window.
MAILS_PER_WINDOW = 5
# Steps a new login name or account choice may start again from.
_BEFORE_PROOF = frozenset({FlowStep.LOGIN_NAME, FlowStep.CHOOSE_ACCOUNT, FlowStep.PASSWORD})
# Steps the login-name form may be asked from: the registration form ("Already have an
# account?") and its refusal ("Back to sign-in") proved nothing either.
_BACK_TO_NAME = _BEFORE_PROOF | {FlowStep.REGISTER, FlowStep.NOT_ALLOWED}
_PASSWORD = "password"
# Keys of a flow's internal data: the user a code step is for (kept apart from `user_id`,
# which a password reset must not set before the code proves it), and the last mail's id.
SUBJECT = "subject"
MESSAGE = "message_id"
# The organisation whose password rules a reset page lists (see `request_password_reset`).
RULES_ORG = "rules_org"
_REGISTRATION_CLOSED = ("registration.disabled", "registration is not open here")
_RESET_CLOSED = ("password.reset_disabled", "the password cannot be reset here")
_PURPOSES = {
    FlowStep.VERIFY_EMAIL: Purpose.EMAIL,
    FlowStep.RESET_PASSWORD: Purpose.RESET,
    FlowStep.INIT_USER: Purpose.INIT,
}
_STEP_OF = {purpose: step for step, purpose in _PURPOSES.items()}
_INITIAL = UserState.INITIAL


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
        codes: CodeMailer | None = None,
        limits: ThrottleLimits | None = None,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._clock = clock
        self._sessions = sessions
        self._auth_requests = auth_requests
        self._checker = checker or PasswordChecker(store, hasher, clock)
        self._max_open = max_open_flows_per_address
        self._codes = codes
        limits = limits or ThrottleLimits()
        # Codes are guessed like passwords; mails are sent at most a few times per window.
        self._code_throttle = Throttle(store, clock, limits, purpose="otp")
        self._mail_throttle = Throttle(
            store, clock, replace(limits, name_attempts=MAILS_PER_WINDOW), purpose="resend"
        )
        self._register_throttle = Throttle(store, clock, limits, purpose="register")

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
            await self._refuse_over_cap(tx, request.ip, now)
            sessions = await tx.sessions.list_for_browser(digest)
            policy = await login_policy(tx, stored.org_id if stored else None)
        accounts = await self._judge(sessions, Demand.of(stored), now)
        fresh = stored is not None and "login" in stored.prompt
        step = FlowStep.CHOOSE_ACCOUNT if accounts and not fresh else FlowStep.LOGIN_NAME
        if stored is not None and "create" in stored.prompt:
            step = FlowStep.REGISTER if policy.allow_register else FlowStep.NOT_ALLOWED
            internal["refusal"] = list(_REGISTRATION_CLOSED)
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
        return Outcome(await self._render(_Loaded(flow, stored, policy), accounts=accounts))

    async def show(self, browser_cookie: str, flow_id: str) -> Outcome:
        """The flow's current step, for a page that is only loaded (GET); nothing changes."""
        return Outcome(await self._render(await self._load(browser_cookie, flow_id)))

    async def ask_login_name(self, browser_cookie: str, flow_id: str) -> Outcome:
        """ "Use another account": the login-name form, while the flow has proven nothing
        (the registration form and its refusal lead back here too)."""
        loaded = await self._load(browser_cookie, flow_id)
        if loaded.flow.step not in _BACK_TO_NAME:
            return Outcome(await self._render(loaded))
        if loaded.flow.step not in _BEFORE_PROOF:
            flow = _moved(loaded.flow, FlowStep.LOGIN_NAME, self._clock.now())
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            loaded = replace(loaded, flow=flow)
        view = loaded.view()
        may_register = (await self._policy(loaded)).allow_register
        return Outcome(AskLoginName(view, login_name=view.login_hint, may_register=may_register))

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
            may_register = (await self._policy(loaded)).allow_register
            step = AskLoginName(
                loaded.view(), login_name=login_name, error=exc, may_register=may_register
            )
            return Outcome(step)
        flow = replace(flow, login_name=name, user_id=None, session_id=None)
        flow = _moved(flow, FlowStep.PASSWORD, self._clock.now(), language="")
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(await self._render(replace(loaded, flow=flow)))

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

    # --- registration, email verification, password reset, initialisation -----------

    async def ask_registration(self, browser_cookie: str, flow_id: str) -> Outcome:
        """ "Register": the form, while the flow has proven nothing and the policy allows it."""
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        if loaded.flow.step not in _BEFORE_PROOF | {FlowStep.REGISTER}:
            return Outcome(await self._render(loaded))
        policy = await self._policy(loaded)
        now = self._clock.now()
        step = FlowStep.REGISTER if policy.allow_register else FlowStep.NOT_ALLOWED
        internal = {**loaded.flow.internal, "refusal": list(_REGISTRATION_CLOSED)}
        flow = _moved(replace(loaded.flow, internal=internal), step, now)
        if flow.step is not loaded.flow.step:
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
        return Outcome(await self._render(replace(loaded, flow=flow)))

    async def register(
        self,
        browser_cookie: str,
        flow_id: str,
        values: Registration,
        password: str,
        repeat: str,
        request: RequestMeta,
    ) -> Outcome:
        """Create the account in the flow's organisation (else the instance's default one),
        initial until its email is verified, and mail the code in the same transaction.

        A refused form comes back with the field marked and every value but the passwords.
        """
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        flow = loaded.flow
        if flow.step is not FlowStep.REGISTER:
            return Outcome(await self._render(loaded))
        policy = await self._policy(loaded)
        if not policy.allow_register:
            return Outcome(NotAllowed(loaded.view(), *_REGISTRATION_CLOSED))
        values = _cleaned(values)
        async with self._store.reader() as tx:
            org_id = await _registration_org(tx, flow.org_id)
            rules = await password_policy(tx, org_id)
            try:
                new = await _checked_registration(tx, org_id, values, password, repeat, rules)
            except ZituiError as exc:
                return Outcome(await self._register_step(loaded, values, exc))
        await self._register_throttle.reserve(ip=request.ip)
        password_hash = await self._hasher.hash(password)
        now = self._clock.now()
        try:
            async with self._store.transaction() as tx:
                system = Context.system(self._clock, origin=request.origin)
                user = await add_human_user(
                    tx, system, org_id, new, password_hash=password_hash, state=UserState.INITIAL
                )
                await tx.users.accept_terms(user.id, at=now)
                ctx = user_context(self._clock, user, request)
                await record(
                    tx,
                    ctx,
                    "user.human.selfregistered",
                    aggregate=("user", user.id),
                    org_id=org_id,
                    payload={
                        "username": user.username,
                        "email": user.email,
                        "terms_accepted_at": now.isoformat(),
                        "flow_id": flow.id,
                    },
                )
                sent = await self._mailer().send(
                    tx, ctx, user, Purpose.EMAIL, language=new.preferred_language, flow_id=flow.id
                )
                internal = {
                    **flow.internal,
                    "language": user.preferred_language,
                    MESSAGE: sent.message_id,
                }
                flow = replace(
                    flow,
                    user_id=user.id,
                    org_id=flow.org_id,
                    login_name=user.login_name,
                    checks={**flow.checks, _PASSWORD: now},
                    internal=internal,
                )
                flow = _moved(flow, FlowStep.VERIFY_EMAIL, now)
                await tx.login_flows.update(flow)
        except ZituiError as exc:  # a name or address taken meanwhile
            return Outcome(await self._register_step(loaded, values, exc))
        return Outcome(await self._render(replace(loaded, flow=flow)))

    async def verify_email(
        self, browser_cookie: str, flow_id: str, code: str, request: RequestMeta
    ) -> Outcome:
        """The code from the mail. The flow that registered the user signs them in and goes
        on; a flow opened from the mail's link in another browser only verifies."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step is not FlowStep.VERIFY_EMAIL or not flow.user_id:
            return Outcome(await self._render(loaded))
        reservation = await self._code_throttle.reserve(name=flow.user_id, ip=request.ip)
        now = self._clock.now()
        cookie: str | None = None
        async with self._store.transaction() as tx:
            user = await tx.users.find(flow.user_id)
            if user is None:
                raise FlowExpired("login.flow_expired", "this sign-in has expired")
            ctx = user_context(self._clock, user, request)
            if user.state not in (UserState.ACTIVE, _INITIAL):
                failed = True  # locked (by wrong codes, say) or deactivated: no code works
            elif not user.email_verified:
                if not await self._mailer().spend(tx, ctx, user, Purpose.EMAIL, code):
                    await self._mailer().count_failure(tx, ctx, user)
                    failed = True
                else:
                    failed = False
                    await self._verified(tx, ctx, user)
            else:  # verified meanwhile, from the mail's link in another browser
                failed = False
            if not failed:
                await self._code_throttle.succeeded(tx, reservation)
                flow, step, cookie = await self._proven(tx, loaded, user, request, now)
                await tx.login_flows.update(flow)
        if failed:
            return Outcome(await self._render(loaded, error=wrong_code(), code=code))
        return Outcome(step, browser_cookie=cookie)

    async def resend_code(self, browser_cookie: str, flow_id: str, request: RequestMeta) -> Outcome:
        """A new code by mail for the flow's step; the old one stops working. An unknown
        login name (password reset) gets the same answer and no mail."""
        loaded = await self._load(browser_cookie, flow_id)
        flow = loaded.flow
        purpose = _PURPOSES.get(flow.step)
        if purpose is None:
            return Outcome(await self._render(loaded))
        subject = _subject(flow)
        await self._mail_throttle.reserve(name=subject or flow.login_name, ip=request.ip)
        if subject:
            async with self._store.transaction() as tx:
                user = await tx.users.find(subject)
                if user is not None and user.email and _may_receive(user, purpose):
                    ctx = user_context(self._clock, user, request)
                    sent = await self._mailer().send(
                        tx, ctx, user, purpose, language=_language(flow), flow_id=flow.id
                    )
                    internal = {**flow.internal, MESSAGE: sent.message_id}
                    flow = replace(flow, internal=internal, updated_at=self._clock.now())
                    await tx.login_flows.update(flow)
        return Outcome(await self._render(replace(loaded, flow=flow), resent=True))

    async def request_password_reset(
        self, browser_cookie: str, flow_id: str, request: RequestMeta
    ) -> Outcome:
        """ "Forgot password?" on the password page: a code to the login name's email, and the
        page asking for it with a new password — the same page for every name."""
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        flow = loaded.flow
        if flow.step is not FlowStep.PASSWORD or not flow.login_name:
            return Outcome(await self._render(loaded))
        policy = await self._policy(loaded)
        if policy.hide_password_reset:
            return Outcome(NotAllowed(loaded.view(), *_RESET_CLOSED))
        await self._mail_throttle.reserve(name=flow.login_name, ip=request.ip)
        user = await self._checker.lookup(
            flow.login_name, policy=policy, org_id=flow.org_id or None
        )
        now = self._clock.now()
        internal: dict[str, object] = {**flow.internal, SUBJECT: ""}
        async with self._store.transaction() as tx:
            # The rules the page lists are the flow's organisation's, whoever the name names:
            # the user's own would tell that the name exists.
            internal[RULES_ORG] = await _registration_org(tx, flow.org_id)
            if user is not None and user.email:
                ctx = user_context(self._clock, user, request)
                sent = await self._mailer().send(
                    tx, ctx, user, Purpose.RESET, language=_language(flow), flow_id=flow.id
                )
                internal.update({SUBJECT: user.id, MESSAGE: sent.message_id})
            flow = _moved(replace(flow, internal=internal), FlowStep.RESET_PASSWORD, now)
            await tx.login_flows.update(flow)
        return Outcome(await self._render(replace(loaded, flow=flow)))

    async def set_password_with_code(
        self,
        browser_cookie: str,
        flow_id: str,
        code: str,
        new_password: str,
        repeat: str,
        request: RequestMeta,
    ) -> Outcome:
        """A reset or initialisation code and the new password: the password is set, the
        email counts as verified (the code came through it), the user's other sessions and
        tokens end, and this browser is signed in."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        purpose = _PURPOSES.get(flow.step)
        if purpose not in (Purpose.RESET, Purpose.INIT):
            return Outcome(await self._render(loaded))
        subject = _subject(flow)
        async with self._store.reader() as tx:
            user = await tx.users.find(subject) if subject else None
            rules = await password_policy(tx, await _rules_org(tx, flow, user))
            # The user's own rules are checked once the code is proven (they may differ
            # from the listed ones, which must not tell whether the name exists).
            own_rules = await password_policy(tx, user.org_id) if user else rules
        try:
            _check_new_password(rules, new_password, repeat)
        except ZituiError as exc:
            return Outcome(await self._render(loaded, error=exc, code=code))
        reservation = await self._code_throttle.reserve(
            name=subject or flow.login_name, ip=request.ip
        )
        if user is None or not _may_receive(user, purpose):
            self._mailer().digest(flow.id, purpose, code)  # the same work as a real check
            await self._count_attempt(flow, purpose.value)
            return Outcome(await self._render(loaded, error=wrong_code(), code=code))
        # A wrong code costs no hash: it is looked at first, and spent only after the hash.
        async with self._store.reader() as tx:
            stored = await tx.user_codes.find(user.id, purpose.value)
        if stored is None or not tokens.equal(
            stored.digest, self._mailer().digest(user.id, purpose, code)
        ):
            async with self._store.transaction() as tx:
                await self._mailer().count_failure(
                    tx, user_context(self._clock, user, request), user
                )
            return Outcome(await self._render(loaded, error=wrong_code(), code=code))
        try:
            _check_new_password(own_rules, new_password, repeat)
        except ZituiError as exc:
            return Outcome(await self._render(loaded, error=exc, code=code))
        password_hash = await self._hasher.hash(new_password)
        now = self._clock.now()
        async with self._store.transaction() as tx:
            current = await tx.users.find(user.id)
            if current is None:
                raise FlowExpired("login.flow_expired", "this sign-in has expired")
            ctx = user_context(self._clock, current, request)
            # The state again, in the transaction: a lock since the read above wins.
            may = _may_receive(current, purpose)
            if not may or not await self._mailer().spend(tx, ctx, current, purpose, code):
                await self._mailer().count_failure(tx, ctx, current)
                spent = False
            else:
                spent = True
                await self._code_throttle.succeeded(tx, reservation)
                await tx.users.set_password(
                    current.id, password_hash, change_required=False, at=now
                )
                ended = await end_user_access(tx, current.id, at=now)
                await record(
                    tx,
                    ctx,
                    "user.human.password.changed",
                    aggregate=("user", current.id),
                    org_id=current.org_id,
                    payload={"via": purpose.value, ACCESS_ENDED: ended.payload()},
                )
                if current.email and not current.email_verified:
                    await self._verified(tx, ctx, current)
                elif current.state is UserState.INITIAL:  # no address to verify, or verified
                    await tx.users.set_state(current.id, UserState.ACTIVE, at=now)
                flow = replace(flow, checks={**flow.checks, _PASSWORD: now})
                flow, step, cookie = await self._proven(
                    tx, replace(loaded, flow=flow), current, request, now
                )
                await tx.login_flows.update(flow)
        if not spent:
            return Outcome(await self._render(loaded, error=wrong_code(), code=code))
        return Outcome(step, browser_cookie=cookie)

    async def open_code_link(
        self,
        browser_cookie: str,
        purpose: Purpose,
        user_id: str,
        code: str,
        *,
        flow_id: str,
        request: RequestMeta,
    ) -> Outcome:
        """A link from a mail: the flow it names when this browser holds it, else a new flow
        (any browser) at the step that takes the code, the code filled in. Nothing is
        verified by opening it (mail scanners open links); the page's button does that."""
        step = _STEP_OF[purpose]
        if flow_id:
            try:
                loaded = await self._load(browser_cookie, flow_id, request=True)
            except (NotFound, FlowExpired):
                loaded = None
            if loaded and loaded.flow.step is step and _subject(loaded.flow) == user_id:
                return Outcome(await self._render(loaded, code=code))
        digest = self._browser_digest(browser_cookie)
        now = self._clock.now()
        async with self._store.reader() as tx:
            user = await tx.users.find(user_id[:40]) if user_id else None
            await self._refuse_over_cap(tx, request.ip, now)
        internal: dict[str, object] = {SUBJECT: user.id if user else "", "language": ""}
        if user is not None:
            internal["language"] = user.preferred_language
        flow = StoredLoginFlow(
            id=new_id(),
            kind="login",
            browser_digest=digest,
            auth_request_id=None,
            org_id="",
            user_id=user.id if user is not None and purpose is Purpose.EMAIL else None,
            session_id=None,
            login_name=user.login_name if user else "",
            client_ip=request.ip[:64],
            step=step,
            checks={},
            attempts={},
            internal=internal,
            created_at=now,
            updated_at=now,
            expires_at=now + FLOW_LIFETIME,
        )
        async with self._store.transaction() as tx:
            await tx.login_flows.insert(flow)
        return Outcome(await self._render(_Loaded(flow), code=code))

    async def _verified(self, tx: Repositories, ctx: Context, user: User) -> None:
        """Inside the transaction: the user's email is verified; a registered user becomes
        active (one who still has no password stays initial)."""
        now = ctx.now()
        await tx.users.set_email(user.id, user.email, verified=True, at=now)
        credentials = await tx.users.find_credentials(user.id)
        has_password = credentials is not None and bool(credentials.password_hash)
        if user.state is UserState.INITIAL and has_password:
            await tx.users.set_state(user.id, UserState.ACTIVE, at=now)
        await record(
            tx,
            ctx,
            "user.human.email.verified",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"email": user.email},
        )

    async def _proven(
        self,
        tx: Repositories,
        loaded: _Loaded,
        user: User,
        request: RequestMeta,
        now: datetime,
    ) -> tuple[StoredLoginFlow, Step, str | None]:
        """Inside the transaction, after a code: go on signed in when the flow proved the
        password (registration, reset, initialisation) or holds a session; else the address
        is verified and nobody is signed in. The new browser id, when one was made."""
        flow = loaded.flow
        view = loaded.view()
        if flow.session_id is not None:
            session = await tx.sessions.find(flow.session_id, browser_digest=flow.browser_digest)
            if session is not None:
                flow, step = await self._finish(tx, loaded, session, now)
                return flow, step, None
        proven_at = flow.checks.get(_PASSWORD)
        if not isinstance(proven_at, datetime):
            flow = _moved(flow, FlowStep.EMAIL_VERIFIED, now)
            return flow, EmailVerified(view, language=user.preferred_language), None
        cookie = new_browser_cookie()
        new_digest = _digest(cookie)
        await tx.sessions.move_browser(flow.browser_digest, new_digest)
        await tx.login_flows.move_browser(flow.browser_digest, new_digest)
        session_id = await tx.sessions.record_password_check(
            new_digest, user.id, new_id=new_id(), at=proven_at, user_agent=request.user_agent
        )
        await tx.users.reset_password_failures(user.id)
        await record(
            tx,
            user_context(self._clock, user, request),
            "user.human.password.check.succeeded",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"origin": request.origin, "session_id": session_id, "via": flow.step.value},
        )
        session = await tx.sessions.find(session_id)
        assert session is not None
        flow = replace(flow, browser_digest=new_digest)
        flow, step = await self._finish(tx, replace(loaded, flow=flow), session, now)
        return flow, step, cookie

    async def _register_step(
        self, loaded: _Loaded, values: Registration, error: ZituiError | None
    ) -> Register:
        async with self._store.reader() as tx:
            org_id = await _registration_org(tx, loaded.flow.org_id)
            rules = await password_policy(tx, org_id)
            legal = from_settings(
                PrivacyPolicy, await tx.policies.find_effective("privacy", org_id)
            )
        return Register(loaded.view(), values, rules, legal, error=error)

    async def _set_password_step(
        self, loaded: _Loaded, *, code: str, resent: bool, error: ZituiError | None
    ) -> SetPassword:
        flow = loaded.flow
        subject = _subject(flow)
        async with self._store.reader() as tx:
            user = await tx.users.find(subject) if subject else None
            rules = await password_policy(tx, await _rules_org(tx, flow, user))
        purpose = _PURPOSES[flow.step]
        return SetPassword(
            loaded.view(),
            purpose.value,
            flow.login_name,
            rules,
            code=code,
            resent=resent,
            language=_language(flow),
            error=error,
        )

    async def _delivery(self, flow: StoredLoginFlow) -> Delivery:
        """How the flow's last mail is doing (the page says when it is still on its way)."""
        message_id = flow.internal.get(MESSAGE)
        if not isinstance(message_id, str):
            return Delivery()
        async with self._store.reader() as tx:
            entry = await tx.outbox.find(message_id)
        if entry is None:
            return Delivery()
        if entry.state == "sent":
            return Delivery(entry.recipient, "sent")
        return Delivery(entry.recipient, "retrying" if entry.attempts else "queued")

    async def _refuse_over_cap(self, tx: Repositories, ip: str, now: datetime) -> None:
        """RateLimited when `ip` holds as many open flows as one address may."""
        if not self._max_open or not ip:
            return
        if await tx.login_flows.count_open_from(ip, now=now) >= self._max_open:
            raise RateLimited(
                "login.too_many_flows",
                "too many sign-ins were started from this address",
                retry_after=60,
            )

    def _mailer(self) -> CodeMailer:
        if self._codes is None:
            raise RuntimeError("this login flow service was built without a code mailer")
        return self._codes

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
        return await start_session(tx, self._checker, new_digest, checked, request, flow_id=flow.id)

    async def _finish(
        self, tx: Repositories, loaded: _Loaded, session: Session, now: datetime
    ) -> tuple[StoredLoginFlow, Step]:
        """Inside the transaction: what a proven session does next."""
        flow = replace(loaded.flow, session_id=session.id, user_id=session.user_id)
        view = loaded.view(flow)
        language = session.preferred_language
        user = await tx.users.find(session.user_id)
        if user is not None and _may_receive(user, Purpose.EMAIL) and user.state is _INITIAL:
            # Registered, never verified: the address first (ZITADEL's VerifyEmail step).
            ctx = Context(self._clock, _session_actor(session), RequestMeta(origin="login"))
            sent = await self._mailer().send(
                tx, ctx, user, Purpose.EMAIL, language=_language(flow), flow_id=flow.id
            )
            internal = {**flow.internal, MESSAGE: sent.message_id, "language": language}
            flow = _moved(replace(flow, internal=internal), FlowStep.VERIFY_EMAIL, now)
            delivery = Delivery(sent.recipient, "queued")
            return flow, VerifyEmail(view, delivery, language=language)
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
        code: str = "",
        resent: bool = False,
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
                policy = await self._policy(loaded)
                return AskLoginName(
                    view, login_name=view.login_hint, may_register=policy.allow_register
                )
            case FlowStep.PASSWORD:
                policy = await self._policy(loaded)
                return AskPassword(
                    view,
                    flow.login_name,
                    language=language,
                    error=error,
                    may_reset=not policy.hide_password_reset,
                )
            case FlowStep.CHANGE_PASSWORD:
                return await self._change_step(flow, view, error)
            case FlowStep.REGISTER:
                return await self._register_step(loaded, Registration(), error)
            case FlowStep.VERIFY_EMAIL:
                delivery = await self._delivery(flow)
                return VerifyEmail(
                    view, delivery, code=code, resent=resent, language=language, error=error
                )
            case FlowStep.RESET_PASSWORD | FlowStep.INIT_USER:
                return await self._set_password_step(loaded, code=code, resent=resent, error=error)
            case FlowStep.EMAIL_VERIFIED:
                return EmailVerified(view, language=language)
            case FlowStep.NOT_ALLOWED:
                code_, message = flow.internal.get("refusal", list(_REGISTRATION_CLOSED))
                return NotAllowed(view, str(code_), str(message))
            case FlowStep.DONE:
                return Done(view, flow.user_id or "")
            case FlowStep.REFUSED:
                refusal_code, refusal_message = flow.internal.get("refusal", ["", ""])
                return Refused(view, str(refusal_code), str(refusal_message))
            case _:
                policy = await self._policy(loaded)
                return AskLoginName(
                    view,
                    login_name=flow.login_name,
                    error=error,
                    may_register=policy.allow_register,
                )

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


def _session_actor(session: Session) -> Actor:
    return Actor(user_id=session.user_id, org_id=session.org_id, login_name=session.login_name)


def _subject(flow: StoredLoginFlow) -> str:
    return str(flow.internal.get(SUBJECT) or flow.user_id or "")


def _language(flow: StoredLoginFlow) -> str:
    shown = flow.internal.get(SHOWN, {})
    locales = shown.get("ui_locales", []) if isinstance(shown, dict) else []
    first = str(locales[0]) if locales else ""
    return str(flow.internal.get("language") or first)


def _may_receive(user: User, purpose: Purpose) -> bool:
    """Whether a code of `purpose` may (still) go to this user."""
    if user.state not in (UserState.ACTIVE, UserState.INITIAL):
        return False
    if purpose is Purpose.INIT:
        return user.state is UserState.INITIAL
    if purpose is Purpose.EMAIL:
        return not user.email_verified
    return True


async def _rules_org(tx: Repositories, flow: StoredLoginFlow, user: User | None) -> str:
    """The organisation whose password rules a code step lists and checks first."""
    shown = flow.internal.get(RULES_ORG)
    if isinstance(shown, str) and shown:
        return shown
    return user.org_id if user else await _registration_org(tx, flow.org_id)


async def _registration_org(tx: Repositories, org_id: str) -> str:
    """The organisation a registration creates its user in: the one the application's
    request named by scope, else the instance's default organisation."""
    if org_id:
        return org_id
    instance = await tx.instances.find()
    if instance is None:
        raise PreconditionFailed("instance.not_set_up", "this instance is not set up yet")
    return instance.default_org_id


def _cleaned(values: Registration) -> Registration:
    return Registration(
        given_name=values.given_name.strip()[:200],
        family_name=values.family_name.strip()[:200],
        email=values.email.strip()[:320],
        username=values.username.strip()[:200],
        language=values.language.strip()[:20],
        accepted_terms=values.accepted_terms,
    )


def _check_new_password(rules: PasswordComplexityPolicy, password: str, repeat: str) -> None:
    rules.check(password, field="password")
    if not tokens.equal(password, repeat):
        raise InvalidArgument("password.mismatch", "the passwords differ", field="password_repeat")


async def _checked_registration(
    tx: Repositories,
    org_id: str,
    values: Registration,
    password: str,
    repeat: str,
    rules: PasswordComplexityPolicy,
) -> NewHumanUser:
    """The new user a registration form describes, every rule checked in the order of the
    form's fields; the first broken one is raised, naming its field."""
    given = validation.text(values.given_name, field="given_name")
    family = validation.text(values.family_name, field="family_name")
    email = validation.email(values.email, required=True)
    username = validation.username(values.username or email)
    try:
        language = validation.language(values.language)
    except InvalidArgument as exc:  # the form's field is "language"
        raise InvalidArgument(exc.code, exc.message, field="language") from exc
    _check_new_password(rules, password, repeat)
    if not values.accepted_terms:
        raise InvalidArgument(
            "registration.terms_required", "accept the terms to register", field="terms"
        )
    if await tx.users.email_in_use(email):
        raise AlreadyExists(
            "user.email.taken", "an account with this email exists already", field="email"
        )
    await check_new_username(tx, org_id, username)
    return NewHumanUser(
        username=username,
        first_name=given,
        last_name=family,
        email=email,
        preferred_language=language,
    )
