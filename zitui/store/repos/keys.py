"""Token signing keys; the private half is stored encrypted by the core."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from zitui.records import SigningKey
from zitui.store.models import SigningKeyRow
from zitui.store.repos.base import Repository, table

KEYS = table(SigningKeyRow)


class SigningKeyRepository(Repository):
    async def insert(self, key: SigningKey) -> None:
        await self.conn.execute(
            KEYS.insert().values(
                kid=key.kid,
                alg=key.alg,
                public_jwk=key.public_jwk,
                private_key_enc=key.private_key_enc,
                created_at=key.created_at,
                expires_at=key.expires_at,
            )
        )

    async def list_unexpired(self, now: datetime) -> list[SigningKey]:
        query = sa.select(KEYS).where(KEYS.c.expires_at > now).order_by(KEYS.c.created_at)
        rows = (await self.conn.execute(query)).mappings().all()
        return [
            SigningKey(
                kid=row["kid"],
                alg=row["alg"],
                public_jwk=dict(row["public_jwk"]),
                private_key_enc=row["private_key_enc"],
                created_at=row["created_at"],
                expires_at=row["expires_at"],
            )
            for row in rows
        ]
