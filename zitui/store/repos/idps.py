"""External identity providers and users' links to them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.errors import AlreadyExists
from zitui.records import AutoLinking, IdentityProvider, IdpLink, IdpOptions, IdpType
from zitui.store.models import IdentityProviderRow, UserIdpLinkRow
from zitui.store.repos.base import Repository, table

IDPS = table(IdentityProviderRow)
LINKS = table(UserIdpLinkRow)


@dataclass(frozen=True)
class StoredIdp:
    """A provider with its encrypted secret, for the core alone."""

    idp: IdentityProvider
    secret_enc: str

    def __repr__(self) -> str:
        return f"StoredIdp(idp={self.idp!r}, secret_enc=<hidden>)"


def _options(raw: Any) -> IdpOptions:
    data = raw if isinstance(raw, dict) else {}
    defaults = IdpOptions()
    linking = str(data.get("auto_linking", AutoLinking.NONE))
    return IdpOptions(
        creation_allowed=bool(data.get("creation_allowed", defaults.creation_allowed)),
        linking_allowed=bool(data.get("linking_allowed", defaults.linking_allowed)),
        auto_creation=bool(data.get("auto_creation", defaults.auto_creation)),
        auto_update=bool(data.get("auto_update", defaults.auto_update)),
        auto_linking=AutoLinking(linking) if linking in set(AutoLinking) else AutoLinking.NONE,
    )


def _stored(row: sa.RowMapping) -> StoredIdp:
    idp = IdentityProvider(
        id=row["id"],
        org_id=row["org_id"],
        name=row["name"],
        type=IdpType(row["type"]),
        client_id=row["client_id"],
        has_secret=bool(row["client_secret_enc"]),
        issuer=row["issuer"],
        authorization_endpoint=row["authorization_endpoint"],
        token_endpoint=row["token_endpoint"],
        userinfo_endpoint=row["userinfo_endpoint"],
        jwks_uri=row["jwks_uri"],
        id_attribute=row["id_attribute"],
        scopes=tuple(row["scopes"] or ()),
        use_pkce=bool(row["use_pkce"]),
        id_token_mapping=bool(row["id_token_mapping"]),
        options=_options(row["options"]),
        extra={str(k): str(v) for k, v in (row["extra"] or {}).items()},
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return StoredIdp(idp=idp, secret_enc=row["client_secret_enc"])


def _values(idp: IdentityProvider, secret_enc: str, at: datetime) -> dict[str, Any]:
    options = asdict(idp.options)
    options["auto_linking"] = str(idp.options.auto_linking)
    return {
        "org_id": idp.org_id,
        "name": idp.name,
        "type": str(idp.type),
        "client_id": idp.client_id,
        "client_secret_enc": secret_enc,
        "issuer": idp.issuer,
        "authorization_endpoint": idp.authorization_endpoint,
        "token_endpoint": idp.token_endpoint,
        "userinfo_endpoint": idp.userinfo_endpoint,
        "jwks_uri": idp.jwks_uri,
        "id_attribute": idp.id_attribute,
        "scopes": list(idp.scopes),
        "use_pkce": idp.use_pkce,
        "id_token_mapping": idp.id_token_mapping,
        "options": options,
        "extra": dict(idp.extra),
        "updated_at": at,
    }


class IdpRepository(Repository):
    async def find(self, idp_id: str) -> StoredIdp | None:
        row = (await self.conn.execute(sa.select(IDPS).where(IDPS.c.id == idp_id))).mappings()
        first = row.first()
        return None if first is None else _stored(first)

    async def list_for(self, org_ids: list[str]) -> list[StoredIdp]:
        """The providers of these owners ("" the instance), instance ones first, by name."""
        query = (
            sa.select(IDPS)
            .where(IDPS.c.org_id.in_(org_ids))
            .order_by(IDPS.c.org_id, IDPS.c.name, IDPS.c.id)
        )
        return [_stored(row) for row in (await self.conn.execute(query)).mappings()]

    async def find_by_name(self, org_id: str, name: str) -> StoredIdp | None:
        query = sa.select(IDPS).where(IDPS.c.org_id == org_id, IDPS.c.name == name)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _stored(row)

    async def insert(self, idp: IdentityProvider, *, secret_enc: str, at: datetime) -> None:
        values = _values(idp, secret_enc, at)
        await self.conn.execute(IDPS.insert(), {"id": idp.id, "created_at": at, **values})

    async def update(self, idp: IdentityProvider, *, secret_enc: str, at: datetime) -> None:
        values = _values(idp, secret_enc, at)
        await self.conn.execute(IDPS.update().where(IDPS.c.id == idp.id).values(**values))

    async def remove(self, idp_id: str) -> None:
        await self.conn.execute(LINKS.delete().where(LINKS.c.idp_id == idp_id))
        await self.conn.execute(IDPS.delete().where(IDPS.c.id == idp_id))

    async def remove_for_org(self, org_id: str) -> list[str]:
        """Remove an organisation's providers (and their links); their ids."""
        ids = list(await self.conn.scalars(sa.select(IDPS.c.id).where(IDPS.c.org_id == org_id)))
        for idp_id in ids:
            await self.remove(idp_id)
        return ids


def _link(row: sa.RowMapping) -> IdpLink:
    return IdpLink(
        id=row["id"],
        user_id=row["user_id"],
        idp_id=row["idp_id"],
        external_id=row["external_id"],
        external_name=row["external_name"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


class IdpLinkRepository(Repository):
    async def find(self, link_id: str) -> IdpLink | None:
        query = sa.select(LINKS).where(LINKS.c.id == link_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _link(row)

    async def find_external(self, idp_id: str, external_id: str) -> IdpLink | None:
        """The link of this external identity, if a user has it."""
        query = sa.select(LINKS).where(LINKS.c.idp_id == idp_id, LINKS.c.external_id == external_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _link(row)

    async def list_for_user(self, user_id: str) -> list[IdpLink]:
        query = (
            sa.select(LINKS)
            .where(LINKS.c.user_id == user_id)
            .order_by(LINKS.c.created_at, LINKS.c.id)
        )
        return [_link(row) for row in (await self.conn.execute(query)).mappings()]

    async def insert(self, link: IdpLink) -> None:
        """AlreadyExists("idp.link_exists") when the external identity is linked already."""
        values = {
            "id": link.id,
            "user_id": link.user_id,
            "idp_id": link.idp_id,
            "external_id": link.external_id,
            "external_name": link.external_name,
            "created_at": link.created_at,
            "last_used_at": link.last_used_at,
        }
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(LINKS.insert(), values)
        except sa_exc.IntegrityError as exc:
            raise AlreadyExists(
                "idp.link_exists", "this external account is linked to an account already"
            ) from exc

    async def touch(self, link: IdpLink, *, at: datetime, external_name: str) -> IdpLink:
        """Note a sign-in through the link, and the name the provider gives now."""
        await self.conn.execute(
            LINKS.update()
            .where(LINKS.c.id == link.id)
            .values(last_used_at=at, external_name=external_name[:400])
        )
        return replace(link, last_used_at=at, external_name=external_name[:400])

    async def remove(self, link_id: str) -> None:
        await self.conn.execute(LINKS.delete().where(LINKS.c.id == link_id))
