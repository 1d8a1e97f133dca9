"""What the login flow does with an external identity once its provider vouched for it:
sign in the linked account (its profile updated when the provider says so), link it to the
account that signs in, or create an account for it.

The steps that talk to the provider are in external_steps.py; linking is in
external_links.py, creating an account in external_register.py.
"""

from __future__ import annotations

from dataclasses import replace

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.context import RequestMeta
from zitui.core.credentials import user_context
from zitui.core.idp_identity import ExternalIdentity
from zitui.core.login.base import (
    Loaded,
    cookie_digest,
    language_of,
    moved,
)
from zitui.core.login.external_links import (
    EXTERNAL_IDENTITY,
    LINK_TO,
    LINKING,
    REAUTH_USER,
    display_of,
)
from zitui.core.login.external_register import ExternalRegistration, registration_values
from zitui.core.login.second_factor import EXTERNAL_CHECK
from zitui.core.login.steps import (
    ExternalNotFound,
    Outcome,
    Step,
)
from zitui.core.sessions import new_browser_cookie
from zitui.errors import (
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
    User,
)
from zitui.store import Repositories


class ExternalAccounts(ExternalRegistration):
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


OTHER_ACCOUNT = "this identity is not linked to the account that is signed in"
NO_ACCOUNT = "no account is linked to this identity, and none may be created or linked"
ACCOUNT_ELSEWHERE = "the account linked to this identity cannot sign in here"
ACCOUNT_REFUSED = "the account linked to this identity is locked or deactivated"
