"""The instance's SMTP configuration: one row, the password encrypted by the core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from zitui.records import SmtpConfig
from zitui.store.models import SmtpConfigRow
from zitui.store.repos.base import Repository, table

SMTP = table(SmtpConfigRow)


@dataclass(frozen=True)
class StoredSmtp:
    id: str
    config: SmtpConfig
    password_enc: str


class SmtpRepository(Repository):
    async def find(self) -> StoredSmtp | None:
        row = (await self.conn.execute(sa.select(SMTP).limit(1))).mappings().first()
        if row is None:
            return None
        config = SmtpConfig(
            host=row["host"],
            port=row["port"],
            sender=row["sender"],
            tls=row["tls"],
            user=row["user"],
            has_password=bool(row["password_enc"]),
        )
        return StoredSmtp(id=row["id"], config=config, password_enc=row["password_enc"])

    async def save(
        self, smtp_id: str, config: SmtpConfig, *, password_enc: str, at: datetime, new: bool
    ) -> None:
        values = {
            "host": config.host,
            "port": config.port,
            "sender": config.sender,
            "tls": config.tls,
            "user": config.user,
            "password_enc": password_enc,
            "updated_at": at,
        }
        if new:
            await self.conn.execute(SMTP.insert(), {"id": smtp_id, **values})
        else:
            await self.conn.execute(SMTP.update().where(SMTP.c.id == smtp_id).values(**values))
