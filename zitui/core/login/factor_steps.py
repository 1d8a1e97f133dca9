"""Second factors in the login flow: deciding whether one is needed, the MFA set-up prompt,
TOTP set-up, the recovery codes shown once, and what every factor's proof shares
(`zitui/core/factors.py` does the factor work; the pages of stored steps are
`factor_pages.py`, checking codes `verify_steps.py`, security keys and passkeys
`key_steps.py`).

After the password (and a registered user's email), `_factor_step` decides: a user with
factors whose session's second factor is due proves one (MFA_VERIFY); a user without any is
asked to set one up (MFA_PROMPT) when the login policy forces MFA, or when the last "skip" is
older than `mfa_init_skip_lifetime`. docs/login.md has the states.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from zitui.core.audit import record
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import login_policy, user_context
from zitui.core.factors import FactorKind
from zitui.core.login.base import Loaded, language_of, moved
from zitui.core.login.factor_pages import (
    ADDING,
    CODE_KINDS,
    CURRENT,
    FORCED_NOT_CONFIGURED,
    KEY_KIND,
    KEY_KINDS,
    PENDING_TOTP,
    SECOND_FACTOR_CHECK,
    SENT_TO,
    SET_UP_STEPS,
    SETTING_UP,
    FactorPages,
    addable,
    kind_not_offered,
    mfa_forced_error,
    offered_to,
    usable,
    wrong_code,
)
from zitui.core.login.reuse import Demand
from zitui.core.login.second_factor import (
    PASSKEY,
    external_sign_in,
    flow_external,
    mfa_forced,
    mfa_required,
    second_factor_due,
)
from zitui.core.login.steps import (
    FlowView,
    Outcome,
    Refused,
    SetUpFactor,
    SetUpTotp,
    ShowRecoveryCodes,
    Step,
)
from zitui.core.policies import LoginPolicy
from zitui.errors import FlowExpired, NotFound, PreconditionFailed
from zitui.records import (
    FlowStep,
    Session,
    StoredAuthRequest,
    StoredLoginFlow,
    User,
)
from zitui.store import Repositories

# How recent the first factor must be to add a factor without proving it again.
ADD_FACTOR_WINDOW = timedelta(minutes=10)


class FactorSteps(FactorPages):
    # --- deciding, inside `_finish` ---------------------------------------------------

    async def _factor_step(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        session: Session,
        user: User,
        stored: StoredAuthRequest | None,
        now: datetime,
    ) -> tuple[StoredLoginFlow, Step] | None:
        """The second-factor page a proven session needs next, or None to go on."""
        if self._factors is None:
            return None
        policy = await login_policy(tx, session.org_id)
        demand = Demand.of(stored)
        kinds = usable(await self._factors.ready_factors(tx, user.id), policy)
        if kinds:
            if not second_factor_due(session, demand, policy=policy, now=now):
                return await self._adding_step(tx, flow, session, user, policy, now)
            flow = moved(flow, FlowStep.MFA_VERIFY, now, language=session.preferred_language)
            flow = replace(flow, internal={**flow.internal, CURRENT: kinds[0], SENT_TO: ""})
            if kinds[0] in CODE_KINDS:
                flow = await self._send_factor_code(tx, flow, user, kinds[0])
            return flow, await self._verify_step(tx, flow, user, kinds, None)
        offered = offered_to(user, policy)
        external = external_sign_in(session)
        required = mfa_required(policy, demand, external=external)
        view, language = FlowView.of(flow), session.preferred_language
        if not offered and required:
            code, message = FORCED_NOT_CONFIGURED
            internal = {**flow.internal, "refusal": [code, message]}
            flow = moved(replace(flow, internal=internal), FlowStep.REFUSED, now)
            return flow, Refused(view, code, message, language=language)
        if flow.internal.get(ADDING):
            return await self._adding_step(tx, flow, session, user, policy, now)
        due = required or await self._prompt_due(tx, user, policy, now, external=external)
        if not offered or not due:
            return None
        flow = moved(flow, FlowStep.MFA_PROMPT, now, language=language)
        return flow, SetUpFactor(view, required, offered, language=language)

    async def _adding_step(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        session: Session,
        user: User,
        policy: LoginPolicy,
        now: datetime,
    ) -> tuple[StoredLoginFlow, Step] | None:
        """A flow that adds a factor, once the user proved what was due: the prompt with the
        kinds the user may still add ("Skip" only ends the flow); None for any other flow."""
        if not flow.internal.get(ADDING):
            return None
        kinds = addable(user, policy, await self._factor_service().ready_factors(tx, user.id))
        if not kinds:
            return None
        flow = moved(flow, FlowStep.MFA_PROMPT, now, language=session.preferred_language)
        return flow, SetUpFactor(FlowView.of(flow), False, kinds, language=language_of(flow))

    @staticmethod
    async def _prompt_due(
        tx: Repositories, user: User, policy: LoginPolicy, now: datetime, *, external: bool
    ) -> bool:
        if mfa_forced(policy, external=external):
            return True
        lifetime = timedelta(seconds=policy.mfa_init_skip_lifetime_s)
        if not lifetime:
            return False
        skipped = await tx.users.mfa_init_skipped_at(user.id)
        return skipped is None or now - skipped >= lifetime

    # --- the pages' calls -------------------------------------------------------------

    async def choose_factor(
        self, browser_cookie: str, flow_id: str, kind: str, request: RequestMeta
    ) -> Outcome:
        """Set up a factor of `kind` from the prompt. TOTP gets a pending factor, whose id
        the flow keeps (never its secret), and the page with its QR code; a security key or
        passkey the page that registers it; a code by email or SMS is added at once (the
        address is verified) and its first code sent, to be typed on the verify page."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step not in SET_UP_STEPS:
            return Outcome(await self._render(loaded))
        session, user = await self._signed_in(browser_cookie, flow)
        policy = await self._sessions.login_policy(user.org_id)
        now = self._clock.now()
        if kind not in offered_to(user, policy) or not await self._may_add(flow, user, kind):
            if flow.step is not FlowStep.MFA_PROMPT:  # "another way" from a set-up page
                flow = moved(flow, FlowStep.MFA_PROMPT, now)
                async with self._store.transaction() as tx:
                    await tx.login_flows.update(flow)
            # An empty kind is the set-up pages' "another way"; any other is a tampered form.
            error = kind_not_offered() if kind else None
            return Outcome(await self._render(replace(loaded, flow=flow), error=error))
        if kind in CODE_KINDS:  # a mail or an SMS: a few per window, as resends
            await self._mail_throttle.reserve(name=user.id, ip=request.ip)
        async with self._store.transaction() as tx:
            ctx = user_context(self._clock, user, request)
            if kind == FactorKind.TOTP:
                setup = await self._factor_service().start_totp(
                    tx, ctx, user, issuer=self._issuer()
                )
                internal = {**flow.internal, PENDING_TOTP: setup.factor_id}
                flow = moved(replace(flow, internal=internal), FlowStep.MFA_TOTP, now)
                step: Step = SetUpTotp(
                    loaded.view(flow),
                    setup.qr_svg,
                    setup.uri,
                    setup.secret,
                    language=language_of(flow),
                )
            elif kind in KEY_KINDS:
                flow = moved(
                    replace(flow, internal={**flow.internal, KEY_KIND: kind}), FlowStep.MFA_KEY, now
                )
                step = await self._key_setup_step(tx, flow, user, None)
            else:
                flow, step = await self._start_code_factor(tx, ctx, flow, user, kind, policy)
            await tx.login_flows.update(flow)
        return Outcome(step)

    async def _may_add(self, flow: StoredLoginFlow, user: User, kind: str) -> bool:
        """In a flow that adds a factor, `kind` is one the user may still add."""
        if not flow.internal.get(ADDING):
            return True
        async with self._store.reader() as tx:
            policy = await login_policy(tx, user.org_id)
            factors = await self._factor_service().ready_factors(tx, user.id)
        return kind in addable(user, policy, factors)

    async def _start_code_factor(
        self,
        tx: Repositories,
        ctx: Context,
        flow: StoredLoginFlow,
        user: User,
        kind: str,
        policy: LoginPolicy,
    ) -> tuple[StoredLoginFlow, Step]:
        """Inside the transaction: the user's code factor of `kind`, its first code sent, and
        the verify page asking for it (the proof ends the set-up)."""
        otp = self._otp_service()
        factor_kind = FactorKind(kind)
        try:
            await otp.add(tx, ctx, user, factor_kind)
        except PreconditionFailed as exc:
            if exc.code != "factor.already_exists":
                raise
        flow = replace(flow, internal={**flow.internal, CURRENT: kind, SETTING_UP: True})
        flow = await self._send_factor_code(tx, flow, user, kind)
        flow = moved(flow, FlowStep.MFA_VERIFY, ctx.now())
        kinds = usable(await self._factor_service().ready_factors(tx, user.id), policy)
        return flow, await self._verify_step(tx, flow, user, kinds, None)

    async def _send_factor_code(
        self, tx: Repositories, flow: StoredLoginFlow, user: User, kind: str
    ) -> StoredLoginFlow:
        """Inside the transaction: a fresh code of `kind` to the user; the flow notes where."""
        otp = self._otp_service()
        ctx = user_context(self._clock, user, RequestMeta(origin="login"))
        await otp.send_code(tx, ctx, user, FactorKind(kind), language=language_of(flow))
        sent_to = otp.masked_target(user, FactorKind(kind))
        return replace(flow, internal={**flow.internal, SENT_TO: sent_to})

    async def confirm_totp(
        self, browser_cookie: str, flow_id: str, code: str, request: RequestMeta
    ) -> Outcome:
        """The first code from the new authenticator. Right: the factor is ready, the session
        has its second factor, and the user's first factor brings ten recovery codes."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        factor_id = str(flow.internal.get(PENDING_TOTP, ""))
        if flow.step is not FlowStep.MFA_TOTP or not factor_id:
            return Outcome(await self._render(loaded))
        session, user = await self._signed_in(browser_cookie, flow)
        reservation = await self._code_throttle.reserve(name=user.id, ip=request.ip)
        factors = self._factor_service()
        now = self._clock.now()
        async with self._store.transaction() as tx:
            ctx = user_context(self._clock, user, request)
            try:
                confirmed = await factors.confirm_totp(tx, ctx, user, factor_id, code)
            except (NotFound, PreconditionFailed):
                flow = moved(flow, FlowStep.MFA_PROMPT, now)
                await tx.login_flows.update(flow)
                confirmed = False
            if confirmed:
                await self._code_throttle.succeeded(tx, reservation)
                flow = replace(flow, internal={**flow.internal, SETTING_UP: True})
                flow, step = await self._factor_proven(
                    tx, replace(loaded, flow=flow), session, user, FactorKind.TOTP, request
                )
                await tx.login_flows.update(flow)
        if not confirmed:
            error = None if flow.step is FlowStep.MFA_PROMPT else wrong_code()
            return Outcome(await self._render(replace(loaded, flow=flow), error=error))
        return Outcome(step)

    async def acknowledge_recovery_codes(self, browser_cookie: str, flow_id: str) -> Outcome:
        """ "Continue" below the recovery codes: on with the sign-in."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step is not FlowStep.RECOVERY_CODES:
            return Outcome(await self._render(loaded))
        session, _ = await self._signed_in(browser_cookie, flow)
        now = self._clock.now()
        async with self._store.transaction() as tx:
            flow, step = await self._finish(tx, loaded, session, now)
            await tx.login_flows.update(flow)
        return Outcome(step)

    async def skip_factor_setup(
        self, browser_cookie: str, flow_id: str, request: RequestMeta
    ) -> Outcome:
        """ "Skip": remembered on the user for the policy's `mfa_init_skip_lifetime`; refused
        when the policy forces MFA or the application asked for it (`acr_values`)."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step not in SET_UP_STEPS:
            return Outcome(await self._render(loaded))
        session, user = await self._signed_in(browser_cookie, flow)
        now = self._clock.now()
        if flow.internal.get(ADDING):  # nothing to remember: the user only changed their mind
            internal = {k: v for k, v in flow.internal.items() if k != ADDING}
            loaded = replace(loaded, flow=replace(flow, internal=internal))
            async with self._store.transaction() as tx:
                flow, step = await self._finish(tx, loaded, session, now)
                await tx.login_flows.update(flow)
            return Outcome(step)
        policy = await self._sessions.login_policy(user.org_id)
        external = flow_external(flow.checks)
        if mfa_required(policy, Demand.of(loaded.stored), external=external):
            return Outcome(await self._render(loaded, error=mfa_forced_error()))
        async with self._store.transaction() as tx:
            await tx.users.skip_mfa_init(user.id, at=now)
            ctx = user_context(self._clock, user, request)
            await record(
                tx,
                ctx,
                "user.human.mfa.init.skipped",
                aggregate=("user", user.id),
                org_id=user.org_id,
            )
            flow, step = await self._finish(tx, loaded, session, now)
            await tx.login_flows.update(flow)
        return Outcome(step)

    # --- what every proof shares -----------------------------------------------------------

    async def _factor_proven(
        self,
        tx: Repositories,
        loaded: Loaded,
        session: Session,
        user: User,
        kind: str,
        request: RequestMeta,
    ) -> tuple[StoredLoginFlow, Step]:
        """Inside the transaction: the session records the factor of `kind` ("recovery" for
        a recovery code; a passkey counts as multi-factor); a set-up that gives the user
        their first factor shows ten recovery codes once; else go on."""
        now = self._clock.now()
        if kind == PASSKEY:
            await tx.sessions.record_multi_factor(session.id, now)
        else:
            await tx.sessions.record_second_factor(session.id, now, kind=kind)
        checked = await tx.sessions.find(session.id)
        if checked is None:
            raise FlowExpired("login.flow_expired", "this sign-in has expired")
        flow = loaded.flow
        setting_up = bool(flow.internal.get(SETTING_UP))
        drop = {PENDING_TOTP, KEY_KIND, SENT_TO, SETTING_UP, ADDING}
        internal = {k: v for k, v in flow.internal.items() if k not in drop}
        flow = replace(flow, internal=internal, checks={**flow.checks, SECOND_FACTOR_CHECK: now})
        factors = self._factor_service()
        if setting_up and not await factors.recovery_codes_left(tx, user.id):
            ctx = user_context(self._clock, user, request)
            codes = await factors.new_recovery_codes(tx, ctx, user)
            flow = moved(flow, FlowStep.RECOVERY_CODES, now)
            shown = ShowRecoveryCodes(loaded.view(flow), tuple(codes), language=language_of(flow))
            return flow, shown
        return await self._finish(tx, replace(loaded, flow=flow), checked, now)
