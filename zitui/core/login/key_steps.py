"""Security keys and passkeys in the login flow (WebAuthn; `zitui/core/webauthn.py` runs the
ceremonies): registering one from the set-up prompt, proving one as the second factor, and
signing in with a passkey alone from the login-name page (its button, or the browser's
autofill of the login-name field).

Every ceremony's challenge is the flow's current one (`FactorSteps._challenge`); each POST
that answers a ceremony spends it, whatever the outcome, so an answer is taken once. A browser
that failed or was cancelled posts the error's name instead, and the page says what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from zitui.core.context import RequestMeta
from zitui.core.credentials import login_policy, user_context
from zitui.core.factors import FactorKind
from zitui.core.login.base import BEFORE_PROOF, Loaded, cookie_digest, moved
from zitui.core.login.factor_pages import CURRENT, KEY_KIND, KEY_KINDS, SETTING_UP, step_over
from zitui.core.login.second_factor import PASSKEY, passkeys_allowed
from zitui.core.login.steps import Outcome
from zitui.core.login.verify_steps import VerifySteps
from zitui.core.policies import LoginPolicy
from zitui.core.sessions import new_browser_cookie
from zitui.core.webauthn import client_error as browser_error
from zitui.core.webauthn_input import loads, unknown_credential
from zitui.errors import InvalidArgument, PreconditionFailed, Unauthenticated, ZituiError
from zitui.records import FlowStep, Session, StoredLoginFlow, User, UserState
from zitui.store import Repositories

PASSKEY_CHECK = "passkey"
# A ceremony's check inside the transaction: None when the answer proves the factor.
Prove = Callable[[Repositories, User, bytes], Awaitable[ZituiError | None]]


def credential_id_of(credential: str) -> str:
    """The credential id a browser's answer names, or "" when it names none."""
    try:
        value = loads(credential).get("id")
    except InvalidArgument:
        return ""
    return value if isinstance(value, str) else ""


