"""Token signing keys; the private half is stored encrypted by the core.

The table is tiny (the next, the current and a few previous keys), so every query reads it
whole; `version` is what a process compares with its cached copy on each use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.records import SigningKey
from zitui.store.models import SigningKeyRow
from zitui.store.repos.base import Repository, table

KEYS = table(SigningKeyRow)


def _key(row: Any) -> SigningKey:
    return SigningKey(
        kid=row["kid"],
        alg=row["alg"],
        public_jwk=dict(row["public_jwk"]),
        private_key_enc=row["private_key_enc"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        activates_at=row["activates_at"],
    )


class SigningKeyRepository(Repository):
    async def insert(self, key: SigningKey) -> None:
        await self.conn.execute(
            KEYS.insert(),
            {
                "kid": key.kid,
                "alg": key.alg,
                "public_jwk": key.public_jwk,
                "private_key_enc": key.private_key_enc,
                "created_at": key.created_at,
                "activates_at": key.activates_at,
                "expires_at": key.expires_at,
            },
        )

    async def list_unexpired(self, now: datetime) -> list[SigningKey]:
        query = sa.select(KEYS).where(KEYS.c.expires_at > now).order_by(KEYS.c.created_at)
        rows = (await self.conn.execute(query)).mappings().all()
        return [_key(row) for row in rows]

    async def version(self) -> tuple[int, str]:
        """How many keys there are and the newest kid (UUIDv7, so ordered by creation).

        Every change of the schedule inserts a key, so this pair changes with it.
        """
        query = sa.select(sa.func.count(), sa.func.max(KEYS.c.kid))
        count, newest = (await self.conn.execute(query)).one()
        return int(count), newest or ""

    async def set_activates_at(self, kid: str, at: datetime) -> None:
        await self.conn.execute(KEYS.update().where(KEYS.c.kid == kid).values(activates_at=at))

    async def set_expires_at(self, kid: str, at: datetime) -> None:
        await self.conn.execute(KEYS.update().where(KEYS.c.kid == kid).values(expires_at=at))

    async def delete_expired(self, before: datetime) -> int:
        result = await self.conn.execute(KEYS.delete().where(KEYS.c.expires_at <= before))
        return int(result.rowcount or 0)
