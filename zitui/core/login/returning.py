"""Flows that a signed-in account starts from a page of this server and that end back there:
adding a second factor or passkey (the signed-in page, the account pages), and proving the
password again before a change that needs a recent sign-in (the account pages).
"""

from __future__ import annotations

from dataclasses import replace

from zitui.core.context import RequestMeta
from zitui.core.login.base import RETURN_TO, Loaded, new_flow
from zitui.core.login.factor_pages import ADDING
from zitui.core.login.factor_steps import ADD_FACTOR_WINDOW
from zitui.core.login.key_steps import KeySteps
from zitui.core.login.steps import Outcome, Step
from zitui.errors import NotFound
from zitui.records import FlowStep


class ReturningSteps(KeySteps):
    async def start_adding_factor(
        self, browser_cookie: str, session_id: str, request: RequestMeta, *, return_to: str = ""
    ) -> Outcome:
        """ "Add a second factor or passkey" for one of the browser's accounts: a flow of its
        own, at the set-up prompt when the account proved its first factor within
        `ADD_FACTOR_WINDOW`, else at the password (and the second factor when due) first.
        It ends at `return_to` (a path of this server, such as an account page) when given."""
        session = await self._sessions.find_browser_session(browser_cookie, session_id)
        if session is None:
            raise NotFound("session.not_found", "this account is not signed in on this browser")
        now = self._clock.now()
        recent = [
            at
            for at in (session.password_checked_at, session.multi_factor_checked_at)
            if at is not None and now - at <= ADD_FACTOR_WINDOW
        ]
        flow = new_flow(
            self._browser_digest(browser_cookie),
            FlowStep.PASSWORD,
            now,
            client_ip=request.ip,
            login_name=session.login_name,
            internal={
                ADDING: True,
                "language": session.preferred_language,
                **({RETURN_TO: return_to} if return_to else {}),
            },
        )
        async with self._store.transaction() as tx:
            await self._refuse_over_cap(tx, request.ip, now)
            step: Step | None = None
            if recent:
                flow = replace(flow, session_id=session.id, user_id=session.user_id)
                flow, step = await self._finish(tx, Loaded(flow), session, now)
            await tx.login_flows.insert(flow)
        if step is None:
            step = await self._reauth_at_provider(flow, session)
        return Outcome(step or await self._render(Loaded(flow)))

    async def start_reauth(
        self, browser_cookie: str, session_id: str, request: RequestMeta, *, return_to: str
    ) -> Outcome:
        """Prove the password of one of the browser's accounts again (and its second factor
        when due), then back to `return_to`: what an account page asks before a change that
        needs a recent sign-in."""
        session = await self._sessions.find_browser_session(browser_cookie, session_id)
        if session is None:
            raise NotFound("session.not_found", "this account is not signed in on this browser")
        now = self._clock.now()
        flow = new_flow(
            self._browser_digest(browser_cookie),
            FlowStep.PASSWORD,
            now,
            client_ip=request.ip,
            login_name=session.login_name,
            internal={RETURN_TO: return_to, "language": session.preferred_language},
        )
        async with self._store.transaction() as tx:
            await self._refuse_over_cap(tx, request.ip, now)
            await tx.login_flows.insert(flow)
        # An account that signed in through a provider proves itself there again.
        at_provider = await self._reauth_at_provider(flow, session)
        return Outcome(at_provider or await self._render(Loaded(flow)))
