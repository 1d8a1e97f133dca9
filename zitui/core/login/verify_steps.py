"""Proving a second factor with a code: an authenticator app's, one sent by email or SMS, or
a recovery code; and choosing another of the user's factors on the verify page.

Wrong codes count against the user (the lockout policy's `max_otp_attempts`) and in the `otp`
throttle; codes by email or SMS are sent at most a few times per window (the `resend`
throttle), as the mails of registration are.
"""

from __future__ import annotations

from dataclasses import replace

from zitui.core.context import RequestMeta
from zitui.core.credentials import login_policy, user_context
from zitui.core.factors import FactorKind
from zitui.core.login.base import Loaded
from zitui.core.login.factor_pages import (
    CODE_KINDS,
    CURRENT,
    kind_not_available,
    usable,
    wrong_code,
)
from zitui.core.login.factor_steps import FactorSteps
from zitui.core.login.second_factor import mfa_forced
from zitui.core.login.steps import Outcome
from zitui.core.otp_failures import count_code_failure
from zitui.errors import PreconditionFailed, Unauthenticated
from zitui.records import FlowStep, User, UserState
from zitui.store import Repositories

TOTP_DIGITS = 6


class VerifySteps(FactorSteps):
    async def verify_factor(
        self, browser_cookie: str, flow_id: str, code: str, request: RequestMeta
    ) -> Outcome:
        """A code of the factor the page asks for, or one of the user's recovery codes (used
        once): digits are the factor's code, anything else a recovery code."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step is not FlowStep.MFA_VERIFY:
            return Outcome(await self._render(loaded))
        session, user = await self._signed_in(browser_cookie, flow)
        reservation = await self._code_throttle.reserve(name=user.id, ip=request.ip)
        async with self._store.transaction() as tx:
            kind = await self._check_code(tx, loaded, user, code, request)
            if kind:
                await self._code_throttle.succeeded(tx, reservation)
                flow, step = await self._factor_proven(tx, loaded, session, user, kind, request)
                await tx.login_flows.update(flow)
        if not kind:
            error = wrong_code(str(flow.internal.get(CURRENT, "")))
            return Outcome(await self._render(loaded, error=error))
        return Outcome(step)

    async def use_factor(
        self, browser_cookie: str, flow_id: str, kind: str, request: RequestMeta
    ) -> Outcome:
        """ "Another way" on the verify page: ask for the user's factor of `kind` instead; a
        code by email or SMS is sent now. Asking for the same code kind again resends it."""
        loaded = await self._load(browser_cookie, flow_id, request=True)
        flow = loaded.flow
        if flow.step is not FlowStep.MFA_VERIFY:
            return Outcome(await self._render(loaded))
        _, user = await self._signed_in(browser_cookie, flow)
        async with self._store.reader() as tx:
            kinds = await self._usable_kinds(tx, user)
        if kind not in kinds:
            return Outcome(await self._render(loaded, error=kind_not_available()))
        if kind in CODE_KINDS:
            await self._mail_throttle.reserve(name=user.id, ip=request.ip)
        flow = replace(
            flow, internal={**flow.internal, CURRENT: kind}, updated_at=self._clock.now()
        )
        async with self._store.transaction() as tx:
            if kind in CODE_KINDS:
                flow = await self._send_factor_code(tx, flow, user, kind)
            await tx.login_flows.update(flow)
        return Outcome(await self._render(replace(loaded, flow=flow)))

    async def _usable_kinds(self, tx: Repositories, user: User) -> tuple[str, ...]:
        policy = await login_policy(tx, user.org_id)
        return usable(await self._factor_service().ready_factors(tx, user.id), policy)

    async def _check_code(
        self, tx: Repositories, loaded: Loaded, user: User, code: str, request: RequestMeta
    ) -> str:
        """Inside the transaction: the kind of factor `code` proved ("recovery" for a
        recovery code), or "" for a wrong one (counted against the user)."""
        current = await tx.users.find(user.id)
        if current is None or current.state is not UserState.ACTIVE:
            return ""  # locked by wrong codes, or deactivated: no code works
        ctx = user_context(self._clock, current, request)
        compact = code.replace(" ", "").strip()
        if not compact.isdigit():
            used = await self._factor_service().use_recovery_code(tx, ctx, current, code)
            return "recovery" if used else ""
        kind = str(loaded.flow.internal.get(CURRENT, ""))
        kinds = await self._usable_kinds(tx, current)
        if kind not in kinds:
            kind = FactorKind.TOTP.value if FactorKind.TOTP.value in kinds else ""
        if kind == FactorKind.TOTP and len(compact) == TOTP_DIGITS:
            proven = await self._factor_service().check_totp(tx, ctx, current, compact)
        elif kind in CODE_KINDS:
            proven = await self._otp_service().check_code(
                tx, ctx, current, FactorKind(kind), compact
            )
        else:  # a code of no factor the user may prove: wrong all the same
            await count_code_failure(tx, ctx, current, event="user.human.mfa.otp.check.failed")
            proven = False
        return kind if proven else ""

    async def console_second_factor(self, user: User, code: str, request: RequestMeta) -> None:
        """The second factor of a console sign-in, after its password: needed when the user
        has factors the login policy allows, or the policy forces MFA. A terminal can give a
        code of the authenticator app or a recovery code; a user whose only factors are
        security keys, passkeys or codes by email or SMS signs in with a recovery code.

        PreconditionFailed "auth.second_factor_required" asks for the code (nothing counted),
        "auth.mfa_setup_required" when MFA is forced and the user has no factor yet;
        Unauthenticated "auth.code_invalid" for a wrong code, counted as on the hosted pages.
        """
        async with self._store.reader() as tx:
            kinds = await self._usable_kinds(tx, user)
            policy = await login_policy(tx, user.org_id)
        if not kinds:
            if mfa_forced(policy):
                raise PreconditionFailed(
                    "auth.mfa_setup_required",
                    "set up a second factor on the sign-in pages first",
                )
            return
        if not code.strip():
            raise PreconditionFailed(
                "auth.second_factor_required",
                "enter a code of your authenticator app or a recovery code",
                field="code",
            )
        reservation = await self._code_throttle.reserve(name=user.id, ip=request.ip)
        async with self._store.transaction() as tx:
            proven = await self._console_code(tx, user, code, kinds, request)
            if proven:
                await self._code_throttle.succeeded(tx, reservation)
        if not proven:
            raise Unauthenticated(
                "auth.code_invalid", "the code is wrong or was used", field="code"
            )

    async def _console_code(
        self,
        tx: Repositories,
        user: User,
        code: str,
        kinds: tuple[str, ...],
        request: RequestMeta,
    ) -> bool:
        current = await tx.users.find(user.id)
        if current is None or current.state is not UserState.ACTIVE:
            return False
        ctx = user_context(self._clock, current, request)
        compact = code.replace(" ", "").strip()
        if not compact.isdigit():
            return await self._factor_service().use_recovery_code(tx, ctx, current, code)
        if FactorKind.TOTP.value in kinds and len(compact) == TOTP_DIGITS:
            return await self._factor_service().check_totp(tx, ctx, current, compact)
        await count_code_failure(tx, ctx, current, event="user.human.mfa.otp.check.failed")
        return False
