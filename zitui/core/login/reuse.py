"""The one rule for reusing a browser session: may this session sign in for this request?

`prompt=none`, the account list and the final hand-back to the application all ask it, so a
session offered as "signed in" on the list is exactly one that the application will accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from zitui.core.oidc.acr import requested as requested_acr
from zitui.core.policies import LoginPolicy
from zitui.records import Session, StoredAuthRequest


@dataclass(frozen=True)
class Demand:
    """What a request asks of a session before it may be reused.

    `org_id`: the organisation in scope (`urn:zitadel:iam:org:id:…`), "" for any.
    `max_age`: the last check must be at most that many seconds old at `now` (for a caller
    without an auth request; `of` turns a request's `max_age` into `not_before`).
    `not_before`: the earliest check that counts: for `prompt=login` the request's creation,
    for OIDC Core §3.1.2.1 `max_age` that many seconds before it (ZITADEL's
    `checkVerificationTimeMaxAge`), so a check made during the request always counts, however
    long the user takes over the password and a second factor.
    `acr`: the authentication context class asked for (`acr_values`, `oidc/acr.py`), "" for
    none; `mfa` needs a second factor (or a passkey) even where the policy forces none.
    """

    org_id: str = ""
    max_age: int | None = None
    not_before: datetime | None = None
    acr: str = ""

    @classmethod
    def of(cls, request: StoredAuthRequest | None) -> Demand:
        if request is None:
            return cls()
        not_before = None
        if request.max_age is not None:
            not_before = request.created_at - timedelta(seconds=request.max_age)
        if "login" in request.prompt:
            not_before = request.created_at
        return cls(
            org_id=request.org_id,
            not_before=not_before,
            acr=requested_acr(request.acr_values),
        )


def alive(session: Session, *, now: datetime, idle_timeout: timedelta) -> bool:
    """The session was used within the idle timeout; an idle one counts as signed out."""
    return now - session.last_used_at < idle_timeout


def in_scope(session: Session, demand: Demand) -> bool:
    """The session's user belongs to the organisation the request is scoped to, if any."""
    return not demand.org_id or session.org_id == demand.org_id


def reusable(
    session: Session,
    demand: Demand,
    *,
    policy: LoginPolicy,
    now: datetime,
    idle_timeout: timedelta,
) -> bool:
    """True when `session` may sign in for `demand` without proving anything again.

    The first factor must be recent enough: the password within the login policy's
    `password_check_lifetime`, or a passkey within its `multi_factor_check_lifetime`; within
    `max_age`, and not before `not_before`. The session must be alive and in scope; and a user
    who must change the password reuses nothing until the change is made.
    """
    checked = first_factor_checked_at(session, policy, now)
    if checked is None or session.password_change_required:
        return False
    if not alive(session, now=now, idle_timeout=idle_timeout) or not in_scope(session, demand):
        return False
    if demand.max_age is not None and now - checked > timedelta(seconds=demand.max_age):
        return False
    return demand.not_before is None or checked >= demand.not_before


def first_factor_checked_at(
    session: Session, policy: LoginPolicy, now: datetime
) -> datetime | None:
    """When the session's first factor was proven, if that is still within its lifetime: the
    password's (`password_check_lifetime`), a passkey's (`multi_factor_check_lifetime`) or an
    external provider's (`external_login_check_lifetime`), the latest of them."""
    valid = []
    password = session.password_checked_at
    if password is not None and now - password < timedelta(
        seconds=policy.password_check_lifetime_s
    ):
        valid.append(password)
    passkey = session.multi_factor_checked_at
    if passkey is not None and now - passkey < timedelta(
        seconds=policy.multi_factor_check_lifetime_s
    ):
        valid.append(passkey)
    external = session.external_checked_at
    if external is not None and now - external < timedelta(
        seconds=policy.external_login_check_lifetime_s
    ):
        valid.append(external)
    return max(valid, default=None)
