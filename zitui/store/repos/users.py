"""Users, human and machine, with the login names their organisation's domain gives them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.errors import AlreadyExists
from zitui.records import TokenType, User, UserKind, UserState
from zitui.store.models import OrgDomainRow, PolicyRow, UserRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, escape_like, table

USERS = table(UserRow)
DOMAINS = table(OrgDomainRow)
POLICIES = table(PolicyRow)


def _must_be_domain(org_id: str | sa.ColumnElement[str]) -> sa.ScalarSelect[Any]:
    setting = POLICIES.c.settings["user_login_must_be_domain"].as_boolean()
    return (
        sa.select(setting)
        .where(POLICIES.c.kind == "domain", POLICIES.c.org_id == org_id)
        .scalar_subquery()
    )


# Whether a user's login name carries the organisation's domain: always for a plain username;
# for one that is an email address only when the domain policy (the organisation's, else the
# instance default) sets `user_login_must_be_domain`, as ZITADEL's preferred login name. The
# policy is read only for such usernames, so the common lookup stays one join.
LOGIN_NAME_SUFFIXED = sa.case(
    (
        USERS.c.username.contains("@"),
        sa.func.coalesce(_must_be_domain(USERS.c.org_id), _must_be_domain(""), sa.false()),
    ),
    else_=sa.true(),
).label("login_name_suffixed")


def login_name_of(username: str, domain: str | None, suffixed: object = True) -> str:
    """`username@domain`, or the username alone when it is its own login name."""
    if not domain or (not suffixed and "@" in username):
        return username
    return f"{username}@{domain}"


_PRIVATE_COLUMNS = {
    "password_hash",
    "password_changed_at",
    "failed_password_attempts",
    "failed_code_attempts",
    "terms_accepted_at",
    "mfa_init_skipped_at",
    "secret_digest",
}
_PUBLIC_COLUMNS = [c for c in USERS.c if c.name not in _PRIVATE_COLUMNS]
_PROFILE_COLUMNS = frozenset(
    {"first_name", "last_name", "nickname", "display_name", "gender", "preferred_language"}
)
_SELECT = sa.select(
    *_PUBLIC_COLUMNS,
    USERS.c.secret_digest.is_not(None).label("has_secret"),
    DOMAINS.c.domain.label("primary_domain"),
    LOGIN_NAME_SUFFIXED,
).join(
    DOMAINS,
    sa.and_(DOMAINS.c.org_id == USERS.c.org_id, DOMAINS.c.is_primary.is_(True)),
    isouter=True,
)


# The hot lookups are built once with bound parameters: SQLAlchemy then reuses their
# compiled form and cache key instead of rebuilding both on every call.
_BY_ID = Prepared(_SELECT.where(USERS.c.id == sa.bindparam("user_id")))
_CREDENTIALS = Prepared(
    sa.select(
        USERS.c.password_hash, USERS.c.failed_password_attempts, USERS.c.password_changed_at
    ).where(USERS.c.id == sa.bindparam("user_id"))
)
_RESET_FAILURES = Prepared(
    USERS.update()
    .where(USERS.c.id == sa.bindparam("user_id"), USERS.c.failed_password_attempts != 0)
    .values(failed_password_attempts=0)
)


@dataclass(frozen=True)
class Credentials:
    """What a password check needs; never leaves the core."""

    user: User
    password_hash: str | None
    failed_password_attempts: int
    # None for a password set when the user was created: their creation time counts.
    password_changed_at: datetime | None = None


def _user(row: Any) -> User:
    login_name = login_name_of(
        row["username"], row["primary_domain"], row.get("login_name_suffixed", True)
    )
    return User(
        id=row["id"],
        org_id=row["org_id"],
        kind=UserKind(row["kind"]),
        username=row["username"],
        login_name=login_name,
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
        description=row["description"],
        access_token_type=TokenType(row["access_token_type"]),
        has_secret=bool(row["has_secret"]),
    )


# For other repositories that return a user with what they look up (machines.find_secret).
SELECT_USERS = _SELECT
user_from_row = _user

_RECORD_COLUMNS = tuple(c.name for c in USERS.c if c.name in User.__dataclass_fields__)


def _row_values(user: User) -> dict[str, Any]:
    values = {name: getattr(user, name) for name in _RECORD_COLUMNS}
    values.update(
        kind=user.kind.value,
        state=user.state.value,
        access_token_type=user.access_token_type.value,
    )
    return values


def _username_conflict(_: str) -> AlreadyExists:
    return AlreadyExists(
        "user.username.taken", "this username is taken in the organisation", field="username"
    )


def _ids_for_login(*, with_domain: bool, with_email: bool, with_phone: bool) -> Prepared:
    """Every sign-in looks its user up: the eight shapes of the query, built once."""
    text: sa.BindParameter[str] = sa.bindparam("text")
    matches: list[Any] = []
    if with_domain:
        domain_orgs = sa.select(DOMAINS.c.org_id).where(DOMAINS.c.domain == sa.bindparam("domain"))
        matches.append(
            sa.and_(
                sa.func.lower(USERS.c.username) == sa.bindparam("username"),
                USERS.c.org_id.in_(domain_orgs),
            )
        )
    matches.append(sa.func.lower(USERS.c.username) == text)
    if with_email:
        verified = USERS.c.email_verified.is_(True)
        matches.append(sa.and_(sa.func.lower(USERS.c.email) == text, verified))
    if with_phone:
        phone_verified = USERS.c.phone_verified.is_(True)
        matches.append(sa.and_(USERS.c.phone == sa.bindparam("phone"), phone_verified))
    return Prepared(sa.select(USERS.c.id).where(sa.or_(*matches)).limit(5))


_IDS_FOR_LOGIN = {
    (domain, email, phone): _ids_for_login(with_domain=domain, with_email=email, with_phone=phone)
    for domain in (True, False)
    for email in (True, False)
    for phone in (True, False)
}


class UserRepository(Repository):
    async def insert(self, user: User, *, password_hash: str | None) -> None:
        values = _row_values(user) | {"password_hash": password_hash}
        await self._insert(USERS, values, conflict=_username_conflict)

    async def insert_many(self, users: Sequence[User]) -> None:
        """Bulk insert without passwords (imports, tests); one statement, many rows."""
        if users:
            await self.conn.execute(USERS.insert(), [_row_values(user) for user in users])

    async def find(self, user_id: str) -> User | None:
        row = (await self.conn.execute(_BY_ID, {"user_id": user_id})).mappings().first()
        return None if row is None else _user(row)

    async def find_by_username(self, org_id: str, username: str) -> User | None:
        query = _SELECT.where(
            USERS.c.org_id == org_id, sa.func.lower(USERS.c.username) == username.lower()
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _user(row)

    async def ids_for_login(self, text: str, *, allow_email: bool, phone: str = "") -> list[str]:
        """Users whose login name, bare username, or verified email equals `text`, or whose
        verified phone number is `phone` (when given, in the stored form).

        Login names match on any of the organisation's domains, as ZITADEL does.
        """
        text = text.strip().lower()
        username, at, domain = text.rpartition("@")
        query = _IDS_FOR_LOGIN[(bool(at), allow_email, bool(phone))]
        params = {"text": text, "username": username, "domain": domain, "phone": phone}
        return [row[0] for row in (await self.conn.execute(query, params)).all()]

    async def find_credentials(self, user_id: str) -> Credentials | None:
        row = (await self.conn.execute(_CREDENTIALS, {"user_id": user_id})).first()
        user = await self.find(user_id)
        if row is None or user is None:
            return None
        return Credentials(
            user=user,
            password_hash=row[0],
            failed_password_attempts=row[1],
            password_changed_at=row[2],
        )

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

    async def require_password_change(self, user_id: str, *, at: datetime) -> None:
        """The user must choose a new password at the next sign-in (an expired one)."""
        await self.conn.execute(
            USERS.update()
            .where(USERS.c.id == user_id)
            .values(password_change_required=True, updated_at=at)
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
        await self.conn.execute(_RESET_FAILURES, {"user_id": user_id})

    async def list(
        self, *, org_ids: Collection[str] | None, search: str, offset: int, limit: int
    ) -> tuple[list[User], int]:
        """Users by username; `search` matches login name, email, and names.

        A substring search cannot use a B-tree index: it scans the users of the organisations
        in scope, found by index when they are given (`uq_users_org_username`), and the page
        is a LIMITed top-N sort by username. 100,000 users take ~0.1-0.3 s on SQLite.
        """
        query = _SELECT
        if org_ids is not None:
            query = query.where(USERS.c.org_id.in_(list(org_ids)))
        if search:
            query = query.where(_matches(search, sqlite=self.conn.dialect.name == "sqlite"))
        total = await self._count(query)
        page = query.order_by(USERS.c.username, USERS.c.id).offset(offset).limit(limit)
        rows = (await self.conn.execute(page)).mappings().all()
        return [_user(row) for row in rows], total

    async def set_state(self, user_id: str, state: UserState, *, at: datetime) -> None:
        await self.conn.execute(
            USERS.update().where(USERS.c.id == user_id).values(state=state.value, updated_at=at)
        )

    async def update_profile(
        self, user_id: str, values: Mapping[str, str], *, at: datetime
    ) -> None:
        unknown = set(values) - _PROFILE_COLUMNS
        if unknown:
            raise ValueError(f"not profile columns: {sorted(unknown)}")
        await self._update(user_id, at=at, **values)

    async def set_username(self, user_id: str, username: str, *, at: datetime) -> None:
        try:
            async with self.conn.begin_nested():
                await self._update(user_id, at=at, username=username)
        except sa.exc.IntegrityError as exc:
            raise _username_conflict(str(exc.orig)) from exc

    async def set_email(self, user_id: str, email: str, *, verified: bool, at: datetime) -> None:
        await self._update(user_id, at=at, email=email, email_verified=verified)

    async def set_phone(self, user_id: str, phone: str, *, verified: bool, at: datetime) -> None:
        await self._update(user_id, at=at, phone=phone, phone_verified=verified)

    async def unlock(self, user_id: str, *, at: datetime) -> None:
        """Active again with no failures counted; a human without a password is initial."""
        state = sa.case(
            (
                sa.and_(USERS.c.kind == UserKind.HUMAN.value, USERS.c.password_hash.is_(None)),
                UserState.INITIAL.value,
            ),
            else_=UserState.ACTIVE.value,
        )
        await self._update(
            user_id, at=at, state=state, failed_password_attempts=0, failed_code_attempts=0
        )

    async def record_code_failure(self, user_id: str) -> int:
        """Count a wrong one-time code in one statement; the count now."""
        await self.conn.execute(
            USERS.update()
            .where(USERS.c.id == user_id)
            .values(failed_code_attempts=USERS.c.failed_code_attempts + 1)
        )
        query = sa.select(USERS.c.failed_code_attempts).where(USERS.c.id == user_id)
        return int((await self.conn.execute(query)).scalar() or 0)

    async def reset_code_failures(self, user_id: str) -> None:
        await self.conn.execute(
            USERS.update().where(USERS.c.id == user_id).values(failed_code_attempts=0)
        )

    async def accept_terms(self, user_id: str, *, at: datetime) -> None:
        await self._update(user_id, at=at, terms_accepted_at=at)

    async def terms_accepted_at(self, user_id: str) -> datetime | None:
        query = sa.select(USERS.c.terms_accepted_at).where(USERS.c.id == user_id)
        value: datetime | None = (await self.conn.execute(query)).scalar()
        return value

    async def skip_mfa_init(self, user_id: str, *, at: datetime) -> None:
        """Note that the user chose not to set up a second factor now."""
        await self.conn.execute(
            USERS.update().where(USERS.c.id == user_id).values(mfa_init_skipped_at=at)
        )

    async def mfa_init_skipped_at(self, user_id: str) -> datetime | None:
        query = sa.select(USERS.c.mfa_init_skipped_at).where(USERS.c.id == user_id)
        value: datetime | None = (await self.conn.execute(query)).scalar()
        return value

    async def email_in_use(self, email: str) -> bool:
        """Whether any user of the instance has this email address (any case)."""
        query = sa.select(USERS.c.id).where(sa.func.lower(USERS.c.email) == email.lower()).limit(1)
        return (await self.conn.execute(query)).first() is not None

    async def set_secret_digest(self, user_id: str, digest: str | None, *, at: datetime) -> None:
        await self._update(user_id, at=at, secret_digest=digest)

    async def delete(self, user_id: str) -> None:
        """Remove the user; memberships, keys, tokens and grants go by foreign key."""
        await self.conn.execute(USERS.delete().where(USERS.c.id == user_id))

    async def _update(self, user_id: str, *, at: datetime, **values: Any) -> None:
        await self.conn.execute(
            USERS.update().where(USERS.c.id == user_id).values(updated_at=at, **values)
        )


def _matches(search: str, *, sqlite: bool) -> Any:
    """Substring match on login name (or username), email and names, ignoring case.

    SQLite's LIKE ignores ASCII case by itself, exactly as far as its lower() does, so it
    gets a plain LIKE: a scan of 100,000 users is about four times faster without lower().
    """
    pattern = f"%{escape_like(search)}%"
    login_name = USERS.c.username + "@" + sa.func.coalesce(DOMAINS.c.domain, "")
    columns: list[Any] = [
        login_name if "@" in search else USERS.c.username,
        USERS.c.email,
        USERS.c.first_name,
        USERS.c.last_name,
        USERS.c.display_name,
    ]
    if sqlite:
        return sa.or_(*(column.like(pattern, escape="\\") for column in columns))
    return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))
