"""Users, human and machine, with the login names their organisation's domain gives them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import User, UserKind, UserState
from zitui.store.models import OrgDomainRow, UserRow
from zitui.store.repos.base import Repository, escape_like, table

USERS = table(UserRow)
DOMAINS = table(OrgDomainRow)

_PUBLIC_COLUMNS = [
    c
    for c in USERS.c
    if c.name not in {"password_hash", "password_changed_at", "failed_password_attempts"}
]
_SELECT = sa.select(*_PUBLIC_COLUMNS, DOMAINS.c.domain.label("primary_domain")).join(
    DOMAINS,
    sa.and_(DOMAINS.c.org_id == USERS.c.org_id, DOMAINS.c.is_primary.is_(True)),
    isouter=True,
)


@dataclass(frozen=True)
class Credentials:
    """What a password check needs; never leaves the core."""

    user: User
    password_hash: str | None
    failed_password_attempts: int


def _user(row: Any) -> User:
    domain = row["primary_domain"]
    return User(
        id=row["id"],
        org_id=row["org_id"],
        kind=UserKind(row["kind"]),
        username=row["username"],
        login_name=f"{row['username']}@{domain}" if domain else row["username"],
        state=UserState(row["state"]),
        first_name=row["first_name"],
        last_name=row["last_name"],
        nickname=row["nickname"],
        display_name=row["display_name"],
        gender=row["gender"],
        preferred_language=row["preferred_language"],
        email=row["email"],
        email_verified=row["email_verified"],
        phone=row["phone"],
        phone_verified=row["phone_verified"],
        password_change_required=row["password_change_required"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _username_conflict(_: str) -> AlreadyExists:
    return AlreadyExists(
        "user.username.taken", "this username is taken in the organisation", field="username"
    )


class UserRepository(Repository):
    async def insert(self, user: User, *, password_hash: str | None) -> None:
        values = {
            name: getattr(user, name) for name in (c.name for c in USERS.c) if hasattr(user, name)
        }
        values.update(kind=user.kind.value, state=user.state.value, password_hash=password_hash)
        await self._insert(USERS, values, conflict=_username_conflict)

    async def find(self, user_id: str) -> User | None:
        row = (await self.conn.execute(_SELECT.where(USERS.c.id == user_id))).mappings().first()
        return None if row is None else _user(row)

    async def find_by_username(self, org_id: str, username: str) -> User | None:
        query = _SELECT.where(
            USERS.c.org_id == org_id, sa.func.lower(USERS.c.username) == username.lower()
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _user(row)

    async def ids_for_login(self, text: str, *, allow_email: bool) -> list[str]:
        """Users whose login name, bare username, or verified email equals `text`.

        Login names match on any of the organisation's domains, as ZITADEL does.
        """
        text = text.strip().lower()
        matches: list[Any] = []
        if "@" in text:
            username, _, domain = text.rpartition("@")
            matches.append(
                sa.and_(
                    sa.func.lower(USERS.c.username) == username,
                    USERS.c.org_id.in_(
                        sa.select(DOMAINS.c.org_id).where(DOMAINS.c.domain == domain)
                    ),
                )
            )
        matches.append(sa.func.lower(USERS.c.username) == text)
        if allow_email:
            matches.append(
                sa.and_(sa.func.lower(USERS.c.email) == text, USERS.c.email_verified.is_(True))
            )
        query = sa.select(USERS.c.id).where(sa.or_(*matches)).limit(5)
        return list((await self.conn.scalars(query)).all())

    async def find_credentials(self, user_id: str) -> Credentials | None:
        query = sa.select(USERS.c.password_hash, USERS.c.failed_password_attempts).where(
            USERS.c.id == user_id
        )
        row = (await self.conn.execute(query)).first()
        user = await self.find(user_id)
        if row is None or user is None:
            return None
        return Credentials(user=user, password_hash=row[0], failed_password_attempts=row[1])

    async def set_password(
        self, user_id: str, password_hash: str, *, change_required: bool, at: datetime
    ) -> None:
        await self.conn.execute(
            USERS.update()
            .where(USERS.c.id == user_id)
            .values(
                password_hash=password_hash,
                password_change_required=change_required,
                password_changed_at=at,
                failed_password_attempts=0,
                updated_at=at,
            )
        )

    async def record_password_failure(self, user_id: str) -> int:
        """Increment the failure counter in one statement, so parallel checks all count."""
        await self.conn.execute(
            USERS.update()
            .where(USERS.c.id == user_id)
            .values(failed_password_attempts=USERS.c.failed_password_attempts + 1)
        )
        count = await self.conn.scalar(
            sa.select(USERS.c.failed_password_attempts).where(USERS.c.id == user_id)
        )
        return int(count or 0)

    async def reset_password_failures(self, user_id: str) -> None:
        await self.conn.execute(
            USERS.update().where(USERS.c.id == user_id).values(failed_password_attempts=0)
        )

    async def list(
        self, *, org_ids: Collection[str] | None, search: str, offset: int, limit: int
    ) -> tuple[list[User], int]:
        """Users by username; `search` matches username, email, and names."""
        query = _SELECT
        if org_ids is not None:
            query = query.where(USERS.c.org_id.in_(list(org_ids)))
        if search:
            pattern = f"%{escape_like(search)}%"
            query = query.where(
                sa.or_(
                    *(
                        column.ilike(pattern, escape="\\")
                        for column in (
                            USERS.c.username,
                            USERS.c.email,
                            USERS.c.first_name,
                            USERS.c.last_name,
                            USERS.c.display_name,
                        )
                    )
                )
            )
        total = await self._count(query)
        page = query.order_by(USERS.c.username, USERS.c.id).offset(offset).limit(limit)
        rows = (await self.conn.execute(page)).mappings().all()
        return [_user(row) for row in rows], total

    async def set_state(self, user_id: str, state: UserState, *, at: datetime) -> None:
        await self.conn.execute(
            USERS.update().where(USERS.c.id == user_id).values(state=state.value, updated_at=at)
        )
