"""When a signed-in user must prove a second factor again, and which factors they may use.

The login flow (`factor_steps.py`) and `prompt=none` (`oidc/auth_requests.py`) ask the same
question, so a silent sign-in never skips what the hosted pages would ask for.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from zitui.core.login.reuse import Demand
from zitui.core.policies import LoginPolicy
from zitui.records import Session
from zitui.store import Repositories
from zitui.store.repos.factors import READY

# The login policy's name of each factor kind this build can check (TOTP only for now).
POLICY_NAMES = {"totp": "otp"}


def mfa_forced(policy: LoginPolicy) -> bool:
    """The policy forces a second factor on this login. Every login is a local one for now
    (no external IdP yet), so `force_mfa_local_only` forces it too."""
    return policy.force_mfa or policy.force_mfa_local_only


async def second_factor_missing(
    tx: Repositories, session: Session, demand: Demand, *, policy: LoginPolicy, now: datetime
) -> bool:
    """The session may not sign in without a second factor first: the user has one and its
    check is due, or the policy forces MFA and the user has none yet."""
    if not mfa_forced(policy) and not second_factor_due(session, demand, policy=policy, now=now):
        return False
    if await usable_kinds(tx, session.user_id, policy):
        return second_factor_due(session, demand, policy=policy, now=now)
    return mfa_forced(policy)


def offered_kinds(policy: LoginPolicy) -> tuple[str, ...]:
    """The factor kinds the policy allows and this build can set up or check."""
    return tuple(kind for kind, name in POLICY_NAMES.items() if name in policy.second_factors)


async def usable_kinds(tx: Repositories, user_id: str, policy: LoginPolicy) -> tuple[str, ...]:
    """The kinds of the user's ready factors that the policy lets them use."""
    allowed = offered_kinds(policy)
    ready = await tx.factors.list_for_user(user_id, state=READY)
    return tuple(dict.fromkeys(f.kind for f in ready if f.kind in allowed))


def second_factor_due(
    session: Session, demand: Demand, *, policy: LoginPolicy, now: datetime
) -> bool:
    """True when the session's second factor is missing or too old: past the policy's
    `second_factor_check_lifetime`, `max_age`, or made before a `prompt=login` request."""
    checked = session.second_factor_checked_at
    if checked is None:
        return True
    if now - checked >= timedelta(seconds=policy.second_factor_check_lifetime_s):
        return True
    if demand.max_age is not None and now - checked > timedelta(seconds=demand.max_age):
        return True
    return demand.not_before is not None and checked < demand.not_before
