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

    The password check must be within the login policy's `password_check_lifetime`, within
    `max_age`, and not before `not_before`; the session must be alive and in scope; and a user
    who must change the password reuses nothing until the change is made.
    """
    checked = session.password_checked_at
    if checked is None or session.password_change_required:
        return False
    if not alive(session, now=now, idle_timeout=idle_timeout) or not in_scope(session, demand):
        return False
    if now - checked >= timedelta(seconds=policy.password_check_lifetime_s):
        return False
    if demand.max_age is not None and now - checked > timedelta(seconds=demand.max_age):
        return False
    return demand.not_before is None or checked >= demand.not_before
