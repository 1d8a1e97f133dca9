"""The login flow's steps through an external identity provider (ZITADEL's ExternalLogin,
ExternalNotFoundOption and LinkUsers steps).

```mermaid
stateDiagram-v2
    login_name --> external: a provider's button (or the request's idp scope at the start)
    external --> done: a linked identity (its session records the external check)
    external --> mfa_verify: a linked identity whose second factor is due
    external --> external_not_found: an unknown identity
    external --> password: auto-linking found the account (sign in to link it)
    external --> login_name: the provider refused, the user cancelled, or its answer was bad
    external_not_found --> external_register: "create a new account"
    external_not_found --> login_name: "link an existing account" (sign in, then linked)
    external_register --> verify_email: created; an address the provider did not vouch for
    external_register --> done: created and linked
```

The provider's round trip carries a `state` naming the flow and an HMAC of a fresh salt kept
in the flow; the nonce and the PKCE verifier are HMACs of the same salt, so nothing secret is
stored. A callback spends the salt: an answer replayed later belongs to no sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import replace

from zitui.core.context import RequestMeta
from zitui.core.crypto import tokens
from zitui.core.idp_identity import ExternalIdentity
from zitui.core.login.base import BEFORE_PROOF, RETURN_TO, Loaded, moved, new_flow
from zitui.core.login.external_accounts import ExternalAccounts
from zitui.core.login.external_links import (
    EXTERNAL_AUTH,
    EXTERNAL_IDENTITY,
    LINK_TO,
    LINKING,
    REAUTH_USER,
)
from zitui.core.login.second_factor import external_sign_in
from zitui.core.login.steps import (
    ExternalFailed,
    GoToProvider,
    Outcome,
    Registration,
    Step,
)
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed, ZituiError
from zitui.records import FlowStep, Session, StoredLoginFlow
from zitui.store.repos.idps import StoredIdp

# Steps a provider's button may be pressed from.
BEFORE_EXTERNAL = BEFORE_PROOF | {
    FlowStep.EXTERNAL,
    FlowStep.EXTERNAL_NOT_FOUND,
    FlowStep.EXTERNAL_REGISTER,
    FlowStep.REGISTER,
    FlowStep.NOT_ALLOWED,
}
IDP_SCOPE = "urn:zitadel:iam:org:idp:id:"
STALE = ("idp.answer_stale", "this answer of the identity provider belongs to no sign-in here")
OPTION_NOT_OFFERED = ("idp.option_not_offered", "choose one of the options this page offers")


def idp_of_scopes(scopes: tuple[str, ...]) -> str:
    """The provider a request names by scope (`urn:zitadel:iam:org:idp:id:{id}`), or ""."""
    for scope in scopes:
        if scope.startswith(IDP_SCOPE):
            return scope[len(IDP_SCOPE) :][:40]
    return ""


class ExternalSteps(ExternalAccounts):
    # --- the pages' calls ------------------------------------------------------------

    async def start_external(
        self, browser_cookie: str, flow_id: str, idp_id: str, request: RequestMeta
    ) -> Outcome:
        """A provider's button: off to the provider, when the flow's login policy offers it."""
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        flow = loaded.flow
        if flow.step not in BEFORE_EXTERNAL:
            return Outcome(await self._render(loaded))
        internal = {k: v for k, v in flow.internal.items() if k != EXTERNAL_IDENTITY}
        if flow.step not in (FlowStep.EXTERNAL_NOT_FOUND, FlowStep.EXTERNAL_REGISTER):
            internal.pop(LINKING, None)
        flow = replace(flow, internal=internal)
        try:
            return Outcome(await self._go_to_provider(replace(loaded, flow=flow), idp_id))
        except ZituiError as exc:
            back = moved(flow, FlowStep.LOGIN_NAME, self._clock.now())
            async with self._store.transaction() as tx:
                await tx.login_flows.update(back)
            loaded = replace(loaded, flow=back)
            return Outcome(
                await self._ask_login_name(loaded, login_name=back.login_name, error=exc)
            )

    async def start_linking(
        self,
        browser_cookie: str,
        session: Session,
        idp_id: str,
        request: RequestMeta,
        *,
        return_to: str,
    ) -> Outcome:
        """From the account pages: link another provider's identity to the signed-in user
        of `session`; the flow ends back at `return_to` (a path of this server)."""
        digest = self._browser_digest(browser_cookie)
        now = self._clock.now()
        async with self._store.reader() as tx:
            await self._refuse_over_cap(tx, request.ip, now)
        internal: dict[str, object] = {LINK_TO: session.user_id, RETURN_TO: return_to}
        flow = new_flow(
            digest,
            FlowStep.EXTERNAL,
            now,
            client_ip=request.ip,
            login_name=session.login_name,
            user_id=session.user_id,
            internal=internal,
        )
        flow = replace(flow, org_id=session.org_id, session_id=session.id)
        async with self._store.transaction() as tx:
            await tx.login_flows.insert(flow)
        loaded = Loaded(flow, None, None)
        return Outcome(await self._go_to_provider(loaded, idp_id))

    async def external_callback(
        self,
        browser_cookie: str,
        state: str,
        *,
        code: str,
        error: str,
        iss: str,
        request: RequestMeta,
    ) -> Outcome:
        """The provider's answer. Everything it says is checked (`idp_client.py`); a refusal,
        a cancellation or a bad answer goes back to the login-name page with the reason."""
        flow_id, _, mac = state.partition(".")
        loaded = await self._load(browser_cookie, flow_id[:40], request=True, policy=True)
        flow = loaded.flow
        auth = flow.internal.get(EXTERNAL_AUTH)
        salt = auth.get("salt") if isinstance(auth, dict) else None
        if flow.step is not FlowStep.EXTERNAL or not isinstance(salt, str):
            return Outcome(ExternalFailed(loaded.view(), *STALE))
        if not tokens.equal(mac, self._derive("state", flow.id, salt)):
            return Outcome(ExternalFailed(loaded.view(), *STALE))
        assert isinstance(auth, dict)
        # Spent whatever comes next: the same answer never counts twice.
        internal = {k: v for k, v in flow.internal.items() if k != EXTERNAL_AUTH}
        flow = replace(flow, internal=internal)
        loaded = replace(loaded, flow=flow)
        try:
            stored = await self._offered_idp(flow, str(auth.get("idp", "")))
            if error:
                raise provider_error(error)
            if not code:
                raise InvalidArgument("idp.code_missing", "the identity provider sent no code")
            identity = await self._idp_client().identity(
                stored.idp,
                self._idps_service().secret_of(stored),
                callbacks=self._callbacks,
                code=code,
                code_verifier=self._derive("verifier", flow.id, salt),
                nonce=self._derive("nonce", flow.id, salt),
                iss=iss,
            )
        except ZituiError as exc:
            return Outcome(await self._external_failed(loaded, exc))
        return await self._identified(loaded, stored.idp, identity, request)

    async def choose_external_option(
        self, browser_cookie: str, flow_id: str, choice: str
    ) -> Outcome:
        """The unknown identity's page: "create" a new account, or "link" an existing one
        (the login-name page, then the account's usual sign-in; linked once it is proven)."""
        loaded = await self._load(browser_cookie, flow_id, policy=True)
        flow = loaded.flow
        identity = ExternalIdentity.from_json(flow.internal.get(EXTERNAL_IDENTITY))
        if flow.step is not FlowStep.EXTERNAL_NOT_FOUND or identity is None:
            return Outcome(await self._render(loaded))
        async with self._store.reader() as tx:
            stored = await tx.idps.find(identity.idp_id)
        if stored is None:
            return Outcome(await self._render(loaded))
        options = stored.idp.options
        now = self._clock.now()
        if choice == "create" and options.creation_allowed:
            flow = moved(flow, FlowStep.EXTERNAL_REGISTER, now)
        elif choice == "link" and options.linking_allowed:
            flow = moved(
                replace(flow, internal={**flow.internal, LINKING: True}), FlowStep.LOGIN_NAME, now
            )
        else:
            return Outcome(await self._render(loaded, error=InvalidArgument(*OPTION_NOT_OFFERED)))
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return Outcome(await self._render(replace(loaded, flow=flow)))

    async def register_external(
        self,
        browser_cookie: str,
        flow_id: str,
        values: Registration,
        request: RequestMeta,
    ) -> Outcome:
        """The pre-filled form sent: the account is created, linked and signed in."""
        loaded = await self._load(browser_cookie, flow_id, request=True, policy=True)
        flow = loaded.flow
        identity = ExternalIdentity.from_json(flow.internal.get(EXTERNAL_IDENTITY))
        if flow.step is not FlowStep.EXTERNAL_REGISTER or identity is None:
            return Outcome(await self._render(loaded))
        await self._register_throttle.reserve(ip=request.ip)
        return await self._create_external(loaded, identity, values, request)

    async def _reauth_at_provider(self, flow: StoredLoginFlow, session: Session) -> Step | None:
        """The account's last sign-in came through a provider: to that provider again, for
        this account only (`REAUTH_USER`); None when it did not, or the provider is no longer
        offered (the password page then, as for any account)."""
        if not session.idp_id or not external_sign_in(session):
            return None
        internal = {**flow.internal, REAUTH_USER: session.user_id}
        flow = replace(flow, org_id=session.org_id, user_id=session.user_id, internal=internal)
        again = await self._provider_again(Loaded(flow), session.idp_id)
        return again.step if again is not None else None

    # --- helpers -----------------------------------------------------------------------

    async def _provider_again(self, loaded: Loaded, idp_id: str) -> Outcome | None:
        """An account whose last sign-in was at a provider, chosen once that check is too
        old: off to the same provider (ZITADEL's idpChecked), while the flow may use it;
        None when it may not (then the account's other ways in)."""
        try:
            return Outcome(await self._go_to_provider(loaded, idp_id))
        except ZituiError:
            return None

    async def _go_to_provider(self, loaded: Loaded, idp_id: str) -> GoToProvider:
        """The flow at the external step, with a fresh salt, and the provider's URL."""
        stored = await self._offered_idp(loaded.flow, idp_id)
        salt = secrets.token_urlsafe(16)
        flow = loaded.flow
        auth = {"idp": stored.idp.id, "salt": salt}
        flow = moved(
            replace(flow, internal={**flow.internal, EXTERNAL_AUTH: auth}),
            FlowStep.EXTERNAL,
            self._clock.now(),
        )
        url = await self._idp_client().authorization_url(
            stored.idp,
            callbacks=self._callbacks,
            state=f"{flow.id}.{self._derive('state', flow.id, salt)}",
            nonce=self._derive("nonce", flow.id, salt),
            code_verifier=self._derive("verifier", flow.id, salt),
        )
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return GoToProvider(loaded.view(flow), url)

    async def _offered_idp(self, flow: StoredLoginFlow, idp_id: str) -> StoredIdp:
        """The provider, if this flow may use it: offered to the flow's organisation (and,
        when linking from the account pages, to the user's)."""
        async with self._store.reader() as tx:
            stored = await tx.idps.find(idp_id) if idp_id else None
            offered = await self._idps_service().offered(tx, flow.org_id)
        if stored is None or stored.idp.id not in {idp.id for idp in offered}:
            raise NotFound("idp.not_available", "this identity provider is not available here")
        return stored

    def _derive(self, purpose: str, flow_id: str, salt: str) -> str:
        mac = hmac.new(
            self._challenge_key, f"external:{purpose}:{flow_id}:{salt}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def provider_error(error: str) -> ZituiError:
    """The provider's `error` as our error: a cancellation or a refusal."""
    if error == "access_denied":
        return PreconditionFailed(
            "idp.access_denied", "the sign-in at the identity provider was cancelled or refused"
        )
    shown = "".join(c for c in error[:60] if c.isalnum() or c in "_-.")
    return PreconditionFailed("idp.error", f"the identity provider answered: {shown}")
