"""Users' SSH public keys for the operator console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.store.models import UserSshKeyRow
from zitui.store.repos.base import Repository, table

SSH_KEYS = table(UserSshKeyRow)


@dataclass(frozen=True)
class StoredSshKey:
    id: str
    user_id: str
    algorithm: str
    public_key: str
    fingerprint: str
    comment: str
    created_at: datetime
    last_used_at: datetime | None


def _key(row: sa.RowMapping) -> StoredSshKey:
    return StoredSshKey(
        id=row["id"],
        user_id=row["user_id"],
        algorithm=row["algorithm"],
        public_key=row["public_key"],
        fingerprint=row["fingerprint"],
        comment=row["comment"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


class SshKeyRepository(Repository):
    async def insert(self, key: StoredSshKey) -> bool:
        """Keep a new key; False when its fingerprint is registered already (to anyone)."""
        values = {
            "id": key.id,
            "user_id": key.user_id,
            "algorithm": key.algorithm,
            "public_key": key.public_key,
            "fingerprint": key.fingerprint,
            "comment": key.comment,
            "created_at": key.created_at,
            "last_used_at": key.last_used_at,
        }
        try:
            # A savepoint keeps the transaction usable on PostgreSQL after the violation.
            async with self.conn.begin_nested():
                await self.conn.execute(SSH_KEYS.insert(), values)
        except sa_exc.IntegrityError:
            return False
        return True

    async def find(self, key_id: str) -> StoredSshKey | None:
        query = sa.select(SSH_KEYS).where(SSH_KEYS.c.id == key_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _key(row)

    async def find_by_fingerprint(self, fingerprint: str) -> StoredSshKey | None:
        query = sa.select(SSH_KEYS).where(SSH_KEYS.c.fingerprint == fingerprint)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _key(row)

    async def list_for_user(self, user_id: str) -> list[StoredSshKey]:
        query = (
            sa.select(SSH_KEYS)
            .where(SSH_KEYS.c.user_id == user_id)
            .order_by(SSH_KEYS.c.created_at, SSH_KEYS.c.id)
        )
        return [_key(row) for row in (await self.conn.execute(query)).mappings().all()]

    async def mark_used(self, key_id: str, at: datetime) -> None:
        await self.conn.execute(
            SSH_KEYS.update().where(SSH_KEYS.c.id == key_id).values(last_used_at=at)
        )

    async def delete(self, key_id: str, user_id: str) -> bool:
        result = await self.conn.execute(
            SSH_KEYS.delete().where(SSH_KEYS.c.id == key_id, SSH_KEYS.c.user_id == user_id)
        )
        return result.rowcount == 1
