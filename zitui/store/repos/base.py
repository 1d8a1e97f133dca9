"""Helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from zitui.errors import AlreadyExists

T = TypeVar("T")


def table(model: Any) -> sa.Table:
    return model.__table__  # type: ignore[no-any-return]


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Repository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _insert(
        self, tbl: sa.Table, values: dict[str, Any], *, conflict: Callable[[str], AlreadyExists]
    ) -> None:
        """Insert a row; a unique-constraint violation becomes the domain's AlreadyExists.

        A savepoint keeps the surrounding transaction usable on PostgreSQL, which aborts a
        transaction after any failed statement.
        """
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(tbl.insert().values(**values))
        except sa_exc.IntegrityError as exc:
            raise conflict(str(exc.orig)) from exc

    async def _count(self, query: sa.Select[Any]) -> int:
        total = await self.conn.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        return int(total or 0)
