"""Custom texts: a manager's wording of catalogue keys, per language, for the instance or an
organisation (`org_id` empty for the instance)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from zitui.store.models import CustomTextRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

TEXTS = table(CustomTextRow)

# The instance's texts and the organisation's in one read; the organisation's sort last, so
# they replace the instance's of the same key.
_EFFECTIVE = Prepared(
    sa.select(TEXTS.c.key, TEXTS.c.text)
    .where(
        TEXTS.c.language == sa.bindparam("language"),
        sa.or_(TEXTS.c.org_id == "", TEXTS.c.org_id == sa.bindparam("org_id")),
    )
    .order_by(TEXTS.c.org_id)
)


class CustomTextRepository(Repository):
    async def effective(self, org_id: str, language: str) -> dict[str, str]:
        """The instance's texts in `language` with the organisation's over them."""
        rows = await self.conn.execute(_EFFECTIVE, {"language": language, "org_id": org_id})
        return {key: text for key, text in rows.all()}

    async def own(self, org_id: str, language: str) -> dict[str, str]:
        """The texts set on exactly this level (`org_id` empty: the instance's)."""
        query = sa.select(TEXTS.c.key, TEXTS.c.text).where(
            TEXTS.c.org_id == org_id, TEXTS.c.language == language
        )
        return {key: text for key, text in (await self.conn.execute(query)).all()}

    async def put(self, org_id: str, language: str, key: str, text: str, *, at: datetime) -> None:
        await self.remove(org_id, language, key)
        await self.conn.execute(
            TEXTS.insert().values(
                org_id=org_id, language=language, key=key, text=text, updated_at=at
            )
        )

    async def remove(self, org_id: str, language: str, key: str) -> bool:
        """Forget one text; False when there was none."""
        result = await self.conn.execute(
            TEXTS.delete().where(
                TEXTS.c.org_id == org_id, TEXTS.c.language == language, TEXTS.c.key == key
            )
        )
        return bool(result.rowcount)
