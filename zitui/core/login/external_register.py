"""Creating an account for an external identity: the registration form pre-filled from the
provider's answer (or, with `auto_creation`, no form), the account, its link and its session
in one transaction.
"""

from __future__ import annotations

from dataclasses import replace

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.context import Context, RequestMeta
from zitui.core.credentials import user_context
from zitui.core.idp_identity import ExternalIdentity
from zitui.core.login.base import (
    Loaded,
    cookie_digest,
    language_of,
    moved,
    registration_org,
)
from zitui.core.login.external_links import EXTERNAL_IDENTITY, LINKING, ExternalLinks
from zitui.core.login.second_factor import EXTERNAL_CHECK
from zitui.core.login.steps import (
    ExternalRegister,
    Outcome,
    Registration,
    Step,
)
from zitui.core.policies import PrivacyPolicy, from_settings
from zitui.core.sessions import new_browser_cookie
from zitui.core.users import NewHumanUser, add_human_user, check_new_username
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    ZituiError,
)
from zitui.records import (
    FlowStep,
    User,
    UserState,
)
from zitui.store import Repositories


class ExternalRegistration(ExternalLinks):
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
