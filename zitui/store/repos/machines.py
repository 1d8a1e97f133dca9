"""Machine users' JWT-profile keys, personal access tokens and client secrets.

The `find_*` lookups serve the token endpoint: one indexed query each, no ORM objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import MachineKey, PersonalAccessToken, User, UserKind, UserState
from zitui.store.models import MachineKeyRow, OrgDomainRow, PersonalAccessTokenRow, UserRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table
from zitui.store.repos.users import SELECT_USERS, user_from_row

KEYS = table(MachineKeyRow)
PATS = table(PersonalAccessTokenRow)
USERS = table(UserRow)
DOMAINS = table(OrgDomainRow)


@dataclass(frozen=True)
class PublicMachineKey:
    """What a JWT-profile assertion is checked against."""

    key_id: str
    user_id: str
    public_key_pem: str
    expires_at: datetime | None


@dataclass(frozen=True)
class TokenOwner:
    """The machine user behind a personal access token."""

    token_id: str
    user_id: str
    org_id: str
    user_state: UserState
    expires_at: datetime | None


@dataclass(frozen=True)
class MachineSecret:
    """A machine user with its client-secret digest, found by client id."""

    user: User
    secret_digest: str


def _token_conflict(_: str) -> AlreadyExists:
    return AlreadyExists("machine.token.exists", "this token exists already", field="token")


class MachineRepository(Repository):
    async def insert_key(self, key: MachineKey, *, public_key_pem: str) -> None:
        await self.conn.execute(
            KEYS.insert(),
            {
                "id": key.id,
                "user_id": key.user_id,
                "public_key_pem": public_key_pem,
                "created_at": key.created_at,
                "expires_at": key.expires_at,
            },
        )

    async def list_keys(self, user_id: str) -> list[MachineKey]:
        query = (
            sa.select(KEYS.c.id, KEYS.c.user_id, KEYS.c.created_at, KEYS.c.expires_at)
            .where(KEYS.c.user_id == user_id)
            .order_by(KEYS.c.created_at, KEYS.c.id)
        )
        return [MachineKey(**row) for row in (await self.conn.execute(query)).mappings()]

    async def delete_key(self, user_id: str, key_id: str) -> bool:
        result = await self.conn.execute(
            KEYS.delete().where(KEYS.c.id == key_id, KEYS.c.user_id == user_id)
        )
        return bool(result.rowcount)

    async def find_key(self, key_id: str) -> PublicMachineKey | None:
        query = sa.select(KEYS.c.user_id, KEYS.c.public_key_pem, KEYS.c.expires_at).where(
            KEYS.c.id == key_id
        )
        row = (await self.conn.execute(query)).first()
        if row is None:
            return None
        return PublicMachineKey(
            key_id=key_id, user_id=row[0], public_key_pem=row[1], expires_at=row[2]
        )

    async def insert_token(self, token: PersonalAccessToken, *, digest: str) -> None:
        values = {
            "id": token.id,
            "user_id": token.user_id,
            "token_digest": digest,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
        }
        await self._insert(PATS, values, conflict=_token_conflict)

    async def list_tokens(self, user_id: str) -> list[PersonalAccessToken]:
        query = (
            sa.select(PATS.c.id, PATS.c.user_id, PATS.c.created_at, PATS.c.expires_at)
            .where(PATS.c.user_id == user_id)
            .order_by(PATS.c.created_at, PATS.c.id)
        )
        return [PersonalAccessToken(**row) for row in (await self.conn.execute(query)).mappings()]

    async def delete_token(self, user_id: str, token_id: str) -> bool:
        result = await self.conn.execute(
            PATS.delete().where(PATS.c.id == token_id, PATS.c.user_id == user_id)
        )
        return bool(result.rowcount)

    async def find_by_pat_digest(self, digest: str) -> TokenOwner | None:
        row = (await self.conn.execute(_PAT_BY_DIGEST, {"digest": digest})).first()
        if row is None:
            return None
        return TokenOwner(
            token_id=row[0],
            user_id=row[1],
            org_id=row[2],
            user_state=UserState(row[3]),
            expires_at=row[4],
        )

    async def find_secret(self, client_id: str) -> MachineSecret | None:
        """The secret of the machine user whose username (or `username@domain`) is `client_id`.

        Usernames match exactly, as issued by `generate_machine_secret`.
        A bare username shared by machine users of several organisations is ambiguous and
        finds nothing; the login-name form then names one.
        """
        name = client_id.strip()
        username, at, domain = name.rpartition("@")
        if at:
            query = _SECRET_BY_LOGIN_NAME
            params = {"name": name, "username": username, "domain": domain.lower()}
        else:
            query, params = _SECRET_BY_USERNAME, {"name": name}
        rows = (await self.conn.execute(query, params)).mappings().all()
        if len(rows) != 1:
            return None
        return MachineSecret(user=user_from_row(rows[0]), secret_digest=rows[0]["secret_digest"])


# Exact usernames, so the login-name form is a lookup in `uq_users_org_username`. Built
# once with bound parameters: these serve every client_credentials grant and PAT request.
# The user comes along: a client_credentials grant needs no second lookup.
_SECRET_COLUMNS = SELECT_USERS.add_columns(USERS.c.secret_digest)
_CLAIMED = DOMAINS.alias("claimed")  # not the primary-domain join of SELECT_USERS
_IS_MACHINE_WITH_SECRET = sa.and_(
    USERS.c.kind == UserKind.MACHINE.value, USERS.c.secret_digest.is_not(None)
)
_SECRET_BY_USERNAME = Prepared(
    _SECRET_COLUMNS.where(_IS_MACHINE_WITH_SECRET, USERS.c.username == sa.bindparam("name")).limit(
        2
    )
)
_SECRET_BY_LOGIN_NAME = Prepared(
    _SECRET_COLUMNS.where(
        _IS_MACHINE_WITH_SECRET,
        sa.or_(
            USERS.c.username == sa.bindparam("name"),
            sa.and_(
                USERS.c.username == sa.bindparam("username"),
                USERS.c.org_id.in_(
                    sa.select(_CLAIMED.c.org_id).where(_CLAIMED.c.domain == sa.bindparam("domain"))
                ),
            ),
        ),
    ).limit(2)
)
_PAT_BY_DIGEST = Prepared(
    sa.select(PATS.c.id, PATS.c.user_id, USERS.c.org_id, USERS.c.state, PATS.c.expires_at)
    .join(USERS, USERS.c.id == PATS.c.user_id)
    .where(PATS.c.token_digest == sa.bindparam("digest"))
)
