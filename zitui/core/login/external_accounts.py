"""What the login flow does with an external identity once its provider vouched for it:
sign in the linked account (its profile updated when the provider says so), link it to the
account that signs in, or create an account for it.

The steps that talk to the provider are in external_steps.py; this module holds what they
do inside the store.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import user_context
from zitui.core.idp_client import IdpClient
from zitui.core.idp_identity import ExternalIdentity
from zitui.core.idps import IdpService
from zitui.core.ids import new_id
from zitui.core.login.base import (
    FlowBase,
    Loaded,
    cookie_digest,
    language_of,
    moved,
    registration_org,
)
from zitui.core.login.second_factor import EXTERNAL_CHECK
from zitui.core.login.steps import (
    ExternalNotFound,
    ExternalRegister,
    FlowView,
    Outcome,
    ProviderButton,
    Refused,
    Registration,
    Step,
)
from zitui.core.policies import PrivacyPolicy, from_settings
from zitui.core.sessions import new_browser_cookie, start_external_session
from zitui.core.users import NewHumanUser, add_human_user, check_new_username
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
    ZituiError,
)
from zitui.records import (
    AutoLinking,
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


class ExternalAccounts(FlowBase):
    def _idps_service(self) -> IdpService:
        if self._idps is None:
            raise RuntimeError("this login flow service was built without identity providers")
        return self._idps

    def _idp_client(self) -> IdpClient:
        if self._idp_client_ is None:
            raise RuntimeError("this login flow service was built without an IdP client")
        return self._idp_client_

    # --- the login-name page ---------------------------------------------------------

    async def _providers(self, flow: StoredLoginFlow) -> tuple[ProviderButton, ...]:
        if self._idps is None:
            return ()
        async with self._store.reader() as tx:
            offered = await self._idps.offered(tx, flow.org_id)
        return tuple(ProviderButton(idp.id, idp.name, str(idp.type)) for idp in offered)

    async def _linking_name(self, flow: StoredLoginFlow) -> str:
        identity = ExternalIdentity.from_json(flow.internal.get(EXTERNAL_IDENTITY))
        if identity is None or not flow.internal.get(LINKING):
            return ""
        async with self._store.reader() as tx:
            stored = await tx.idps.find(identity.idp_id)
        return stored.idp.name if stored else ""

    # --- the identity the provider answered with ------------------------------------

    async def _identified(
        self,
        loaded: Loaded,
        idp: IdentityProvider,
        identity: ExternalIdentity,
        request: RequestMeta,
    ) -> Outcome:
        """Sign in the linked account, link the account pages' user, or ask what to do."""
        flow = loaded.flow
        link_to = flow.internal.get(LINK_TO)
        if isinstance(link_to, str) and link_to:
            return await self._link_from_account(loaded, idp, identity, link_to, request)
        async with self._store.reader() as tx:
            link = await tx.idp_links.find_external(idp.id, identity.external_id)
        again = flow.internal.get(REAUTH_USER)
        if isinstance(again, str) and again and (link is None or link.user_id != again):
            # Signing in again for the account pages: only the signed-in account's identity.
            other = PreconditionFailed("idp.other_account", OTHER_ACCOUNT)
            return Outcome(await self._external_failed(loaded, other))
        if link is not None:
            return await self._sign_in_linked(loaded, idp, identity, link, request)
        internal = {**flow.internal, EXTERNAL_IDENTITY: identity.to_json()}
        flow = replace(flow, internal=internal, login_name=identity.username or identity.email)
        loaded = replace(loaded, flow=flow)
        options = idp.options
        if options.auto_creation and options.creation_allowed:
            values = registration_values(identity, accepted_terms=False)
            outcome = await self._create_external(loaded, identity, values, request, auto=True)
            if outcome is not None:
                return outcome
        if options.linking_allowed and options.auto_linking is not AutoLinking.NONE:
            match = await self._auto_link_match(loaded, identity, options.auto_linking)
            if match is not None:
                internal = {**flow.internal, LINKING: True}
                flow = replace(flow, internal=internal, login_name=match.login_name)
                flow = moved(flow, FlowStep.PASSWORD, self._clock.now())
                return await self._saved(replace(loaded, flow=flow))
        if options.creation_allowed or options.linking_allowed:
            flow = moved(flow, FlowStep.EXTERNAL_NOT_FOUND, self._clock.now())
        else:
            internal = {**flow.internal, "refusal": ["idp.no_account", NO_ACCOUNT]}
            flow = moved(replace(flow, internal=internal), FlowStep.NOT_ALLOWED, self._clock.now())
        return await self._saved(replace(loaded, flow=flow))

    async def _saved(self, loaded: Loaded) -> Outcome:
        async with self._store.transaction() as tx:
            await tx.login_flows.update(loaded.flow)
        return Outcome(await self._render(loaded))

    async def _auto_link_match(
        self, loaded: Loaded, identity: ExternalIdentity, by: AutoLinking
    ) -> User | None:
        """The account auto-linking offers: the one whose login name is the provider's
        username, or whose verified email is the provider's verified email."""
        policy = await self._policy(loaded)
        org_id = loaded.flow.org_id or None
        if by is AutoLinking.USERNAME and identity.username:
            return await self._checker.lookup(identity.username, policy=policy, org_id=org_id)
        if by is AutoLinking.EMAIL and identity.email and identity.email_verified:
            user = await self._checker.lookup(
                identity.email,
                policy=replace(policy, disable_login_with_email=False),
                org_id=org_id,
            )
            if user is not None and user.email_verified and user.email == identity.email:
                return user
        return None

    async def _sign_in_linked(
        self,
        loaded: Loaded,
        idp: IdentityProvider,
        identity: ExternalIdentity,
        link: IdpLink,
        request: RequestMeta,
    ) -> Outcome:
        """The linked account signs in (a new browser id, as after a password), its profile
        updated from the provider when `auto_update` is on."""
        flow = loaded.flow
        cookie = new_browser_cookie()
        now = self._clock.now()
        try:
            async with self._store.transaction() as tx:
                user = await tx.users.find(link.user_id)
                if user is None or (flow.org_id and user.org_id != flow.org_id):
                    raise NotFound("idp.account_elsewhere", ACCOUNT_ELSEWHERE)
                if idp.options.auto_update:
                    await self._auto_update(tx, user, identity, request)
                await self._activate(tx, user, request)
                session = await self._external_session(tx, flow, user, idp, cookie, request)
                await tx.idp_links.touch(link, at=now, external_name=display_of(identity))
                flow = replace(
                    flow,
                    browser_digest=cookie_digest(cookie),
                    login_name=session.login_name,
                    checks={**flow.checks, EXTERNAL_CHECK: now},
                )
                flow, step = await self._finish(tx, replace(loaded, flow=flow), session, now)
                await tx.login_flows.update(flow)
        except NotFound as exc:  # nothing was written
            return Outcome(await self._external_failed(loaded, exc))
        except Unauthenticated:
            # Locked or deactivated: said on the page, not on a password field it lacks (the
            # provider proved who this is, so naming the account's state tells nobody else).
            refused = Unauthenticated("idp.account_refused", ACCOUNT_REFUSED)
            return Outcome(await self._external_failed(loaded, refused))
        return Outcome(step, browser_cookie=cookie)

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

    async def _auto_update(
        self, tx: Repositories, user: User, identity: ExternalIdentity, request: RequestMeta
    ) -> None:
        """Inside the transaction: the profile fields the provider gives, where they differ
        (an email only when the provider vouches for it)."""
        wanted = {
            "first_name": identity.given_name,
            "last_name": identity.family_name,
            "display_name": identity.display_name,
            "nickname": identity.nickname,
            "preferred_language": identity.language,
        }
        changed: dict[str, str] = {}
        for name, value in wanted.items():
            try:
                cleaned = (
                    validation.language(value)
                    if name == "preferred_language"
                    else validation.text(value, field=name, required=False)
                )
            except InvalidArgument:
                continue
            if cleaned and getattr(user, name) != cleaned:
                changed[name] = cleaned
        ctx = user_context(self._clock, user, request)
        if changed:
            await tx.users.update_profile(user.id, changed, at=ctx.now())
            await record(
                tx,
                ctx,
                "user.human.profile.changed",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload={**changed, "via": "idp"},
            )
        email = identity.email.strip().lower()
        newly_vouched = identity.email_verified and email and email != user.email.lower()
        if newly_vouched and not await tx.users.email_in_use(email):
            await tx.users.set_email(user.id, email, verified=True, at=ctx.now())
            await record(
                tx,
                ctx,
                "user.human.email.changed",
                aggregate=("user", user.id),
                org_id=user.org_id,
                payload={"email": email, "verified": True, "via": "idp"},
            )

    # --- linking -----------------------------------------------------------------------

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

    # --- creating an account -----------------------------------------------------------

    async def _create_external(
        self,
        loaded: Loaded,
        identity: ExternalIdentity,
        values: Registration,
        request: RequestMeta,
        *,
        auto: bool = False,
    ) -> Outcome:
        """Create the account the form (or, with `auto`, the provider's answer) describes,
        link the identity and sign in. A refused form comes back marked; for `auto` the
        form is shown, pre-filled, with the reason."""
        flow = loaded.flow
        values = cleaned(values)
        now = self._clock.now()
        cookie = new_browser_cookie()
        try:
            async with self._store.transaction() as tx:
                stored = await tx.idps.find(identity.idp_id)
                if stored is None or not stored.idp.options.creation_allowed:
                    raise NotFound(
                        "idp.not_available", "this identity provider is not available here"
                    )
                org_id = await registration_org(tx, flow.org_id)
                new, verified = await checked_external(tx, org_id, identity, values, auto=auto)
                accepted = values.accepted_terms and not auto
                user = await self._insert_external_user(
                    tx, loaded, org_id, new, verified, accepted, request
                )
                await self._add_link(tx, user, stored.idp, identity, request)
                session = await self._external_session(tx, flow, user, stored.idp, cookie, request)
                flow = replace(
                    flow,
                    browser_digest=cookie_digest(cookie),
                    user_id=user.id,
                    login_name=session.login_name,
                    checks={**flow.checks, EXTERNAL_CHECK: now},
                    internal={
                        k: v
                        for k, v in flow.internal.items()
                        if k not in (EXTERNAL_IDENTITY, LINKING)
                    },
                )
                flow, step = await self._finish(tx, replace(loaded, flow=flow), session, now)
                await tx.login_flows.update(flow)
        except ZituiError as exc:
            flow = moved(loaded.flow, FlowStep.EXTERNAL_REGISTER, now)
            async with self._store.transaction() as tx:
                await tx.login_flows.update(flow)
            shown = replace(loaded, flow=flow)
            return Outcome(await self._external_register_step(shown, values, exc))
        return Outcome(step, browser_cookie=cookie)

    async def _insert_external_user(
        self,
        tx: Repositories,
        loaded: Loaded,
        org_id: str,
        new: NewHumanUser,
        verified: bool,
        accepted_terms: bool,
        request: RequestMeta,
    ) -> User:
        system = Context.system(self._clock, origin=request.origin)
        # Active at once, but for an address nobody vouched for: initial until its code.
        state = UserState.INITIAL if new.email and not verified else UserState.ACTIVE
        user = await add_human_user(tx, system, org_id, new, password_hash=None, state=state)
        payload: dict[str, object] = {
            "username": user.username,
            "email": user.email,
            "flow_id": loaded.flow.id,
            "via": "idp",
        }
        if accepted_terms:
            await tx.users.accept_terms(user.id, at=self._clock.now())
            payload["terms_accepted_at"] = self._clock.now().isoformat()
        await record(
            tx,
            user_context(self._clock, user, request),
            "user.human.selfregistered",
            aggregate=("user", user.id),
            org_id=org_id,
            payload=payload,
        )
        return user

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

    # --- pages -------------------------------------------------------------------------

    async def _render_external(self, loaded: Loaded, error: ZituiError | None) -> Step:
        flow = loaded.flow
        identity = ExternalIdentity.from_json(flow.internal.get(EXTERNAL_IDENTITY))
        if flow.step is FlowStep.EXTERNAL or identity is None:
            return await self._ask_login_name(loaded, login_name=flow.login_name, error=error)
        if flow.step is FlowStep.EXTERNAL_REGISTER:
            values = registration_values(identity, accepted_terms=False)
            return await self._external_register_step(loaded, values, error)
        async with self._store.reader() as tx:
            stored = await tx.idps.find(identity.idp_id)
        options = stored.idp.options if stored else None
        return ExternalNotFound(
            loaded.view(),
            stored.idp.name if stored else "",
            display_of(identity),
            may_create=bool(options and options.creation_allowed),
            may_link=bool(options and options.linking_allowed),
            language=language_of(flow),
            error=error,
        )

    async def _external_register_step(
        self, loaded: Loaded, values: Registration, error: ZituiError | None
    ) -> Step:
        identity = ExternalIdentity.from_json(loaded.flow.internal.get(EXTERNAL_IDENTITY))
        if identity is None:
            return await self._ask_login_name(loaded, login_name=loaded.flow.login_name)
        async with self._store.reader() as tx:
            org_id = await registration_org(tx, loaded.flow.org_id)
            legal = from_settings(
                PrivacyPolicy, await tx.policies.find_effective("privacy", org_id)
            )
            stored = await tx.idps.find(identity.idp_id)
        vouched = identity.email_verified and values.email.strip().lower() == identity.email.lower()
        return ExternalRegister(
            loaded.view(),
            stored.idp.name if stored else "",
            values,
            legal,
            email_verified=vouched and bool(identity.email),
            language=language_of(loaded.flow),
            error=error,
        )


