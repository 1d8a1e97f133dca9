"""Registration, email verification, password reset and initialisation: the login flow's
steps that create an account or take a code from a mail (`zitui/core/user_codes.py`).

Each method is one page submission and answers with the next step; docs/login.md has the
states and the rules of the codes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from zitui.core import validation
from zitui.core.access import ACCESS_ENDED, end_user_access
from zitui.core.audit import record
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import user_context
from zitui.core.crypto import tokens
from zitui.core.ids import new_id
from zitui.core.login.base import (
    BEFORE_PROOF,
    INITIAL,
    MESSAGE,
    PASSWORD_CHECK,
    PURPOSES,
    REGISTRATION_CLOSED,
    RESET_CLOSED,
    RULES_ORG,
    STEP_OF,
    SUBJECT,
    FlowBase,
    Loaded,
    cookie_digest,
    default_redirect,
    language_of,
    may_receive,
    moved,
    new_flow,
    registration_org,
    rules_org,
    subject_of,
)
from zitui.core.login.steps import (
    EmailVerified,
    NotAllowed,
    Outcome,
    Registration,
    Step,
)
from zitui.core.policies import (
    PasswordComplexityPolicy,
)
from zitui.core.sessions import (
    new_browser_cookie,
)
from zitui.core.user_base import check_new_username
from zitui.core.user_codes import Purpose, wrong_code
from zitui.core.users import NewHumanUser, add_human_user, password_policy
from zitui.errors import (
    AlreadyExists,
    FlowExpired,
    InvalidArgument,
    NotFound,
    ZituiError,
)
from zitui.records import (
    FlowStep,
    StoredLoginFlow,
    User,
    UserState,
)
from zitui.store import Repositories


class SelfServiceSteps(FlowBase):
    # --- registration, email verification, password reset, initialisation -----------

    async def ask_registration(self, browser_cookie: str, flow_id: str) -> Outcome:
        """ "Register": the form, while the flow has proven nothing and the policy allows it."""
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        if loaded.flow.step not in BEFORE_PROOF | {FlowStep.REGISTER}:
            return Outcome(await self._render(loaded))
        policy = await self._policy(loaded)
        now = self._clock.now()
        step = FlowStep.REGISTER if policy.allow_register else FlowStep.NOT_ALLOWED
        internal = {**loaded.flow.internal, "refusal": list(REGISTRATION_CLOSED)}
        flow = moved(replace(loaded.flow, internal=internal), step, now)
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
            return Outcome(NotAllowed(loaded.view(), *REGISTRATION_CLOSED))
        values = _cleaned(values)
        async with self._store.reader() as tx:
            org_id = await registration_org(tx, flow.org_id)
            rules = await password_policy(tx, org_id)
            try:
                new = await _checked_registration(tx, org_id, values, password, repeat, rules)
            except ZituiError as exc:
                return Outcome(await self._register_step(loaded, values, exc))
        await self._register_throttle.reserve(ip=request.ip)
        password_hash = await self._hasher.hash(password)
        try:
            async with self._store.transaction() as tx:
                flow = await self._create_account(tx, flow, org_id, new, password_hash, request)
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
            if user.state not in (UserState.ACTIVE, INITIAL):
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
        purpose = PURPOSES.get(flow.step)
        if purpose is None:
            return Outcome(await self._render(loaded))
        subject = subject_of(flow)
        await self._mail_throttle.reserve(name=subject or flow.login_name, ip=request.ip)
        if subject:
            async with self._store.transaction() as tx:
                user = await tx.users.find(subject)
                if user is not None and user.email and may_receive(user, purpose):
                    ctx = user_context(self._clock, user, request)
                    sent = await self._mailer().send(
                        tx, ctx, user, purpose, language=language_of(flow), flow_id=flow.id
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
            return Outcome(NotAllowed(loaded.view(), *RESET_CLOSED))
        await self._mail_throttle.reserve(name=flow.login_name, ip=request.ip)
        user = await self._checker.lookup(
            flow.login_name, policy=policy, org_id=flow.org_id or None
        )
        now = self._clock.now()
        internal: dict[str, object] = {**flow.internal, SUBJECT: ""}
        async with self._store.transaction() as tx:
            # The rules the page lists are the flow's organisation's, whoever the name names:
            # the user's own would tell that the name exists.
            internal[RULES_ORG] = await registration_org(tx, flow.org_id)
            if user is not None and user.email:
                ctx = user_context(self._clock, user, request)
                sent = await self._mailer().send(
                    tx, ctx, user, Purpose.RESET, language=language_of(flow), flow_id=flow.id
                )
                internal.update({SUBJECT: user.id, MESSAGE: sent.message_id})
            flow = moved(replace(flow, internal=internal), FlowStep.RESET_PASSWORD, now)
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
        purpose = PURPOSES.get(flow.step)
        if purpose not in (Purpose.RESET, Purpose.INIT):
            return Outcome(await self._render(loaded))
        subject = subject_of(flow)
        async with self._store.reader() as tx:
            user = await tx.users.find(subject) if subject else None
            rules = await password_policy(tx, await rules_org(tx, flow, user))
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
        if user is None or not may_receive(user, purpose):
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
        async with self._store.transaction() as tx:
            done = await self._set_with_code(
                tx, loaded, user.id, purpose, code, password_hash, request
            )
            if done is not None:
                await self._code_throttle.succeeded(tx, reservation)
                await tx.login_flows.update(done[0])
        if done is None:
            return Outcome(await self._render(loaded, error=wrong_code(), code=code))
        return Outcome(done[1], browser_cookie=done[2])

    async def _create_account(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        org_id: str,
        new: NewHumanUser,
        password_hash: str,
        request: RequestMeta,
    ) -> StoredLoginFlow:
        """Inside the transaction: the registered user (initial, terms accepted), the event,
        the verification mail; the flow at the code step, the password counted as proven."""
        now = self._clock.now()
        system = Context.system(self._clock, origin=request.origin)
        user = await add_human_user(
            tx, system, org_id, new, password_hash=password_hash, state=UserState.INITIAL
        )
        await tx.users.accept_terms(user.id, at=now)
        ctx = user_context(self._clock, user, request)
        payload = {
            "username": user.username,
            "email": user.email,
            "terms_accepted_at": now.isoformat(),
            "flow_id": flow.id,
        }
        await record(
            tx,
            ctx,
            "user.human.selfregistered",
            aggregate=("user", user.id),
            org_id=org_id,
            payload=payload,
        )
        sent = await self._mailer().send(
            tx, ctx, user, Purpose.EMAIL, language=new.preferred_language, flow_id=flow.id
        )
        internal = {**flow.internal, "language": user.preferred_language, MESSAGE: sent.message_id}
        flow = replace(
            flow,
            user_id=user.id,
            login_name=user.login_name,
            checks={**flow.checks, PASSWORD_CHECK: now},
            internal=internal,
        )
        return moved(flow, FlowStep.VERIFY_EMAIL, now)

    async def _set_with_code(
        self,
        tx: Repositories,
        loaded: Loaded,
        user_id: str,
        purpose: Purpose,
        code: str,
        password_hash: str,
        request: RequestMeta,
    ) -> tuple[StoredLoginFlow, Step, str | None] | None:
        """Inside the transaction: spend the code and set the password, verify the address,
        activate an initial user, end the user's other access, sign this browser in. None
        (with the failure counted) when the code does not hold, or the user may not."""
        now = self._clock.now()
        user = await tx.users.find(user_id)
        if user is None:
            raise FlowExpired("login.flow_expired", "this sign-in has expired")
        ctx = user_context(self._clock, user, request)
        # The state again, in the transaction: a lock since the first read wins.
        may = may_receive(user, purpose)
        if not may or not await self._mailer().spend(tx, ctx, user, purpose, code):
            await self._mailer().count_failure(tx, ctx, user)
            return None
        await tx.users.set_password(user.id, password_hash, change_required=False, at=now)
        ended = await end_user_access(tx, user.id, at=now)
        await record(
            tx,
            ctx,
            "user.human.password.changed",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"via": purpose.value, ACCESS_ENDED: ended.payload()},
        )
        if self._notice is not None:
            await self._notice.password_changed(tx, ctx, user, language=language_of(loaded.flow))
        if user.email and not user.email_verified:
            await self._verified(tx, ctx, user)
        elif user.state is UserState.INITIAL:  # no address to verify, or verified
            await tx.users.set_state(user.id, UserState.ACTIVE, at=now)
        flow = replace(loaded.flow, checks={**loaded.flow.checks, PASSWORD_CHECK: now})
        return await self._proven(tx, replace(loaded, flow=flow), user, request, now)

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
        step = STEP_OF[purpose]
        if flow_id:
            try:
                loaded = await self._load(browser_cookie, flow_id, request=True)
            except (NotFound, FlowExpired):
                loaded = None
            if loaded and loaded.flow.step is step and subject_of(loaded.flow) == user_id:
                return Outcome(await self._render(loaded, code=code))
        digest = self._browser_digest(browser_cookie)
        now = self._clock.now()
        async with self._store.reader() as tx:
            user = await tx.users.find(user_id[:40]) if user_id else None
            await self._refuse_over_cap(tx, request.ip, now)
        internal: dict[str, object] = {SUBJECT: user.id if user else "", "language": ""}
        if user is not None:
            internal["language"] = user.preferred_language
        flow = new_flow(
            digest,
            step,
            now,
            client_ip=request.ip,
            login_name=user.login_name if user else "",
            user_id=user.id if user is not None and purpose is Purpose.EMAIL else None,
            internal=internal,
        )
        async with self._store.transaction() as tx:
            await tx.login_flows.insert(flow)
        return Outcome(await self._render(Loaded(flow), code=code))

    async def _verified(self, tx: Repositories, ctx: Context, user: User) -> None:
        """Inside the transaction: the user's email is verified; a registered user becomes
        active (one who still has no way to sign in, neither a password nor a link to an
        external provider, stays initial)."""
        now = ctx.now()
        await tx.users.set_email(user.id, user.email, verified=True, at=now)
        credentials = await tx.users.find_credentials(user.id)
        has_password = credentials is not None and bool(credentials.password_hash)
        has_way_in = has_password or bool(await tx.idp_links.list_for_user(user.id))
        if user.state is UserState.INITIAL and has_way_in:
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
        loaded: Loaded,
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
        proven_at = flow.checks.get(PASSWORD_CHECK)
        if not isinstance(proven_at, datetime):
            flow = moved(flow, FlowStep.EMAIL_VERIFIED, now)
            redirect_uri = await default_redirect(tx, flow, user.org_id)
            verified = EmailVerified(
                view, language=user.preferred_language, redirect_uri=redirect_uri
            )
            return flow, verified, None
        cookie = new_browser_cookie()
        new_digest = cookie_digest(cookie)
        await tx.sessions.move_browser(flow.browser_digest, new_digest)
        await tx.login_flows.move_browser(flow.browser_digest, new_digest)
        session_id = await tx.sessions.record_password_check(
            new_digest,
            user.id,
            new_id=new_id(),
            at=proven_at,
            user_agent=request.user_agent,
            client_ip=request.ip,
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
