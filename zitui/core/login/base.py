"""What every step of the login flow shares: the flow as one page reads it (`Loaded`), the
service's dependencies, moving on after a proof (`_finish`), the page for a stored step
(`_render`), and reading a flow for its browser (`_load`).

`LoginFlowService` (flows.py) adds the sign-in's pages, `SelfServiceSteps` (self_service.py)
those of registration and the codes sent by mail; both are built on `FlowBase`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from zitui.core.clock import Clock
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.credentials import PasswordChecker, login_policy
from zitui.core.crypto import tokens
from zitui.core.crypto.passwords import PasswordHasher
from zitui.core.factors import FactorService
from zitui.core.idp_client import IdpClient
from zitui.core.idps import IdpService
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
    ProviderButton,
    Refused,
    Register,
    Registration,
    SetPassword,
    Step,
    VerifyEmail,
)
from zitui.core.oidc.auth_requests import AuthRequestService
from zitui.core.otp_factors import OtpFactors
from zitui.core.password_notice import PasswordNotice
from zitui.core.policies import (
    LoginPolicy,
    PrivacyPolicy,
    from_settings,
)
from zitui.core.sessions import (
    SessionService,
)
from zitui.core.throttle import Throttle, ThrottleLimits
from zitui.core.user_codes import CodeMailer, Purpose
from zitui.core.users import password_policy
from zitui.core.webauthn import WebAuthnService
from zitui.errors import (
    FlowExpired,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    RateLimited,
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
BEFORE_PROOF = frozenset({FlowStep.LOGIN_NAME, FlowStep.CHOOSE_ACCOUNT, FlowStep.PASSWORD})
# Steps the login-name form may be asked from: the registration form ("Already have an
# account?") and its refusal ("Back to sign-in") proved nothing either.
BACK_TO_NAME = BEFORE_PROOF | {FlowStep.REGISTER, FlowStep.NOT_ALLOWED}
PASSWORD_CHECK = "password"
# Keys of a flow's internal data: the user a code step is for (kept apart from `user_id`,
# which a password reset must not set before the code proves it), and the last mail's id.
SUBJECT = "subject"
MESSAGE = "message_id"
# The organisation whose password rules a reset page lists (see `request_password_reset`).
RULES_ORG = "rules_org"
# The organisation a login name's domain discovered (discovery.py): the flow's `org_id` now.
DISCOVERED = "discovered_org"
# A page of this server a flow without an application goes back to (a path, never a URL).
RETURN_TO = "return_to"
REGISTRATION_CLOSED = ("registration.disabled", "registration is not open here")
RESET_CLOSED = ("password.reset_disabled", "the password cannot be reset here")
PURPOSES = {
    FlowStep.VERIFY_EMAIL: Purpose.EMAIL,
    FlowStep.RESET_PASSWORD: Purpose.RESET,
    FlowStep.INIT_USER: Purpose.INIT,
}
STEP_OF = {purpose: step for step, purpose in PURPOSES.items()}
INITIAL = UserState.INITIAL


def cookie_digest(browser_cookie: str) -> str:
    return tokens.digest(browser_cookie)


@dataclass(frozen=True)
class Loaded:
    """A flow read for one page, in one snapshot: the flow, and when the step needs them the
    auth request it serves and the login policy of its organisation."""

    flow: StoredLoginFlow
    stored: StoredAuthRequest | None = None
    policy: LoginPolicy | None = None

    def view(self, flow: StoredLoginFlow | None = None) -> FlowView:
        return FlowView.of(flow or self.flow)


class FlowBase:
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
        notice: PasswordNotice | None = None,
        factors: FactorService | None = None,
        otp: OtpFactors | None = None,
        webauthn: WebAuthnService | None = None,
        challenge_key: bytes = b"",
        idps: IdpService | None = None,
        idp_client: IdpClient | None = None,
        callbacks: tuple[str, str] = ("", ""),
    ) -> None:
        self._store = store
        # External identity providers (external_steps.py): the managers' configuration, the
        # protocol client, and this server's two redirect URIs (query, form_post).
        self._idps = idps
        self._idp_client_ = idp_client
        self._callbacks = callbacks
        self._factors = factors
        self._otp = otp
        self._webauthn = webauthn
        # Keys the WebAuthn challenges of the flows (factor_steps.py `_challenge`).
        self._challenge_key = challenge_key or secrets.token_bytes(32)
        self._notice = notice
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

    async def _register_step(
        self, loaded: Loaded, values: Registration, error: ZituiError | None
    ) -> Register:
        async with self._store.reader() as tx:
            org_id = await registration_org(tx, loaded.flow.org_id)
            rules = await password_policy(tx, org_id)
            legal = from_settings(
                PrivacyPolicy, await tx.policies.find_effective("privacy", org_id)
            )
        return Register(loaded.view(), values, rules, legal, error=error)

    async def _set_password_step(
        self, loaded: Loaded, *, code: str, resent: bool, error: ZituiError | None
    ) -> SetPassword:
        flow = loaded.flow
        subject = subject_of(flow)
        async with self._store.reader() as tx:
            user = await tx.users.find(subject) if subject else None
            rules = await password_policy(tx, await rules_org(tx, flow, user))
        purpose = PURPOSES[flow.step]
        return SetPassword(
            loaded.view(),
            purpose.value,
            flow.login_name,
            rules,
            code=code,
            resent=resent,
            language=language_of(flow),
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

    async def _finish(
        self, tx: Repositories, loaded: Loaded, session: Session, now: datetime
    ) -> tuple[StoredLoginFlow, Step]:
        """Inside the transaction: what a proven session does next."""
        flow = replace(loaded.flow, session_id=session.id, user_id=session.user_id)
        view = loaded.view(flow)
        language = session.preferred_language
        user = await tx.users.find(session.user_id)
        unverified = user is not None and bool(user.email) and may_receive(user, Purpose.EMAIL)
        if user is not None and unverified and user.state is INITIAL:
            # Registered, never verified: the address first (ZITADEL's VerifyEmail step).
            ctx = Context(self._clock, session_actor(session), RequestMeta(origin="login"))
            sent = await self._mailer().send(
                tx, ctx, user, Purpose.EMAIL, language=language_of(flow), flow_id=flow.id
            )
            internal = {**flow.internal, MESSAGE: sent.message_id, "language": language}
            flow = moved(replace(flow, internal=internal), FlowStep.VERIFY_EMAIL, now)
            delivery = Delivery(sent.recipient, "queued")
            return flow, VerifyEmail(view, delivery, language=language)
        if user is not None:
            # A second factor after the first factor and the email, before a password change
            # (ZITADEL's order).
            factor = await self._factor_step(tx, flow, session, user, loaded.stored, now)
            if factor is not None:
                return factor
            # An external identity waiting for the account that signed in (external_accounts.py).
            flow, refused = await self._link_pending(tx, flow, session, now)
            if refused is not None:
                return flow, refused
        if session.password_change_required:
            flow = moved(flow, FlowStep.CHANGE_PASSWORD, now)
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
                flow = moved(replace(flow, internal=internal), FlowStep.REFUSED, now)
                return flow, Refused(view, refusal.code, refusal.message, language=language)
        redirect_uri = await default_redirect(tx, flow, session.org_id)
        done = Done(view, session.user_id, language=language, redirect_uri=redirect_uri)
        return moved(flow, FlowStep.DONE, now), done

    async def _factor_step(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        session: Session,
        user: User,
        stored: StoredAuthRequest | None,
        now: datetime,
    ) -> tuple[StoredLoginFlow, Step] | None:
        """The second-factor step a proven session needs (factor_steps.py), or None."""
        return None

    async def _link_pending(
        self, tx: Repositories, flow: StoredLoginFlow, session: Session, now: datetime
    ) -> tuple[StoredLoginFlow, Step | None]:
        """Link the external identity the flow holds to the account (external_accounts.py)."""
        return flow, None

    async def _reauth_at_provider(self, flow: StoredLoginFlow, session: Session) -> Step | None:
        """For an account that signed in through a provider: the flow `flow` (not stored yet)
        sends it to that provider again, or None (external_steps.py)."""
        return None

    async def _providers(
        self, flow: StoredLoginFlow, policy: LoginPolicy
    ) -> tuple[ProviderButton, ...]:
        """The external identity providers the login-name page offers (external_accounts.py)."""
        return ()

    async def _linking_name(self, flow: StoredLoginFlow) -> str:
        """The provider whose identity this sign-in links, or "" (external_accounts.py)."""
        return ""

    async def _render_external(self, loaded: Loaded, error: ZituiError | None) -> Step:
        """The page of a stored external-provider step (external_accounts.py)."""
        raise NotFound("login.flow_not_found", "this sign-in is unknown to this browser")

    async def _render_factor(self, loaded: Loaded, error: ZituiError | None) -> Step:
        """The page of a stored second-factor step (factor_steps.py)."""
        raise NotFound("login.flow_not_found", "this sign-in is unknown to this browser")

    def _passkey_options(self, flow: StoredLoginFlow, policy: LoginPolicy) -> str:
        """WebAuthn request options for a passkey sign-in from the login-name page, or ""
        (key_steps.py)."""
        return ""

    async def _ask_login_name(
        self, loaded: Loaded, *, login_name: str, error: ZituiError | None = None
    ) -> AskLoginName:
        """The login-name page: registration, passkeys and external providers as the flow's
        login policy allows."""
        policy = await self._policy(loaded)
        return AskLoginName(
            loaded.view(),
            login_name=login_name,
            error=error,
            may_register=policy.allow_register,
            passkey_options=self._passkey_options(loaded.flow, policy),
            providers=await self._providers(loaded.flow, policy),
            local_allowed=policy.allow_username_password,
            linking=await self._linking_name(loaded.flow),
        )

    async def _render(
        self,
        loaded: Loaded,
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
                return await self._ask_login_name(loaded, login_name=view.login_hint)
            case FlowStep.PASSWORD:
                policy = await self._policy(loaded)
                return AskPassword(
                    view,
                    flow.login_name,
                    language=language,
                    error=error,
                    may_reset=not policy.hide_password_reset,
                    linking=await self._linking_name(flow),
                )
            case FlowStep.CHANGE_PASSWORD:
                return await self._change_step(flow, view, error)
            case FlowStep.REGISTER:
                return await self._register_step(loaded, discovered_values(flow), error)
            case FlowStep.VERIFY_EMAIL:
                delivery = await self._delivery(flow)
                return VerifyEmail(
                    view, delivery, code=code, resent=resent, language=language, error=error
                )
            case FlowStep.RESET_PASSWORD | FlowStep.INIT_USER:
                return await self._set_password_step(loaded, code=code, resent=resent, error=error)
            case FlowStep.EMAIL_VERIFIED:
                redirect_uri = await self._default_redirect(flow, subject_of(flow))
                return EmailVerified(view, language=language, redirect_uri=redirect_uri)
            case FlowStep.NOT_ALLOWED:
                code_, message = flow.internal.get("refusal", list(REGISTRATION_CLOSED))
                # Back to the page the flow came from, without the notice of a success.
                back = default_redirect_path(flow).partition("?")[0]
                return NotAllowed(view, str(code_), str(message), back=back)
            case (
                FlowStep.MFA_PROMPT
                | FlowStep.MFA_TOTP
                | FlowStep.MFA_KEY
                | FlowStep.RECOVERY_CODES
                | FlowStep.MFA_VERIFY
            ):
                return await self._render_factor(loaded, error)
            case FlowStep.EXTERNAL | FlowStep.EXTERNAL_NOT_FOUND | FlowStep.EXTERNAL_REGISTER:
                return await self._render_external(loaded, error)
            case FlowStep.DONE:
                redirect_uri = await self._default_redirect(flow, flow.user_id or "")
                return Done(view, flow.user_id or "", redirect_uri=redirect_uri)
            case FlowStep.REFUSED:
                refusal_code, refusal_message = flow.internal.get("refusal", ["", ""])
                return Refused(view, str(refusal_code), str(refusal_message))
            case _:
                return await self._ask_login_name(loaded, login_name=flow.login_name, error=error)

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
    ) -> Loaded:
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
                return Loaded(flow, None, rules)
            try:
                stored = await self._auth_requests.load_pending(tx, flow.auth_request_id)
            except NotFound as exc:  # purged with its request: over either way
                raise FlowExpired("login.flow_expired", "this sign-in has expired") from exc
        return Loaded(flow, stored, rules)

    async def _default_redirect(self, flow: StoredLoginFlow, user_id: str) -> str:
        async with self._store.reader() as tx:
            user = await tx.users.find(user_id) if user_id else None
            return await default_redirect(tx, flow, user.org_id if user else flow.org_id)

    async def _policy(self, loaded: Loaded) -> LoginPolicy:
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
        return cookie_digest(browser_cookie)


def moved(
    flow: StoredLoginFlow, step: FlowStep, now: datetime, *, language: str | None = None
) -> StoredLoginFlow:
    internal = dict(flow.internal)
    if language is not None:
        internal["language"] = language
    return replace(flow, step=step, internal=internal, updated_at=now)


def new_flow(
    browser_digest: str,
    step: FlowStep,
    now: datetime,
    *,
    client_ip: str,
    stored: StoredAuthRequest | None = None,
    login_name: str = "",
    user_id: str | None = None,
    internal: dict[str, object] | None = None,
    checks: dict[str, datetime] | None = None,
    kind: str = "login",
) -> StoredLoginFlow:
    """A flow starting at `step`, for the request `stored` serves (if any)."""
    return StoredLoginFlow(
        id=new_id(),
        kind=kind,
        browser_digest=browser_digest,
        auth_request_id=stored.id if stored else None,
        org_id=stored.org_id if stored else "",
        user_id=user_id,
        session_id=None,
        login_name=login_name[:400],
        client_ip=client_ip[:64],
        step=step,
        checks=checks or {},
        attempts={},
        internal=internal or {},
        created_at=now,
        updated_at=now,
        expires_at=expiry(now, stored),
    )


def expiry(now: datetime, stored: StoredAuthRequest | None) -> datetime:
    end = now + FLOW_LIFETIME
    return min(end, stored.expires_at) if stored is not None else end


def hint_of(stored: StoredAuthRequest | None, sessions: list[Session]) -> str:
    """The login name to pre-fill: the request's login_hint, else the id_token_hint's user
    when this browser knows them."""
    if stored is None:
        return ""
    if stored.login_hint:
        return stored.login_hint[:400]
    known = [s.login_name for s in sessions if s.user_id == stored.id_token_hint_subject]
    return known[0] if stored.id_token_hint_subject and known else ""


async def default_redirect(tx: Repositories, flow: StoredLoginFlow, org_id: str) -> str:
    """Where a flow without an application ends: the login policy's `default_redirect_uri`
    of `org_id` (the user's organisation once known, as ZITADEL), or "" for the signed-in
    page. A flow that serves an application goes back to it."""
    if flow.auth_request_id:
        return ""
    back = default_redirect_path(flow)
    if back:
        return back  # a page of this server that started the flow (the account pages)
    return (await login_policy(tx, org_id or None)).default_redirect_uri


def default_redirect_path(flow: StoredLoginFlow) -> str:
    """The page of this server a flow without an application came from, or ""."""
    back = flow.internal.get(RETURN_TO)
    if flow.auth_request_id or not isinstance(back, str):
        return ""
    return back if back.startswith("/") and not back.startswith("//") else ""


def undiscovered(flow: StoredLoginFlow) -> StoredLoginFlow:
    """The flow without the organisation a login name discovered (none was requested)."""
    if DISCOVERED not in flow.internal:
        return flow
    internal = {k: v for k, v in flow.internal.items() if k != DISCOVERED}
    return replace(flow, org_id="", internal=internal)


def discovered_values(flow: StoredLoginFlow) -> Registration:
    """The registration form of a discovered organisation starts with the login name as its
    email (ZITADEL's login_hint); any other starts empty."""
    if DISCOVERED not in flow.internal:
        return Registration()
    return Registration(email=flow.login_name)


def session_actor(session: Session) -> Actor:
    return Actor(user_id=session.user_id, org_id=session.org_id, login_name=session.login_name)


def subject_of(flow: StoredLoginFlow) -> str:
    return str(flow.internal.get(SUBJECT) or flow.user_id or "")


def language_of(flow: StoredLoginFlow) -> str:
    shown = flow.internal.get(SHOWN, {})
    locales = shown.get("ui_locales", []) if isinstance(shown, dict) else []
    first = str(locales[0]) if locales else ""
    return str(flow.internal.get("language") or first)


def may_receive(user: User, purpose: Purpose) -> bool:
    """Whether a code of `purpose` may (still) go to this user."""
    if user.state not in (UserState.ACTIVE, UserState.INITIAL):
        return False
    if purpose is Purpose.INIT:
        return user.state is UserState.INITIAL
    if purpose is Purpose.EMAIL:
        return not user.email_verified
    return True


async def rules_org(tx: Repositories, flow: StoredLoginFlow, user: User | None) -> str:
    """The organisation whose password rules a code step lists and checks first."""
    shown = flow.internal.get(RULES_ORG)
    if isinstance(shown, str) and shown:
        return shown
    return user.org_id if user else await registration_org(tx, flow.org_id)


async def registration_org(tx: Repositories, org_id: str) -> str:
    """The organisation a registration creates its user in: the one the application's
    request named by scope, else the instance's default organisation."""
    if org_id:
        return org_id
    instance = await tx.instances.find()
    if instance is None:
        raise PreconditionFailed("instance.not_set_up", "this instance is not set up yet")
    return instance.default_org_id