OTHER_ACCOUNT = "this identity is not linked to the account that is signed in"
NO_ACCOUNT = "no account is linked to this identity, and none may be created or linked"
ACCOUNT_ELSEWHERE = "the account linked to this identity cannot sign in here"
ACCOUNT_REFUSED = "the account linked to this identity is locked or deactivated"


def linkable(idp: IdentityProvider, user: User) -> bool:
    """The provider may be linked to the user: it allows linking, and it is the instance's
    or the user's organisation's."""
    return idp.options.linking_allowed and idp.org_id in ("", user.org_id)


def display_of(identity: ExternalIdentity) -> str:
    """What the provider calls the user, for the account pages."""
    return (identity.username or identity.email or identity.display_name or identity.external_id)[
        :400
    ]


def registration_values(identity: ExternalIdentity, *, accepted_terms: bool) -> Registration:
    """The registration form pre-filled from the provider's answer; a display name alone is
    split into given and family name."""
    given, family = identity.given_name, identity.family_name
    if not (given and family) and identity.display_name:
        first, _, rest = identity.display_name.strip().partition(" ")
        given, family = given or first, family or rest
    return Registration(
        given_name=given,
        family_name=family,
        email=identity.email,
        username=identity.username or identity.email,
        language=identity.language,
        accepted_terms=accepted_terms,
    )


