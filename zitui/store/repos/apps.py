"""OIDC applications of projects."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.errors import AlreadyExists
from zitui.records import App, AppType, AuthMethod, State, TokenType
from zitui.store.models import AppRow
from zitui.store.repos.base import Repository, table

APPS = table(AppRow)

_LIST_COLUMNS = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "response_types",
    "grant_types",
    "additional_origins",
)
_PUBLIC = [c for c in APPS.c if c.name != "client_secret_digest"]
_SELECT = sa.select(*_PUBLIC, APPS.c.client_secret_digest.is_not(None).label("has_secret"))


def _app(row: Any) -> App:
    return App(
        id=row["id"],
        project_id=row["project_id"],
        org_id=row["org_id"],
        name=row["name"],
        state=State(row["state"]),
        app_type=AppType(row["app_type"]),
        client_id=row["client_id"],
        has_secret=bool(row["has_secret"]),
        auth_method=AuthMethod(row["auth_method"]),
        redirect_uris=tuple(row["redirect_uris"]),
        post_logout_redirect_uris=tuple(row["post_logout_redirect_uris"]),
        response_types=tuple(row["response_types"]),
        grant_types=tuple(row["grant_types"]),
        access_token_type=TokenType(row["access_token_type"]),
        access_token_role_assertion=row["access_token_role_assertion"],
        id_token_role_assertion=row["id_token_role_assertion"],
        id_token_userinfo_assertion=row["id_token_userinfo_assertion"],
        clock_skew_s=row["clock_skew_s"],
        dev_mode=row["dev_mode"],
        additional_origins=tuple(row["additional_origins"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _conflict(message: str) -> AlreadyExists:
    if "client_id" in message:
        return AlreadyExists("app.client_id.taken", "this client id is taken", field="client_id")
    return AlreadyExists(
        "app.name.taken", "the project has an application with this name", field="name"
    )


def _values(app: App) -> dict[str, Any]:
    """The columns of an app record, with enums as their values and tuples as lists."""
    values: dict[str, Any] = {}
    for column in _PUBLIC:
        value = getattr(app, column.name)
        if column.name in _LIST_COLUMNS:
            value = list(value)
        elif isinstance(value, Enum):
            value = value.value
        values[column.name] = value
    return values


class AppRepository(Repository):
    async def insert(self, app: App, *, secret_digest: str | None) -> None:
        values = _values(app) | {"client_secret_digest": secret_digest}
        await self._insert(APPS, values, conflict=_conflict)

    async def find(self, app_id: str) -> App | None:
        row = (await self.conn.execute(_SELECT.where(APPS.c.id == app_id))).mappings().first()
        return None if row is None else _app(row)

    async def find_by_client_id(self, client_id: str) -> App | None:
        query = _SELECT.where(APPS.c.client_id == client_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _app(row)

    async def find_secret_digest(self, client_id: str) -> str | None:
        """The SHA-256 digest of an app's client secret, for the token endpoint's check.

        One indexed column read; None when the client is unknown or has no secret.
        """
        query = sa.select(APPS.c.client_secret_digest).where(APPS.c.client_id == client_id)
        digest: str | None = await self.conn.scalar(query)
        return digest

    async def find_by_name(self, project_id: str, name: str) -> App | None:
        query = _SELECT.where(
            APPS.c.project_id == project_id, sa.func.lower(APPS.c.name) == name.lower()
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _app(row)

    async def list_for_project(
        self, project_id: str, *, offset: int, limit: int
    ) -> tuple[list[App], int]:
        query = _SELECT.where(APPS.c.project_id == project_id)
        total = await self._count(query)
        page = query.order_by(APPS.c.name, APPS.c.id).offset(offset).limit(limit)
        rows = (await self.conn.execute(page)).mappings().all()
        return [_app(row) for row in rows], total

    async def update(self, app: App) -> None:
        """Write every public column of `app`; a taken name becomes AlreadyExists on `name`."""
        values = _values(app)
        del values["id"], values["client_id"], values["created_at"]
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(APPS.update().where(APPS.c.id == app.id).values(values))
        except sa_exc.IntegrityError as exc:
            raise _conflict(str(exc.orig)) from exc

    async def set_secret_digest(self, app_id: str, digest: str | None, *, at: datetime) -> None:
        await self.conn.execute(
            APPS.update()
            .where(APPS.c.id == app_id)
            .values(client_secret_digest=digest, updated_at=at)
        )

    async def delete(self, app_id: str) -> None:
        await self.conn.execute(APPS.delete().where(APPS.c.id == app_id))
