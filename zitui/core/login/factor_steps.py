"""Second factors in the login flow: the MFA set-up prompt, TOTP set-up, the recovery codes
shown once, and the check of a second factor (`zitui/core/factors.py` does the factor work).

After the password (and a registered user's email), `_factor_step` decides: a user with
factors whose session's second factor is due proves one (MFA_VERIFY); a user without any is
asked to set one up (MFA_PROMPT) when the login policy forces MFA, or when the last "skip" is
older than `mfa_init_skip_lifetime`. docs/login.md has the states.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from zitui.core.audit import record
from zitui.core.context import RequestMeta
from zitui.core.credentials import login_policy, user_context
from zitui.core.factors import FactorKind, FactorService
from zitui.core.login.base import FlowBase, Loaded, language_of, moved
from zitui.core.login.reuse import Demand
from zitui.core.login.second_factor import (
    mfa_forced,
    mfa_required,
    offered_kinds,
    second_factor_due,
    usable_kinds,
)
from zitui.core.login.steps import (
    FlowView,
    Outcome,
    Refused,
    SetUpFactor,
    SetUpTotp,
    ShowRecoveryCodes,
    Step,
    VerifyFactor,
)
from zitui.core.policies import LoginPolicy
from zitui.errors import FlowExpired, InvalidArgument, NotFound, PreconditionFailed, ZituiError
from zitui.records import (
    FlowStep,
    Session,
    StoredAuthRequest,
    StoredLoginFlow,
    User,
    UserState,
)
from zitui.store import Repositories

# The flow's internal key for the pending TOTP factor's id (its secret stays in the factor).
PENDING_TOTP = "pending_totp"
SECOND_FACTOR_CHECK = "second_factor"
# ZITADEL's ForceAndNotConfigured: MFA is forced, but the policy allows no factor we offer.
FORCED_NOT_CONFIGURED = ("mfa.forced_not_configured", "no second factor can be set up here")
FACTOR_STEPS = frozenset(
    {FlowStep.MFA_PROMPT, FlowStep.MFA_TOTP, FlowStep.RECOVERY_CODES, FlowStep.MFA_VERIFY}
)


def wrong_code() -> InvalidArgument:
    return InvalidArgument("mfa.code_invalid", "the code is wrong or was used", field="code")


def mfa_forced_error() -> PreconditionFailed:
    return PreconditionFailed("mfa.forced", "a second factor must be set up to sign in here")


class FactorSteps(FlowBase):
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
        view = FlowView.of(flow)
        language = session.preferred_language
        kinds = await usable_kinds(tx, user.id, policy)
        demand = Demand.of(stored)
        if kinds:
            if not second_factor_due(session, demand, policy=policy, now=now):
                return None
            left = await self._factors.recovery_codes_left(tx, user.id)
            flow = moved(flow, FlowStep.MFA_VERIFY, now, language=language)
            return flow, VerifyFactor(view, kinds, left, language=language)
        offered = offered_kinds(policy)
        required = mfa_required(policy, demand)
        if not offered and required:
            code, message = FORCED_NOT_CONFIGURED
            internal = {**flow.internal, "refusal": [code, message]}
            flow = moved(replace(flow, internal=internal), FlowStep.REFUSED, now)
            return flow, Refused(view, code, message, language=language)
        if not offered or not (required or await self._prompt_due(tx, user, policy, now)):
            return None
        flow = moved(flow, FlowStep.MFA_PROMPT, now, language=language)
        return flow, SetUpFactor(view, required, offered, language=language)

    @staticmethod
    async def _prompt_due(tx: Repositories, user: User, policy: LoginPolicy, now: datetime) -> bool:
        if mfa_forced(policy):
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
        """Set up a factor of `kind` from the prompt: TOTP gets a pending factor, whose id the
        flow keeps (never its secret), and the page with its QR code."""
        loaded = await self._load(browser_cookie, flow_id)
        flow = loaded.flow
        if flow.step not in (FlowStep.MFA_PROMPT, FlowStep.MFA_TOTP):
            return Outcome(await self._render(loaded))
        session, user = await self._signed_in(browser_cookie, flow)
        policy = await self._sessions.login_policy(user.org_id)
        if kind not in offered_kinds(policy):
            return Outcome(await self._render(loaded))
        now = self._clock.now()
        async with self._store.transaction() as tx:
            ctx = user_context(self._clock, user, request)
            setup = await self._factor_service().start_totp(tx, ctx, user, issuer=self._issuer())
            internal = {**flow.internal, PENDING_TOTP: setup.factor_id}
            flow = moved(replace(flow, internal=internal), FlowStep.MFA_TOTP, now)
            await tx.login_flows.update(flow)
        language = language_of(flow)
        return Outcome(
            SetUpTotp(loaded.view(flow), setup.qr_svg, setup.uri, setup.secret, language=language)
        )

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
                flow, step = await self._factor_proven(tx, loaded, flow, session, now)
                if len(await factors.ready_factors(tx, user.id)) == 1:
                    codes = await factors.new_recovery_codes(tx, ctx, user)
                    flow = moved(flow, FlowStep.RECOVERY_CODES, now)
                    step = ShowRecoveryCodes(
                        loaded.view(flow), tuple(codes), language=language_of(flow)
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
        when the policy forces MFA."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step not in (FlowStep.MFA_PROMPT, FlowStep.MFA_TOTP):
            return Outcome(await self._render(loaded))
        session, user = await self._signed_in(browser_cookie, flow)
        policy = await self._sessions.login_policy(user.org_id)
        if mfa_required(policy, Demand.of(loaded.stored)):
            return Outcome(await self._render(loaded, error=mfa_forced_error()))
        now = self._clock.now()
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

    async def verify_factor(
        self, browser_cookie: str, flow_id: str, code: str, request: RequestMeta
    ) -> Outcome:
        """A code of the user's authenticator, or one of their recovery codes (used once).
        Wrong codes count against the user (`max_otp_attempts`) and the `otp` throttle."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step is not FlowStep.MFA_VERIFY:
            return Outcome(await self._render(loaded))
        session, user = await self._signed_in(browser_cookie, flow)
        reservation = await self._code_throttle.reserve(name=user.id, ip=request.ip)
        now = self._clock.now()
        async with self._store.transaction() as tx:
            proven = await self._check_code(tx, user, code, request)
            if proven:
                await self._code_throttle.succeeded(tx, reservation)
                flow, step = await self._factor_proven(tx, loaded, flow, session, now)
                await tx.login_flows.update(flow)
        if not proven:
            return Outcome(await self._render(loaded, error=wrong_code()))
        return Outcome(step)

    # --- helpers ------------------------------------------------------------------------

    async def _check_code(
        self, tx: Repositories, user: User, code: str, request: RequestMeta
    ) -> bool:
        """Six digits are an authenticator's code, anything else a recovery code."""
        current = await tx.users.find(user.id)
        if current is None or current.state is not UserState.ACTIVE:
            return False  # locked by wrong codes, or deactivated: no code works
        ctx = user_context(self._clock, current, request)
        factors = self._factor_service()
        compact = code.replace(" ", "").strip()
        policy = await login_policy(tx, current.org_id)
        if compact.isdigit() and len(compact) == 6:
            if FactorKind.TOTP.value not in offered_kinds(policy):
                return False
            return await factors.check_totp(tx, ctx, current, compact)
        return await factors.use_recovery_code(tx, ctx, current, code)

    async def _factor_proven(
        self,
        tx: Repositories,
        loaded: Loaded,
        flow: StoredLoginFlow,
        session: Session,
        now: datetime,
    ) -> tuple[StoredLoginFlow, Step]:
        """Inside the transaction: the session's second factor is checked; go on."""
        await tx.sessions.record_second_factor(session.id, now, kind="totp")
        checked = await tx.sessions.find(session.id)
        if checked is None:
            raise FlowExpired("login.flow_expired", "this sign-in has expired")
        internal = {k: v for k, v in flow.internal.items() if k != PENDING_TOTP}
        flow = replace(flow, internal=internal, checks={**flow.checks, SECOND_FACTOR_CHECK: now})
        return await self._finish(tx, replace(loaded, flow=flow), checked, now)

    async def _signed_in(self, browser_cookie: str, flow: StoredLoginFlow) -> tuple[Session, User]:
        """The flow's session on this browser and its user; FlowExpired when either ended."""
        session = None
        if flow.session_id:
            session = await self._sessions.find_browser_session(browser_cookie, flow.session_id)
        async with self._store.reader() as tx:
            user = await tx.users.find(session.user_id) if session else None
        if session is None or user is None:
            raise FlowExpired("login.flow_expired", "this sign-in has expired")
        return session, user

    def _factor_service(self) -> FactorService:
        if self._factors is None:
            raise RuntimeError("this login flow service was built without a factor service")
        return self._factors

    def _issuer(self) -> str:
        """The name an authenticator app shows for this instance: the issuer's host."""
        return urlsplit(self._auth_requests.issuer).netloc or self._auth_requests.issuer

    async def _render_factor(self, loaded: Loaded, error: ZituiError | None) -> Step:
        """The page of a stored second-factor step (a reload, or a wrong code)."""
        flow, view = loaded.flow, loaded.view()
        language = language_of(flow)
        if flow.step is FlowStep.RECOVERY_CODES:
            return ShowRecoveryCodes(view, (), language=language)  # shown once
        async with self._store.reader() as tx:
            user = await tx.users.find(flow.user_id) if flow.user_id else None
            if user is None:
                raise FlowExpired("login.flow_expired", "this sign-in has expired")
            policy = await login_policy(tx, user.org_id)
            if flow.step is FlowStep.MFA_VERIFY:
                kinds = await usable_kinds(tx, user.id, policy)
                left = await self._factor_service().recovery_codes_left(tx, user.id)
                return VerifyFactor(view, kinds, left, language=language, error=error)
            factor_id = str(flow.internal.get(PENDING_TOTP, ""))
            if flow.step is FlowStep.MFA_TOTP and factor_id:
                setup = await self._factor_service().pending_totp(
                    tx, user, factor_id, issuer=self._issuer()
                )
                if setup is not None:
                    return SetUpTotp(
                        view, setup.qr_svg, setup.uri, setup.secret, language=language, error=error
                    )
        forced = mfa_forced(policy)
        return SetUpFactor(view, forced, offered_kinds(policy), language=language, error=error)
