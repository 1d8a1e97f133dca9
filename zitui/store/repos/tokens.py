"""Issued access and refresh tokens, found by the SHA-256 digest of their value (or a JWT's id).

These queries serve the token, userinfo and introspection endpoints: each is one statement on
a unique or indexed column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.records import AccessTokenInfo, RefreshTokenInfo
from zitui.store.models import AccessTokenRow, AppRow, RefreshTokenRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

ACCESS = table(AccessTokenRow)
REFRESH = table(RefreshTokenRow)
APPS = table(AppRow)


@dataclass(frozen=True)
class HeldRefreshToken:
    """A user's live refresh token, with the application that holds it."""

    id: str
    family_id: str
    client_id: str
    app_name: str
    created_at: datetime
    expires_at: datetime


_ACCESS_COLUMNS = [c for c in ACCESS.c if c.name != "token_digest"]
_REFRESH_COLUMNS = [c for c in REFRESH.c if c.name != "token_digest"]
_TUPLES = ("scopes", "audience", "amr")

# Built once with bound parameters, so each call reuses the compiled statement.
_INSERT_ACCESS = Prepared(ACCESS.insert())
_INSERT_REFRESH = Prepared(REFRESH.insert())
_ACCESS_BY_DIGEST = Prepared(
    sa.select(*_ACCESS_COLUMNS).where(ACCESS.c.token_digest == sa.bindparam("digest"))
)
_ACCESS_BY_ID = Prepared(sa.select(*_ACCESS_COLUMNS).where(ACCESS.c.id == sa.bindparam("token_id")))
_REFRESH_BY_DIGEST = Prepared(
    sa.select(*_REFRESH_COLUMNS).where(REFRESH.c.token_digest == sa.bindparam("digest"))
)


def _values(record: Any, columns: list[sa.Column[Any]]) -> dict[str, Any]:
    values = {c.name: getattr(record, c.name) for c in columns}
    for name in _TUPLES:
        values[name] = list(values[name])
    return values


def _record(kind: Any, row: Any) -> Any:
    values = dict(row)
    for name in _TUPLES:
        values[name] = tuple(values[name])
    return kind(**values)


class AccessTokenRepository(Repository):
    async def insert(self, token: AccessTokenInfo, *, digest: str | None) -> None:
        """Store a token; opaque ones with their digest, JWTs (`digest=None`) by `id` only."""
        values = _values(token, _ACCESS_COLUMNS) | {"token_digest": digest}
        await self.conn.execute(_INSERT_ACCESS, values)

    async def find_by_digest(self, digest: str) -> AccessTokenInfo | None:
        row = (await self.conn.execute(_ACCESS_BY_DIGEST, {"digest": digest})).mappings().first()
        return None if row is None else _record(AccessTokenInfo, row)

    async def find(self, token_id: str) -> AccessTokenInfo | None:
        row = (await self.conn.execute(_ACCESS_BY_ID, {"token_id": token_id})).mappings().first()
        return None if row is None else _record(AccessTokenInfo, row)

    async def revoke(self, token_id: str, *, at: datetime) -> None:
        await self.conn.execute(
            ACCESS.update()
            .where(ACCESS.c.id == token_id, ACCESS.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def revoke_for_grant(self, auth_request_id: str, *, at: datetime) -> int:
        """Every token issued from one authorization (its code and the refreshes after it)."""
        result = await self.conn.execute(
            ACCESS.update()
            .where(ACCESS.c.auth_request_id == auth_request_id, ACCESS.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(result.rowcount or 0)

    async def revoke_for_user(
        self, user_id: str, *, at: datetime, keep_session_id: str | None = None
    ) -> int:
        """Revoke the user's live access tokens, but those issued to `keep_session_id`'s
        session; how many. Tokens of no session (machine grants) are always revoked."""
        query = ACCESS.update().where(
            ACCESS.c.user_id == user_id, ACCESS.c.revoked_at.is_(None), ACCESS.c.expires_at > at
        )
        if keep_session_id is not None:
            query = query.where(ACCESS.c.session_id.is_distinct_from(keep_session_id))
        result = await self.conn.execute(query.values(revoked_at=at))
        return int(result.rowcount or 0)


class RefreshTokenRepository(Repository):
    async def insert(self, token: RefreshTokenInfo, *, digest: str) -> None:
        values = _values(token, _REFRESH_COLUMNS) | {"token_digest": digest}
        await self.conn.execute(_INSERT_REFRESH, values)

    async def find_by_digest(self, digest: str) -> RefreshTokenInfo | None:
        query, params = _REFRESH_BY_DIGEST, {"digest": digest}
        row = (await self.conn.execute(query, params)).mappings().first()
        return None if row is None else _record(RefreshTokenInfo, row)

    async def rotate(self, token_id: str, *, at: datetime) -> bool:
        """Mark a live token as used; False when it was rotated or revoked meanwhile."""
        result = await self.conn.execute(
            REFRESH.update()
            .where(
                REFRESH.c.id == token_id,
                REFRESH.c.rotated_at.is_(None),
                REFRESH.c.revoked_at.is_(None),
            )
            .values(rotated_at=at)
        )
        return bool(result.rowcount)

    async def revoke_family(self, family_id: str, *, at: datetime) -> int:
        result = await self.conn.execute(
            REFRESH.update()
            .where(REFRESH.c.family_id == family_id, REFRESH.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(result.rowcount or 0)

    async def revoke_for_user(
        self, user_id: str, *, at: datetime, keep_session_id: str | None = None
    ) -> int:
        """Revoke the user's live refresh tokens (neither rotated, revoked nor expired), but
        those issued to `keep_session_id`'s session; how many."""
        query = REFRESH.update().where(
            REFRESH.c.user_id == user_id,
            REFRESH.c.revoked_at.is_(None),
            REFRESH.c.rotated_at.is_(None),
            REFRESH.c.idle_expires_at > at,
            REFRESH.c.absolute_expires_at > at,
        )
        if keep_session_id is not None:
            query = query.where(REFRESH.c.session_id.is_distinct_from(keep_session_id))
        result = await self.conn.execute(query.values(revoked_at=at))
        return int(result.rowcount or 0)

    async def list_held_by_apps(self, user_id: str, *, at: datetime) -> list[HeldRefreshToken]:
        """The user's live refresh tokens (neither rotated, revoked nor expired) with the
        application of each, the newest first; the earlier expiry counts."""
        query = (
            sa.select(
                REFRESH.c.id,
                REFRESH.c.family_id,
                APPS.c.client_id,
                APPS.c.name,
                REFRESH.c.created_at,
                REFRESH.c.idle_expires_at,
                REFRESH.c.absolute_expires_at,
            )
            .join(APPS, APPS.c.id == REFRESH.c.app_id)
            .where(
                REFRESH.c.user_id == user_id,
                REFRESH.c.revoked_at.is_(None),
                REFRESH.c.rotated_at.is_(None),
                REFRESH.c.idle_expires_at > at,
                REFRESH.c.absolute_expires_at > at,
            )
            .order_by(REFRESH.c.created_at.desc(), REFRESH.c.id.desc())
        )
        return [
            HeldRefreshToken(
                id=row.id,
                family_id=row.family_id,
                client_id=row.client_id,
                app_name=row.name,
                created_at=row.created_at,
                expires_at=min(row.idle_expires_at, row.absolute_expires_at),
            )
            for row in (await self.conn.execute(query))
        ]
