"""Counting wrong one-time codes against a user, as the lockout policy's `max_otp_attempts`
asks: codes by mail, TOTP codes and recovery codes share one counter, as ZITADEL counts them."""

from __future__ import annotations

from zitui.core.access import ACCESS_ENDED, end_user_access
from zitui.core.audit import record
from zitui.core.context import Context
from zitui.core.policies import LockoutPolicy, from_settings
from zitui.records import User, UserState
from zitui.store import Repositories

CODE_CHECK_FAILED = "user.human.code.check.failed"


async def count_code_failure(
    tx: Repositories, ctx: Context, user: User, *, event: str = CODE_CHECK_FAILED
) -> bool:
    """Count a wrong code and record `event`; True when it locked the user (the count reached
    the policy's `max_otp_attempts`), which also ends their sessions and tokens."""
    failures = await tx.users.record_code_failure(user.id)
    settings = await tx.policies.find_effective("lockout", user.org_id)
    policy = from_settings(LockoutPolicy, settings)
    await record(
        tx,
        ctx,
        event,
        aggregate=("user", user.id),
        org_id=user.org_id,
        payload={"failures": failures},
    )
    limit = policy.max_otp_attempts
    if not limit or failures < limit or user.state not in (UserState.ACTIVE, UserState.INITIAL):
        return False
    await tx.users.set_state(user.id, UserState.LOCKED, at=ctx.now())
    ended = await end_user_access(tx, user.id, at=ctx.now())
    await record(
        tx,
        ctx,
        "user.locked",
        aggregate=("user", user.id),
        org_id=user.org_id,
        payload={"reason": "code_attempts", ACCESS_ENDED: ended.payload()},
    )
    return True
