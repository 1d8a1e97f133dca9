"""What the second-factor steps of the login flow share: the flow's keys for them, which
kinds a user may set up or prove, the flow's WebAuthn challenge, the services they use, and
the pages of the stored steps. `FactorSteps` (factor_steps.py) builds on `FactorPages`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from urllib.parse import urlsplit

from zitui.core.credentials import login_policy
from zitui.core.factors import Factor, FactorKind, FactorService
from zitui.core.login.base import FlowBase, Loaded, language_of
from zitui.core.login.reuse import Demand
from zitui.core.login.second_factor import (
    PASSKEY,
    flow_external,
    mfa_required,
    offered_kinds,
)
from zitui.core.login.steps import (
    FlowView,
    SetUpFactor,
    SetUpKey,
    SetUpTotp,
    ShowRecoveryCodes,
    Step,
    VerifyFactor,
)
from zitui.core.otp_factors import OtpFactors
from zitui.core.policies import LoginPolicy
from zitui.core.webauthn import WebAuthnService
from zitui.errors import FlowExpired, InvalidArgument, PreconditionFailed, ZituiError
from zitui.records import (
    FlowStep,
    Session,
    StoredLoginFlow,
    User,
)
from zitui.store import Repositories

# The flow's internal keys: the pending TOTP factor's id (its secret stays in the factor), the
# kind of security key being registered, the factor the verify page asks for, where its code
# went, that the proof ends a set-up, and how many WebAuthn challenges the flow has spent.
PENDING_TOTP = "pending_totp"
KEY_KIND = "key_kind"
CURRENT = "factor"
SENT_TO = "sent_to"
SETTING_UP = "setting_up"
CHALLENGES = "challenges"
# A flow a signed-in user started to add a factor (`FactorSteps.start_adding_factor`).
ADDING = "adding"
SECOND_FACTOR_CHECK = "second_factor"
CODE_KINDS = (FactorKind.OTP_EMAIL.value, FactorKind.OTP_SMS.value)
KEY_KINDS = (FactorKind.U2F.value, FactorKind.PASSKEY.value)
# ZITADEL's ForceAndNotConfigured: MFA is forced, but the policy allows no factor we offer.
FORCED_NOT_CONFIGURED = ("mfa.forced_not_configured", "no second factor can be set up here")
FACTOR_STEPS = frozenset(
    {
        FlowStep.MFA_PROMPT,
        FlowStep.MFA_TOTP,
        FlowStep.MFA_KEY,
        FlowStep.RECOVERY_CODES,
        FlowStep.MFA_VERIFY,
    }
)
SET_UP_STEPS = (FlowStep.MFA_PROMPT, FlowStep.MFA_TOTP, FlowStep.MFA_KEY)


def wrong_code(kind: str = "") -> InvalidArgument:
    """A wrong code; for a code sent by email or SMS the message points at the latest one."""
    if kind in CODE_KINDS:
        return InvalidArgument(
            "mfa.sent_code_invalid", "the code is wrong, expired or was used", field="code"
        )
    return InvalidArgument("mfa.code_invalid", "the code is wrong or was used", field="code")


def kind_not_offered() -> InvalidArgument:
    return InvalidArgument("mfa.kind_not_offered", "this second factor cannot be set up here")


def kind_not_available() -> InvalidArgument:
    return InvalidArgument("mfa.kind_not_available", "the user has no factor of this kind")


def step_over() -> PreconditionFailed:
    """A page's answer (a stale tab, the back button) that the flow's step does not take."""
    return PreconditionFailed("login.step_over", "the sign-in has moved on from this page")


def mfa_forced_error() -> PreconditionFailed:
    return PreconditionFailed("mfa.forced", "a second factor must be set up to sign in here")


def offered_to(user: User, policy: LoginPolicy) -> tuple[str, ...]:
    """The kinds `user` may set up under `policy`: codes only to a verified address."""
    kinds = offered_kinds(policy)
    if not (user.email and user.email_verified):
        kinds = tuple(k for k in kinds if k != FactorKind.OTP_EMAIL)
    if not (user.phone and user.phone_verified):
        kinds = tuple(k for k in kinds if k != FactorKind.OTP_SMS)
    return kinds


def addable(user: User, policy: LoginPolicy, factors: list[Factor]) -> tuple[str, ...]:
    """The kinds `user` may add to `factors`: one app and one code kind each, any number of
    security keys and passkeys."""
    single = {FactorKind.TOTP.value, *CODE_KINDS}
    have = {f.kind.value for f in factors}
    return tuple(k for k in offered_to(user, policy) if k not in single or k not in have)


def usable(factors: list[Factor], policy: LoginPolicy) -> tuple[str, ...]:
    """The kinds of `factors` (ready, last used first) the policy lets the user prove."""
    allowed = offered_kinds(policy)
    return tuple(dict.fromkeys(f.kind.value for f in factors if f.kind.value in allowed))


class FactorPages(FlowBase):
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

    def _otp_service(self) -> OtpFactors:
        if self._otp is None:
            raise RuntimeError("this login flow service was built without one-time codes")
        return self._otp

    def _key_service(self) -> WebAuthnService:
        if self._webauthn is None:
            raise RuntimeError("this login flow service was built without WebAuthn")
        return self._webauthn

    def _issuer(self) -> str:
        """The name an authenticator app shows for this instance: the issuer's host."""
        return urlsplit(self._auth_requests.issuer).netloc or self._auth_requests.issuer

    def _challenge(self, flow: StoredLoginFlow) -> bytes:
        """The flow's current WebAuthn challenge: an HMAC of its id and how many it spent, so
        a page can show it without a write and each POST that uses one spends it."""
        spent = int(flow.internal.get(CHALLENGES, 0))
        message = f"webauthn\0{flow.id}\0{spent}".encode()
        return hmac.new(self._challenge_key, message, hashlib.sha256).digest()

    @staticmethod
    def _spend_challenge(flow: StoredLoginFlow) -> StoredLoginFlow:
        spent = int(flow.internal.get(CHALLENGES, 0)) + 1
        return replace(flow, internal={**flow.internal, CHALLENGES: spent})

    # --- pages of stored steps ---------------------------------------------------------

    async def _verify_step(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        user: User,
        kinds: tuple[str, ...],
        error: ZituiError | None,
    ) -> VerifyFactor:
        """The verify page for the flow's current factor (the first of `kinds` by default)."""
        current = str(flow.internal.get(CURRENT) or "")
        if current not in kinds:
            current = kinds[0] if kinds else ""
        options = ""
        if current in KEY_KINDS:
            mine = [
                f
                for f in await tx.factors.list_for_user(user.id)
                if f.kind == current and f.credential_id
            ]
            ceremony = self._key_service().authentication(
                mine, user_verification=current == PASSKEY, challenge=self._challenge(flow)
            )
            options = ceremony.options_json
        left = await self._factor_service().recovery_codes_left(tx, user.id)
        return VerifyFactor(
            FlowView.of(flow),
            kinds,
            left,
            current=current,
            options_json=options,
            sent_to=str(flow.internal.get(SENT_TO, "")) if current in CODE_KINDS else "",
            language=language_of(flow),
            error=error,
        )

    async def _key_setup_step(
        self, tx: Repositories, flow: StoredLoginFlow, user: User, error: ZituiError | None
    ) -> SetUpKey:
        kind = str(flow.internal.get(KEY_KIND, FactorKind.U2F.value))
        existing = [f for f in await tx.factors.list_for_user(user.id) if f.credential_id]
        ceremony = self._key_service().registration(
            user, existing, passkey=kind == PASSKEY, challenge=self._challenge(flow)
        )
        return SetUpKey(
            FlowView.of(flow), kind, ceremony.options_json, language=language_of(flow), error=error
        )

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
                kinds = usable(await self._factor_service().ready_factors(tx, user.id), policy)
                return await self._verify_step(tx, flow, user, kinds, error)
            if flow.step is FlowStep.MFA_KEY:
                return await self._key_setup_step(tx, flow, user, error)
            factor_id = str(flow.internal.get(PENDING_TOTP, ""))
            if flow.step is FlowStep.MFA_TOTP and factor_id:
                setup = await self._factor_service().pending_totp(
                    tx, user, factor_id, issuer=self._issuer()
                )
                if setup is not None:
                    return SetUpTotp(
                        view, setup.qr_svg, setup.uri, setup.secret, language=language, error=error
                    )
            if flow.internal.get(ADDING):
                factors = await self._factor_service().ready_factors(tx, user.id)
                kinds = addable(user, policy, factors)
                return SetUpFactor(view, False, kinds, language=language, error=error)
        external = flow_external(loaded.flow.checks)
        required = mfa_required(policy, Demand.of(loaded.stored), external=external)
        return SetUpFactor(view, required, offered_to(user, policy), language=language, error=error)
