"""Branding: an organisation's colours, font and switches, and its logos and icons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.store.models import BrandingAssetRow, BrandingRow
from zitui.store.repos.base import Repository, table

BRANDING = table(BrandingRow)
ASSETS = table(BrandingAssetRow)
# Every column but the key: what core reads and writes as one branding's settings.
SETTINGS = tuple(c.name for c in BRANDING.c if c.name not in ("org_id", "updated_at"))
_INFO = (ASSETS.c.kind, ASSETS.c.content_type, ASSETS.c.sha256, ASSETS.c.size)


@dataclass(frozen=True)
class AssetInfo:
    """An asset without its bytes: what a page needs to link it."""

    kind: str
    content_type: str
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredAsset:
    info: AssetInfo
    data: bytes


@dataclass(frozen=True)
class StoredBranding:
    org_id: str
    settings: dict[str, Any]
    assets: tuple[AssetInfo, ...]


class BrandingRepository(Repository):
    async def find(self, org_id: str) -> StoredBranding | None:
        """The branding stored for `org_id` ("" for the instance default), with its assets."""
        found = await self.find_first((org_id,))
        return found if found is not None and found.org_id == org_id else None

    async def find_first(self, org_ids: tuple[str, ...]) -> StoredBranding | None:
        """The first of `org_ids` that has its own branding (an organisation's, then the
        instance default's): one query for the settings, one for that source's assets."""
        query = sa.select(BRANDING).where(BRANDING.c.org_id.in_(org_ids))
        rows = {row["org_id"]: row for row in (await self.conn.execute(query)).mappings()}
        source = next((org_id for org_id in org_ids if org_id in rows), None)
        if source is None:
            return None
        settings = {name: rows[source][name] for name in SETTINGS}
        return StoredBranding(source, settings, await self.asset_infos(source))

    async def asset_infos(self, org_id: str) -> tuple[AssetInfo, ...]:
        query = sa.select(*_INFO).where(ASSETS.c.org_id == org_id).order_by(ASSETS.c.kind)
        rows = (await self.conn.execute(query)).all()
        return tuple(AssetInfo(*row) for row in rows)

    async def save(self, org_id: str, settings: dict[str, Any], *, at: datetime, new: bool) -> None:
        values = {name: settings[name] for name in SETTINGS} | {"updated_at": at}
        if new:
            await self.conn.execute(BRANDING.insert(), {"org_id": org_id, **values})
        else:
            await self.conn.execute(
                BRANDING.update().where(BRANDING.c.org_id == org_id).values(**values)
            )

    async def delete(self, org_id: str) -> bool:
        """Remove the branding of `org_id` and its assets; True if it had its own."""
        await self.conn.execute(ASSETS.delete().where(ASSETS.c.org_id == org_id))
        result = await self.conn.execute(BRANDING.delete().where(BRANDING.c.org_id == org_id))
        return bool(result.rowcount)

    async def find_asset(self, org_id: str, kind: str) -> StoredAsset | None:
        query = sa.select(*_INFO, ASSETS.c.data).where(
            ASSETS.c.org_id == org_id, ASSETS.c.kind == kind
        )
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return StoredAsset(AssetInfo(*row[:4]), bytes(row[4]))

    async def save_asset(self, org_id: str, info: AssetInfo, data: bytes, *, at: datetime) -> None:
        await self.delete_asset(org_id, info.kind)
        await self.conn.execute(
            ASSETS.insert(),
            {
                "org_id": org_id,
                "kind": info.kind,
                "content_type": info.content_type,
                "data": data,
                "sha256": info.sha256,
                "size": info.size,
                "updated_at": at,
            },
        )

    async def copy_assets(self, source: str, target: str, *, at: datetime) -> None:
        """Give `target` copies of the assets of `source` (an organisation's first branding
        starts from the instance default's)."""
        for info in await self.asset_infos(source):
            stored = await self.find_asset(source, info.kind)
            if stored is not None:
                await self.save_asset(target, info, stored.data, at=at)

    async def delete_asset(self, org_id: str, kind: str) -> bool:
        result = await self.conn.execute(
            ASSETS.delete().where(ASSETS.c.org_id == org_id, ASSETS.c.kind == kind)
        )
        return bool(result.rowcount)
