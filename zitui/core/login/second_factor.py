"""When a signed-in user must prove a second factor again, and which factors they may use.

The login flow (`factor_steps.py`) and `prompt=none` (`oidc/auth_requests.py`) ask the same
question, so a silent sign-in never skips what the hosted pages would ask for.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from zitui.core.login.reuse import Demand
from zitui.core.oidc.acr import needs_mfa
from zitui.core.policies import LoginPolicy
from zitui.records import Session
from zitui.store import Repositories
from zitui.store.repos.factors import READY

# The login policy's `second_factors` name of each second-factor kind.
POLICY_NAMES = {"totp": "otp", "u2f": "u2f", "otp_email": "otp_email", "otp_sms": "otp_sms"}
# A passkey (WebAuthn with user verification) is ZITADEL's multi-factor "u2f_with_verification",
# allowed when the policy allows passwordless sign-in too.
PASSKEY = "passkey"
PASSKEY_POLICY_NAME = "u2f_with_verification"


# The key of a flow's checks under which an external provider's sign-in is noted.
EXTERNAL_CHECK = "external"


def mfa_forced(policy: LoginPolicy, *, external: bool = False) -> bool:
    """The policy forces a second factor on this login: `force_mfa` on every login,
    `force_mfa_local_only` on logins that did not come through an external provider."""
    return policy.force_mfa or (policy.force_mfa_local_only and not external)


def mfa_required(policy: LoginPolicy, demand: Demand, *, external: bool = False) -> bool:
    """This sign-in needs more than one factor: the policy forces MFA, or the request asked
    for an authentication context class that needs it (`acr_values=mfa`)."""
    return mfa_forced(policy, external=external) or needs_mfa(demand.acr)


def external_sign_in(session: Session) -> bool:
    """The session's latest first factor was a sign-in at an external provider."""
    external = session.external_checked_at
    if external is None:
        return False
    local = [at for at in (session.password_checked_at, session.multi_factor_checked_at) if at]
    return all(external >= at for at in local)


def flow_external(checks: dict[str, datetime]) -> bool:
    """A flow whose sign-in came through an external provider (no password in it)."""
    return EXTERNAL_CHECK in checks and "password" not in checks


async def second_factor_missing(
    tx: Repositories, session: Session, demand: Demand, *, policy: LoginPolicy, now: datetime
) -> bool:
    """The session may not sign in without a second factor first: the user has one and its
    check is due, or MFA is required (`mfa_required`) and the user has none yet."""
    required = mfa_required(policy, demand, external=external_sign_in(session))
    if not required and not second_factor_due(session, demand, policy=policy, now=now):
        return False
    if await usable_kinds(tx, session.user_id, policy):
        return second_factor_due(session, demand, policy=policy, now=now)
    return required


def offered_kinds(policy: LoginPolicy) -> tuple[str, ...]:
    """The factor kinds the policy allows: its second factors, then passkeys."""
    kinds = tuple(kind for kind, name in POLICY_NAMES.items() if name in policy.second_factors)
    return kinds + ((PASSKEY,) if passkeys_allowed(policy) else ())


def passkeys_allowed(policy: LoginPolicy) -> bool:
    return policy.passwordless_allowed and PASSKEY_POLICY_NAME in policy.multi_factors


async def usable_kinds(tx: Repositories, user_id: str, policy: LoginPolicy) -> tuple[str, ...]:
    """The kinds of the user's ready factors that the policy lets them use."""
    allowed = offered_kinds(policy)
    ready = await tx.factors.list_for_user(user_id, state=READY)
    return tuple(dict.fromkeys(f.kind for f in ready if f.kind in allowed))


def second_factor_due(
    session: Session, demand: Demand, *, policy: LoginPolicy, now: datetime
) -> bool:
    """True when the session has neither a recent enough second factor nor a recent enough
    passkey check (multi-factor on its own, ZITADEL's step 6): each missing, past its lifetime
    in the policy (`second_factor_check_lifetime`, `multi_factor_check_lifetime`), past
    `max_age`, or made before a `prompt=login` request."""
    second = session.second_factor_checked_at
    passkey = session.multi_factor_checked_at
    return not (
        _recent(second, policy.second_factor_check_lifetime_s, demand, now)
        or _recent(passkey, policy.multi_factor_check_lifetime_s, demand, now)
    )


def _recent(checked: datetime | None, lifetime_s: int, demand: Demand, now: datetime) -> bool:
    if checked is None or now - checked >= timedelta(seconds=lifetime_s):
        return False
    if demand.max_age is not None and now - checked > timedelta(seconds=demand.max_age):
        return False
    return demand.not_before is None or checked >= demand.not_before
