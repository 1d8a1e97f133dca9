"""The password age policy's warning (`expire_warn_days`): how many days a user's password
has left, once that is within the warning window. It interrupts nothing: a sign-in goes on,
and the page or screen it reaches says so."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from zitui.core.policies import PasswordAgePolicy, from_settings
from zitui.store import Repositories

DAY = timedelta(days=1)


def warning_days(policy: PasswordAgePolicy, changed_at: datetime, *, now: datetime) -> int | None:
    """Whole days (rounded up) until a password changed at `changed_at` expires, when that
    is within the policy's `expire_warn_days`; None otherwise (or when nothing expires)."""
    if policy.max_age_days <= 0 or policy.expire_warn_days <= 0:
        return None
    left = changed_at + timedelta(days=policy.max_age_days) - now
    if left <= timedelta(0) or left > timedelta(days=policy.expire_warn_days):
        return None
    return max(1, math.ceil(left / DAY))


async def days_left(tx: Repositories, user_id: str, *, now: datetime) -> int | None:
    """`warning_days` for the user's password under their organisation's policy; None for a
    user without a password or one who must change it already."""
    credentials = await tx.users.find_credentials(user_id)
    if credentials is None or not credentials.password_hash:
        return None
    user = credentials.user
    if user.password_change_required:
        return None
    settings = await tx.policies.find_effective("password_age", user.org_id)
    changed_at = credentials.password_changed_at or user.created_at
    return warning_days(from_settings(PasswordAgePolicy, settings), changed_at, now=now)