class KeySteps(VerifySteps):
    async def register_key(
        self,
        browser_cookie: str,
        flow_id: str,
        credential: str,
        client_error: str,
        name: str,
        request: RequestMeta,
    ) -> Outcome:
        """The new security key's or passkey's answer to the creation ceremony: a ready factor,
        the session's second factor (a passkey's multi-factor), and on."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        kind = str(loaded.flow.internal.get(KEY_KIND, ""))
        if loaded.flow.step is not FlowStep.MFA_KEY or kind not in KEY_KINDS:
            return Outcome(await self._render(loaded, error=step_over()))

        async def register(tx: Repositories, user: User, challenge: bytes) -> ZituiError | None:
            try:
                await self._key_service().finish_registration(
                    tx,
                    user_context(self._clock, user, request),
                    user,
                    passkey=kind == PASSKEY,
                    credential=credential,
                    challenge=challenge,
                    name=name,
                )
            except (InvalidArgument, PreconditionFailed) as exc:
                return exc
            return None

        return await self._answer(
            browser_cookie, loaded, kind, client_error, request, register, setting_up=True
        )

    async def verify_key(
        self,
        browser_cookie: str,
        flow_id: str,
        credential: str,
        client_error: str,
        request: RequestMeta,
    ) -> Outcome:
        """The user's security key (or passkey) answering the verify page's ceremony."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        kind = str(loaded.flow.internal.get(CURRENT, ""))
        if loaded.flow.step is not FlowStep.MFA_VERIFY or kind not in KEY_KINDS:
            return Outcome(await self._render(loaded, error=step_over()))

        async def check(tx: Repositories, user: User, challenge: bytes) -> ZituiError | None:
            return await self._check_key(tx, user, kind, credential, challenge, request)

        return await self._answer(
            browser_cookie, loaded, kind, client_error, request, check, setting_up=False
        )

    async def _answer(
        self,
        browser_cookie: str,
        loaded: Loaded,
        kind: str,
        client_error: str,
        request: RequestMeta,
        prove: Prove,
        *,
        setting_up: bool,
    ) -> Outcome:
        """What both ceremonies of the flow's user share: the challenge is spent whatever the
        answer; a browser's error or a refused answer shows the page again with its message;
        a proven one records the factor (and ends a set-up) and goes on."""
        session, user = await self._signed_in(browser_cookie, loaded.flow)
        challenge = self._challenge(loaded.flow)
        flow = self._spend_challenge(loaded.flow)
        error: ZituiError | None = browser_error(client_error) if client_error else None
        async with self._store.transaction() as tx:
            if error is None:
                error = await prove(tx, user, challenge)
            if error is None:
                if setting_up:
                    flow = replace(flow, internal={**flow.internal, SETTING_UP: True})
                flow, step = await self._factor_proven(
                    tx, replace(loaded, flow=flow), session, user, kind, request
                )
            await tx.login_flows.update(flow)
        if error is not None:
            return Outcome(await self._render(replace(loaded, flow=flow), error=error))
        return Outcome(step)

    async def _check_key(
        self,
        tx: Repositories,
        user: User,
        kind: str,
        credential: str,
        challenge: bytes,
        request: RequestMeta,
    ) -> ZituiError | None:
        """Inside the transaction: None when `credential` proves the user's key of `kind`."""
        try:
            await self._key_service().check(
                tx,
                user_context(self._clock, user, request),
                credential=credential,
                challenge=challenge,
                user=user,
                kinds={FactorKind(kind)},
                user_verification=kind == PASSKEY,
            )
        except InvalidArgument as exc:
            return exc
        return None

    async def sign_in_with_passkey(
        self,
        browser_cookie: str,
        flow_id: str,
        credential: str,
        client_error: str,
        request: RequestMeta,
    ) -> Outcome:
        """A passkey alone, from the login-name page: the user it belongs to is signed in
        (user verification makes it multi-factor), in one transaction as a password sign-in.
        Refused on the login-name page when the passkey is unknown, its user may not sign in
        here, or the policy of the request's or the user's organisation allows no passkeys."""
        loaded = await self._load(browser_cookie, flow_id, request=True, policy=True)
        flow = loaded.flow
        if flow.step not in BEFORE_PROOF:  # a stale login-name page (another tab, "back")
            return Outcome(await self._render(loaded, error=step_over()))
        challenge = self._challenge(flow)
        flow = moved(self._spend_challenge(flow), FlowStep.LOGIN_NAME, self._clock.now())
        cookie = new_browser_cookie()
        error: ZituiError | None = browser_error(client_error) if client_error else None
        async with self._store.transaction() as tx:
            user = None if error else await self._passkey_owner(tx, flow, credential)
            if error is None and user is None:
                error = unknown_credential()
            if error is None and user is not None:
                error = await self._check_key(tx, user, PASSKEY, credential, challenge, request)
            if error is None and user is not None:
                try:
                    session = await self._sign_in_passkey(tx, flow, user, cookie, request)
                except Unauthenticated as exc:  # locked or deactivated meanwhile
                    error = exc
            if error is None and user is not None:
                flow = replace(
                    flow,
                    browser_digest=cookie_digest(cookie),
                    login_name=session.login_name,
                    checks={**flow.checks, PASSKEY_CHECK: self._clock.now()},
                )
                flow, step = await self._finish(
                    tx, replace(loaded, flow=flow), session, self._clock.now()
                )
            await tx.login_flows.update(flow)
        if error is not None:
            return Outcome(await self._render(replace(loaded, flow=flow), error=error))
        return Outcome(step, browser_cookie=cookie)

    async def _passkey_owner(
        self, tx: Repositories, flow: StoredLoginFlow, credential: str
    ) -> User | None:
        """The active user whose passkey `credential` names, when they may sign in on this
        flow (its organisation, if the request named one) with a passkey."""
        stored = await tx.factors.find_by_credential_id(credential_id_of(credential))
        if stored is None or stored.kind != FactorKind.PASSKEY:
            return None
        user = await tx.users.find(stored.user_id)
        if user is None or user.state is not UserState.ACTIVE:
            return None
        if flow.org_id and user.org_id != flow.org_id:
            return None
        if not passkeys_allowed(await login_policy(tx, user.org_id)):
            return None
        return user

    async def _sign_in_passkey(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        user: User,
        cookie: str,
        request: RequestMeta,
    ) -> Session:
        """Inside the transaction: a new browser id, and the user's session on it, proven by
        the passkey."""
        new_digest = cookie_digest(cookie)
        await tx.sessions.move_browser(flow.browser_digest, new_digest)
        await tx.login_flows.move_browser(flow.browser_digest, new_digest)
        return await self._sessions.start_passkey_session(
            tx, new_digest, user, request, flow_id=flow.id
        )

    def _passkey_options(self, flow: StoredLoginFlow, policy: LoginPolicy) -> str:
        """Request options for a passkey sign-in from the login-name page, or "" when the
        policy allows none (or this service has no WebAuthn)."""
        if self._webauthn is None or not passkeys_allowed(policy):
            return ""
        ceremony = self._webauthn.authentication(
            [], user_verification=True, challenge=self._challenge(flow)
        )
        return ceremony.options_json
