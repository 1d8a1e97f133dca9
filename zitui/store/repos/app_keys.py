"""Applications' public keys for `private_key_jwt` client authentication."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from zitui.records import AppKey
from zitui.store.models import AppKeyRow
from zitui.store.repos.base import Repository, table

APP_KEYS = table(AppKeyRow)


@dataclass(frozen=True)
class PublicAppKey:
    """What a client assertion is checked against."""

    key_id: str
    app_id: str
    public_key_pem: str
    expires_at: datetime | None


class AppKeyRepository(Repository):
    async def insert(self, key: AppKey, *, public_key_pem: str) -> None:
        await self.conn.execute(
            APP_KEYS.insert(),
            {
                "id": key.id,
                "app_id": key.app_id,
                "public_key_pem": public_key_pem,
                "created_at": key.created_at,
                "expires_at": key.expires_at,
            },
        )

    async def find(self, key_id: str) -> PublicAppKey | None:
        query = sa.select(
            APP_KEYS.c.app_id, APP_KEYS.c.public_key_pem, APP_KEYS.c.expires_at
        ).where(APP_KEYS.c.id == key_id)
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return PublicAppKey(key_id=key_id, app_id=row[0], public_key_pem=row[1], expires_at=row[2])

    async def list_for_app(self, app_id: str) -> list[AppKey]:
        query = (
            sa.select(
                APP_KEYS.c.id, APP_KEYS.c.app_id, APP_KEYS.c.created_at, APP_KEYS.c.expires_at
            )
            .where(APP_KEYS.c.app_id == app_id)
            .order_by(APP_KEYS.c.created_at, APP_KEYS.c.id)
        )
        return [AppKey(**row) for row in (await self.conn.execute(query)).mappings()]

    async def delete(self, app_id: str, key_id: str) -> bool:
        result = await self.conn.execute(
            APP_KEYS.delete().where(APP_KEYS.c.id == key_id, APP_KEYS.c.app_id == app_id)
        )
        return bool(result.rowcount)