def cleaned(values: Registration) -> Registration:
    return Registration(
        given_name=values.given_name.strip()[:200],
        family_name=values.family_name.strip()[:200],
        email=values.email.strip()[:320],
        username=values.username.strip()[:200],
        language=values.language.strip()[:20],
        accepted_terms=values.accepted_terms,
    )


async def checked_external(
    tx: Repositories,
    org_id: str,
    identity: ExternalIdentity,
    values: Registration,
    *,
    auto: bool,
) -> tuple[NewHumanUser, bool]:
    """The new user the form describes, each rule checked in the form's order, and whether
    its email counts as verified (the provider vouched for exactly this address). The email
    is optional: some providers give none (ZITADEL's issue #4386)."""
    given = validation.text(values.given_name, field="given_name")
    family = validation.text(values.family_name, field="family_name")
    email = validation.email(values.email, required=False)
    username = validation.username(values.username or email)
    try:
        language = validation.language(values.language)
    except InvalidArgument:
        language = ""
    if not auto and not values.accepted_terms:
        raise InvalidArgument(
            "registration.terms_required", "accept the terms to register", field="terms"
        )
    if email and await tx.users.email_in_use(email):
        raise AlreadyExists(
            "user.email.taken", "an account with this email exists already", field="email"
        )
    await check_new_username(tx, org_id, username)
    verified = bool(email) and identity.email_verified and email.lower() == identity.email.lower()
    new = NewHumanUser(
        username=username,
        first_name=given,
        last_name=family,
        email=email,
        email_verified=verified,
        preferred_language=language,
        nickname=identity.nickname[:200],
    )
    return new, verified
