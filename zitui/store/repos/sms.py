"""The instance's SMS provider: one row, its token encrypted by the core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from zitui.records import SmsConfig
from zitui.store.models import SmsProviderRow
from zitui.store.repos.base import Repository, table

SMS = table(SmsProviderRow)


@dataclass(frozen=True)
class StoredSms:
    id: str
    config: SmsConfig
    token_enc: str

    def __repr__(self) -> str:
        return f"StoredSms(id={self.id!r}, config={self.config!r}, token_enc=<hidden>)"


class SmsRepository(Repository):
    async def find(self) -> StoredSms | None:
        row = (await self.conn.execute(sa.select(SMS).limit(1))).mappings().first()
        if row is None:
            return None
        config = SmsConfig(
            kind=row["kind"],
            url=row["url"],
            account_sid=row["account_sid"],
            sender=row["sender"],
            messaging_service_sid=row["messaging_service_sid"],
            base_url=row["base_url"],
            has_token=bool(row["token_enc"]),
        )
        return StoredSms(id=row["id"], config=config, token_enc=row["token_enc"])

    async def save(
        self, sms_id: str, config: SmsConfig, *, token_enc: str, at: datetime, new: bool
    ) -> None:
        values = {
            "kind": config.kind,
            "url": config.url,
            "token_enc": token_enc,
            "account_sid": config.account_sid,
            "sender": config.sender,
            "messaging_service_sid": config.messaging_service_sid,
            "base_url": config.base_url,
            "updated_at": at,
        }
        if new:
            await self.conn.execute(SMS.insert(), {"id": sms_id, "created_at": at, **values})
        else:
            await self.conn.execute(SMS.update().where(SMS.c.id == sms_id).values(**values))

    async def remove(self, sms_id: str) -> None:
        await self.conn.execute(SMS.delete().where(SMS.c.id == sms_id))
