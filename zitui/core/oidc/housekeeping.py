"""Purging what the provider no longer needs: ended auth requests (their codes go with
them), and access and refresh tokens past their expiry.

Run by `KeyService.maintain`, the provider's one periodic moment (once per key rotation
period), so no background task is needed. A day's margin keeps recent rows for reading.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from zitui.store import Store

MARGIN = timedelta(days=1)


async def purge_expired(store: Store, now: datetime) -> int:
    """Delete rows that expired more than a day before `now`; returns how many."""
    before = now - MARGIN
    async with store.transaction() as tx:
        removed = await tx.auth_requests.delete_expired(before)
        removed += await tx.access_tokens.delete_expired(before)
        removed += await tx.refresh_tokens.delete_expired(before)
    return removed
