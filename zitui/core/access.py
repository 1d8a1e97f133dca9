"""Ending a user's access when their credentials or state change.

A password set or changed, a lock, a deactivation, a removal, a machine key or client secret
taken away: whoever held the old credential may hold sessions and tokens made with it, so
the change ends them in its own transaction. Unlocking or reactivating later revives nothing.
Personal access tokens are credentials, not issued access: they stay (refused while the user
is not active) until they are removed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from zitui.store import Repositories

# The key under which a change's event records what it ended (`AccessEnded.payload()`).
ACCESS_ENDED = "access_ended"


@dataclass(frozen=True)
class AccessEnded:
    """How much `end_user_access` ended: browser sessions, refresh and access tokens that
    were live, and authorization codes not redeemed yet."""

    sessions: int = 0
    refresh_tokens: int = 0
    access_tokens: int = 0
    codes: int = 0

    def payload(self) -> dict[str, int]:
        return asdict(self)


async def end_user_access(
    tx: Repositories, user_id: str, *, at: datetime, keep_session_id: str | None = None
) -> AccessEnded:
    """End everything that lets `user_id` in without presenting a credential again.

    Runs inside the caller's write transaction, so it commits or rolls back with the change
    that causes it, and writes no event: the caller's one event carries
    `{ACCESS_ENDED: result.payload()}`. In that transaction, with `at` as the time:

    - every active browser session of the user is terminated;
    - every live refresh token is revoked (a refresh then fails with `invalid_grant`);
    - every live access token, opaque or JWT, gets `revoked_at` (introspection answers
      `active: false`, userinfo 401); machine grants' tokens, which have no session, too;
    - every authorization code not redeemed yet expires (its redemption fails).

    `keep_session_id`: the session of the browser where the user makes the change themselves
    (a password change right after proving the current one). That session stays, and so do
    the tokens and codes issued to it; everything of every other session, and everything of
    no session, ends. With None (a manager's change, or the operator console, which has no
    browser session) everything ends.

    Personal access tokens, machine keys and client secrets are not touched: they are
    credentials, which their own commands remove.
    """
    return AccessEnded(
        sessions=await tx.sessions.terminate_for_user(
            user_id, at=at, keep_session_id=keep_session_id
        ),
        refresh_tokens=await tx.refresh_tokens.revoke_for_user(
            user_id, at=at, keep_session_id=keep_session_id
        ),
        access_tokens=await tx.access_tokens.revoke_for_user(
            user_id, at=at, keep_session_id=keep_session_id
        ),
        codes=await tx.auth_requests.expire_codes_for_user(
            user_id, at=at, keep_session_id=keep_session_id
        ),
    )
