"""What the login flow's external steps share: the identity providers and protocol client
it was built with, the providers a page offers, the session an external sign-in makes, and
linking an external identity to an account (after its sign-in, or from the account pages).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from zitui.core.audit import record
from zitui.core.context import RequestMeta
from zitui.core.credentials import user_context
from zitui.core.idp_client import IdpClient
from zitui.core.idp_identity import ExternalIdentity
from zitui.core.idps import IdpService
from zitui.core.ids import new_id
from zitui.core.login.base import (
    FlowBase,
    Loaded,
    cookie_digest,
    moved,
)
from zitui.core.login.steps import (
    FlowView,
    Outcome,
    ProviderButton,
    Refused,
    Step,
)
from zitui.core.policies import LoginPolicy
from zitui.core.sessions import start_external_session
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ZituiError,
)
from zitui.records import (
    FlowStep,
    IdentityProvider,
    IdpLink,
    Session,
    StoredLoginFlow,
    User,
    UserState,
)
from zitui.store import Repositories

# Keys of a flow's internal data: the round trip in progress ({"idp", "salt"}), the identity
# the provider answered with, the user the account pages link to, and "link the identity to
# the account that signs in next".
EXTERNAL_AUTH = "external_auth"
EXTERNAL_IDENTITY = "external_identity"
LINK_TO = "link_to"
LINKING = "linking"
# The account a flow signs in again for the account pages (`reauth_at_provider`).
REAUTH_USER = "reauth_user"
LINK_EXISTS = ("idp.link_exists", "this external account is linked to another account already")
NOT_LINKABLE = ("idp.not_linkable", "this identity provider is not available to this account")


class ExternalLinks(FlowBase):
    def _idps_service(self) -> IdpService:
        if self._idps is None:
            raise RuntimeError("this login flow service was built without identity providers")
        return self._idps

    def _idp_client(self) -> IdpClient:
        if self._idp_client_ is None:
            raise RuntimeError("this login flow service was built without an IdP client")
        return self._idp_client_

    async def _providers(
        self, flow: StoredLoginFlow, policy: LoginPolicy
    ) -> tuple[ProviderButton, ...]:
        """The login-name page's buttons; no read at all where the policy allows none."""
        if self._idps is None or not policy.allow_external_idp:
            return ()
        async with self._store.reader() as tx:
            offered = await self._idps.offered(tx, flow.org_id, policy=policy)
        return tuple(ProviderButton(idp.id, idp.name, str(idp.type)) for idp in offered)

    async def _linking_name(self, flow: StoredLoginFlow) -> str:
        identity = ExternalIdentity.from_json(flow.internal.get(EXTERNAL_IDENTITY))
        if identity is None or not flow.internal.get(LINKING):
            return ""
        async with self._store.reader() as tx:
            stored = await tx.idps.find(identity.idp_id)
        return stored.idp.name if stored else ""

    async def _saved(self, loaded: Loaded) -> Outcome:
        async with self._store.transaction() as tx:
            await tx.login_flows.update(loaded.flow)
        return Outcome(await self._render(loaded))

    async def _activate(self, tx: Repositories, user: User, request: RequestMeta) -> None:
        """An initial account (made by a manager without a password, say) that signs in
        through its linked provider has a way in: active, unless its address still waits for
        its code (the usual verification step follows then)."""
        if user.state is not UserState.INITIAL or (user.email and not user.email_verified):
            return
        ctx = user_context(self._clock, user, request)
        await tx.users.set_state(user.id, UserState.ACTIVE, at=ctx.now())
        await record(
            tx,
            ctx,
            "user.human.activated",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={"via": "idp"},
        )

    async def _external_session(
        self,
        tx: Repositories,
        flow: StoredLoginFlow,
        user: User,
        idp: IdentityProvider,
        cookie: str,
        request: RequestMeta,
    ) -> Session:
        new_digest = cookie_digest(cookie)
        await tx.sessions.move_browser(flow.browser_digest, new_digest)
        await tx.login_flows.move_browser(flow.browser_digest, new_digest)
        return await start_external_session(
            tx, self._clock, new_digest, user, idp.id, request, flow_id=flow.id
        )

    async def _link_from_account(
        self,
        loaded: Loaded,
        idp: IdentityProvider,
        identity: ExternalIdentity,
        user_id: str,
        request: RequestMeta,
    ) -> Outcome:
        """The account pages' "link a provider": the identity joins the signed-in user."""
        flow = loaded.flow
        now = self._clock.now()
        try:
            async with self._store.transaction() as tx:
                session = (
                    await tx.sessions.find(flow.session_id, browser_digest=flow.browser_digest)
                    if flow.session_id
                    else None
                )
                user = await tx.users.find(user_id)
                if session is None or user is None or session.user_id != user_id:
                    raise NotFound("session.not_found", "this sign-in has ended")
                await self._add_link(tx, user, idp, identity, request)
                flow, step = await self._finish(tx, loaded, session, now)
                await tx.login_flows.update(flow)
        except ZituiError as exc:  # nothing was written
            return Outcome(await self._external_failed(loaded, exc))
        return Outcome(step)

    async def _link_pending(
        self, tx: Repositories, flow: StoredLoginFlow, session: Session, now: datetime
    ) -> tuple[StoredLoginFlow, Step | None]:
        """Inside `_finish`, once every factor is proven: the identity the flow holds is
        linked to the account that signed in ("link an existing account", auto-linking)."""
        identity = ExternalIdentity.from_json(flow.internal.get(EXTERNAL_IDENTITY))
        if identity is None or not flow.internal.get(LINKING):
            return flow, None
        internal = {k: v for k, v in flow.internal.items() if k not in (LINKING, EXTERNAL_IDENTITY)}
        flow = replace(flow, internal=internal)
        stored = await tx.idps.find(identity.idp_id)
        user = await tx.users.find(session.user_id)
        refusal: tuple[str, str] | None = None
        if stored is None or user is None or not linkable(stored.idp, user):
            refusal = NOT_LINKABLE
        else:
            meta = RequestMeta(origin="login", ip=flow.client_ip, user_agent="")
            try:
                await self._add_link(tx, user, stored.idp, identity, meta)
            except AlreadyExists:
                refusal = LINK_EXISTS
        if refusal is None:
            return flow, None
        internal = {**flow.internal, "refusal": list(refusal)}
        flow = moved(replace(flow, internal=internal), FlowStep.REFUSED, now)
        language = session.preferred_language
        return flow, Refused(FlowView.of(flow), refusal[0], refusal[1], language=language)

    async def _add_link(
        self,
        tx: Repositories,
        user: User,
        idp: IdentityProvider,
        identity: ExternalIdentity,
        request: RequestMeta,
    ) -> IdpLink:
        """Inside the transaction: the link and its event; AlreadyExists when the identity
        is linked already (to this user it is no error: the link stays as it is)."""
        existing = await tx.idp_links.find_external(idp.id, identity.external_id)
        if existing is not None:
            if existing.user_id != user.id:
                raise AlreadyExists(*LINK_EXISTS)
            return existing
        if idp.org_id not in ("", user.org_id):
            raise InvalidArgument(*NOT_LINKABLE)
        now = self._clock.now()
        link = IdpLink(
            id=new_id(),
            user_id=user.id,
            idp_id=idp.id,
            external_id=identity.external_id,
            external_name=display_of(identity),
            created_at=now,
            last_used_at=now,
        )
        await tx.idp_links.insert(link)
        await record(
            tx,
            user_context(self._clock, user, request),
            "user.human.externalidp.added",
            aggregate=("user", user.id),
            org_id=user.org_id,
            payload={
                "idp_id": idp.id,
                "idp_name": idp.name,
                "external_id": identity.external_id,
                "external_name": link.external_name,
            },
        )
        return link

    async def _external_failed(self, loaded: Loaded, error: ZituiError) -> Step:
        """Back to where the provider's button was, with the reason (the account pages'
        link: a page that says it, and leads back)."""
        flow = loaded.flow
        now = self._clock.now()
        if flow.internal.get(LINK_TO):
            internal = {**flow.internal, "refusal": [error.code, error.message]}
            flow = moved(replace(flow, internal=internal), FlowStep.NOT_ALLOWED, now)
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            return await self._render(replace(loaded, flow=flow))
        flow = moved(flow, FlowStep.LOGIN_NAME, now)
        async with self._store.transaction() as tx:
            await tx.login_flows.update(flow)
        return await self._ask_login_name(
            replace(loaded, flow=flow), login_name=flow.login_name, error=error
        )


def linkable(idp: IdentityProvider, user: User) -> bool:
    """The provider may be linked to the user: it allows linking, and it is the instance's
    or the user's organisation's."""
    return idp.options.linking_allowed and idp.org_id in ("", user.org_id)


def display_of(identity: ExternalIdentity) -> str:
    """What the provider calls the user, for the account pages."""
    return (identity.username or identity.email or identity.display_name or identity.external_id)[
        :400
    ]
