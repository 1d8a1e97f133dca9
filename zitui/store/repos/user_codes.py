"""One-time codes sent to users: one row per (user, purpose), replaced by each new code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from zitui.store.models import UserCodeRow
from zitui.store.repos.base import Repository, table

CODES = table(UserCodeRow)


@dataclass(frozen=True)
class StoredCode:
    user_id: str
    purpose: str
    digest: str
    target: str
    created_at: datetime
    expires_at: datetime
    message_id: str | None


class UserCodeRepository(Repository):
    async def put(
        self,
        user_id: str,
        purpose: str,
        *,
        digest: str,
        target: str,
        at: datetime,
        expires_at: datetime,
        message_id: str | None,
    ) -> None:
        """Store the user's code for `purpose`, replacing the one before (which stops working)."""
        await self.conn.execute(
            CODES.delete().where(CODES.c.user_id == user_id, CODES.c.purpose == purpose)
        )
        await self.conn.execute(
            CODES.insert().values(
                user_id=user_id,
                purpose=purpose,
                digest=digest,
                target=target,
                created_at=at,
                expires_at=expires_at,
                message_id=message_id,
            )
        )

    async def find(self, user_id: str, purpose: str) -> StoredCode | None:
        query = sa.select(CODES).where(CODES.c.user_id == user_id, CODES.c.purpose == purpose)
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            return None
        return StoredCode(
            user_id=row["user_id"],
            purpose=row["purpose"],
            digest=row["digest"],
            target=row["target"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            message_id=row["message_id"],
        )

    async def delete(self, user_id: str, purpose: str) -> bool:
        """Spend a code; False when it was gone already (spent by a concurrent request)."""
        result = await self.conn.execute(
            CODES.delete().where(CODES.c.user_id == user_id, CODES.c.purpose == purpose)
        )
        return result.rowcount == 1

    async def delete_expired(self, before: datetime) -> int:
        result = await self.conn.execute(CODES.delete().where(CODES.c.expires_at < before))
        return int(result.rowcount or 0)
