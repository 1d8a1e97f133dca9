"""Browser sessions: one row per (browser, user), found by the digest of the browser cookie."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.records import Session
from zitui.store.models import OrgDomainRow, SessionRow, UserRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table
from zitui.store.repos.users import LOGIN_NAME_SUFFIXED, login_name_of

SESSIONS = table(SessionRow)
USERS = table(UserRow)
DOMAINS = table(OrgDomainRow)

_SELECT = (
    sa.select(
        SESSIONS.c.id,
        SESSIONS.c.user_id,
        SESSIONS.c.password_checked_at,
        SESSIONS.c.second_factor_checked_at,
        SESSIONS.c.multi_factor_checked_at,
        SESSIONS.c.second_factor_kind,
        SESSIONS.c.user_agent,
        SESSIONS.c.client_ip,
        SESSIONS.c.external_checked_at,
        SESSIONS.c.idp_id,
        SESSIONS.c.created_at,
        SESSIONS.c.last_used_at,
        USERS.c.org_id,
        USERS.c.username,
        USERS.c.display_name,
        USERS.c.preferred_language,
        USERS.c.password_change_required,
        DOMAINS.c.domain.label("primary_domain"),
        LOGIN_NAME_SUFFIXED,
    )
    .join(USERS, USERS.c.id == SESSIONS.c.user_id)
    .join(
        DOMAINS,
        sa.and_(DOMAINS.c.org_id == USERS.c.org_id, DOMAINS.c.is_primary.is_(True)),
        isouter=True,
    )
    .where(SESSIONS.c.terminated_at.is_(None))
)


def _session(row: Any) -> Session:
    login_name = login_name_of(row["username"], row["primary_domain"], row["login_name_suffixed"])
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        org_id=row["org_id"],
        login_name=login_name,
        display_name=row["display_name"],
        password_checked_at=row["password_checked_at"],
        second_factor_checked_at=row["second_factor_checked_at"],
        multi_factor_checked_at=row["multi_factor_checked_at"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        preferred_language=row["preferred_language"],
        password_change_required=row["password_change_required"],
        second_factor_kind=row["second_factor_kind"] or "",
        user_agent=row["user_agent"],
        client_ip=row["client_ip"],
        external_checked_at=row["external_checked_at"],
        idp_id=row["idp_id"],
    )


# The statements of every sign-in, built once with bound parameters.
_SELECT_BY_ID = _SELECT.where(SESSIONS.c.id == sa.bindparam("id"))
_BY_ID = Prepared(_SELECT_BY_ID)
_BY_ID_AND_BROWSER = Prepared(
    _SELECT_BY_ID.where(SESSIONS.c.browser_digest == sa.bindparam("browser"))
)
_BY_BROWSER_AND_USER = Prepared(
    sa.select(SESSIONS.c.id, SESSIONS.c.terminated_at).where(
        SESSIONS.c.browser_digest == sa.bindparam("browser"),
        SESSIONS.c.user_id == sa.bindparam("user_id"),
    )
)
_FOR_BROWSER = Prepared(
    _SELECT.where(SESSIONS.c.browser_digest == sa.bindparam("browser")).order_by(
        SESSIONS.c.last_used_at.desc(), SESSIONS.c.id.desc()
    )
)
_MOVE_BROWSER = Prepared(
    SESSIONS.update()
    .where(SESSIONS.c.browser_digest == sa.bindparam("b_old"))
    .values(browser_digest=sa.bindparam("b_new"))
)
_AT = sa.bindparam("at", type_=SESSIONS.c.last_used_at.type)
_IP = sa.bindparam("ip", type_=SESSIONS.c.client_ip.type)
_CHECKED = Prepared(
    SESSIONS.update()
    .where(SESSIONS.c.id == sa.bindparam("b_id"))
    .values(password_checked_at=_AT, last_used_at=_AT, terminated_at=None, client_ip=_IP)
)
_PASSKEY_CHECKED = Prepared(
    SESSIONS.update()
    .where(SESSIONS.c.id == sa.bindparam("b_id"))
    .values(multi_factor_checked_at=_AT, last_used_at=_AT, terminated_at=None, client_ip=_IP)
)
_EXTERNAL_CHECKED = Prepared(
    SESSIONS.update()
    .where(SESSIONS.c.id == sa.bindparam("b_id"))
    .values(
        external_checked_at=_AT,
        idp_id=sa.bindparam("idp", type_=SESSIONS.c.idp_id.type),
        last_used_at=_AT,
        terminated_at=None,
        client_ip=_IP,
    )
)
_TOUCH = Prepared(
    SESSIONS.update()
    .where(SESSIONS.c.id == sa.bindparam("b_id"), SESSIONS.c.terminated_at.is_(None))
    .values(last_used_at=_AT)
)


class SessionRepository(Repository):
    """Every query but `record_first_factor` sees active (not terminated) sessions only."""

    async def find(self, session_id: str, *, browser_digest: str | None = None) -> Session | None:
        """The session; with `browser_digest`, only if it belongs to that browser."""
        if browser_digest is None:
            query, params = _BY_ID, {"id": session_id}
        else:
            query, params = _BY_ID_AND_BROWSER, {"id": session_id, "browser": browser_digest}
        row = (await self.conn.execute(query, params)).mappings().first()
        return None if row is None else _session(row)

    async def list_for_browser(self, browser_digest: str) -> list[Session]:
        """The browser's sessions, the most recently used first."""
        rows = (await self.conn.execute(_FOR_BROWSER, {"browser": browser_digest})).mappings()
        return [_session(row) for row in rows]

    async def list_for_user(self, user_id: str) -> list[Session]:
        """The user's sessions on every browser, the most recently used first."""
        query = _SELECT.where(SESSIONS.c.user_id == user_id).order_by(
            SESSIONS.c.last_used_at.desc(), SESSIONS.c.id.desc()
        )
        return [_session(row) for row in (await self.conn.execute(query)).mappings()]

    async def record_password_check(
        self,
        browser_digest: str,
        user_id: str,
        *,
        new_id: str,
        at: datetime,
        user_agent: str,
        client_ip: str = "",
    ) -> str:
        """Note a password check for (browser, user) and return the session's id."""
        return await self.record_first_factor(
            browser_digest,
            user_id,
            new_id=new_id,
            at=at,
            user_agent=user_agent,
            client_ip=client_ip,
        )

    async def record_first_factor(
        self,
        browser_digest: str,
        user_id: str,
        *,
        new_id: str,
        at: datetime,
        user_agent: str,
        passkey: bool = False,
        external_idp: str = "",
        client_ip: str = "",
    ) -> str:
        """Note a first factor for (browser, user) and return the session's id: a password
        (`password_checked_at`), or with `passkey` a passkey with user verification, which is
        multi-factor on its own (`multi_factor_checked_at`), or with `external_idp` a sign-in
        at that external provider (`external_checked_at`). `client_ip` is where the check
        came from; the session keeps the latest.

        An active session keeps its id; a terminated one is replaced by a fresh row with
        `new_id`, so an id once ended never becomes valid again. A concurrent check that
        inserted the row first is joined (the unique constraint decides the race).
        """
        checked = "multi_factor_checked_at" if passkey else "password_checked_at"
        if external_idp:
            checked = "external_checked_at"
        existing = await self._row(browser_digest, user_id)
        if existing is not None and existing.terminated_at is not None:
            await self.conn.execute(SESSIONS.delete().where(SESSIONS.c.id == existing.id))
            existing = None
        if existing is None:
            values = {
                "id": new_id,
                "browser_digest": browser_digest,
                "user_id": user_id,
                checked: at,
                "user_agent": user_agent[:400],
                "client_ip": client_ip[:64],
                "idp_id": external_idp,
                "created_at": at,
                "last_used_at": at,
            }
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(SESSIONS.insert(), values)
                return new_id
            except sa_exc.IntegrityError:
                existing = await self._row(browser_digest, user_id)
                if existing is None:
                    raise
        params = {"b_id": existing.id, "at": at, "ip": client_ip[:64]}
        if external_idp:
            await self.conn.execute(_EXTERNAL_CHECKED, {**params, "idp": external_idp})
        else:
            await self.conn.execute(_PASSKEY_CHECKED if passkey else _CHECKED, params)
        return str(existing.id)

    async def record_second_factor(self, session_id: str, at: datetime, *, kind: str) -> None:
        """Note a second factor of `kind` (a FactorKind value, or "recovery") checked on the
        session (and its use) at `at`."""
        await self.conn.execute(
            SESSIONS.update()
            .where(SESSIONS.c.id == session_id)
            .values(second_factor_checked_at=at, second_factor_kind=kind, last_used_at=at)
        )

    async def record_multi_factor(self, session_id: str, at: datetime) -> None:
        """Note a passkey with user verification checked on the session at `at`: multi-factor
        on its own (ZITADEL's `MultiFactorCheckLifetime` applies to it)."""
        await self.conn.execute(
            SESSIONS.update()
            .where(SESSIONS.c.id == session_id)
            .values(multi_factor_checked_at=at, last_used_at=at)
        )

    async def touch(self, session_id: str, *, at: datetime) -> None:
        await self.conn.execute(_TOUCH, {"b_id": session_id, "at": at})

    async def terminate_for_user(
        self, user_id: str, *, at: datetime, keep_session_id: str | None = None
    ) -> int:
        """End the user's active sessions on every browser but `keep_session_id`'s; how many."""
        query = SESSIONS.update().where(
            SESSIONS.c.user_id == user_id, SESSIONS.c.terminated_at.is_(None)
        )
        if keep_session_id is not None:
            query = query.where(SESSIONS.c.id != keep_session_id)
        result = await self.conn.execute(query.values(terminated_at=at))
        return int(result.rowcount or 0)

    async def terminate(self, session_ids: Collection[str], *, at: datetime) -> None:
        if session_ids:
            await self.conn.execute(
                SESSIONS.update()
                .where(SESSIONS.c.id.in_(list(session_ids)), SESSIONS.c.terminated_at.is_(None))
                .values(terminated_at=at)
            )

    async def move_browser(self, old_digest: str, new_digest: str) -> None:
        """Give the browser's sessions a new browser id (a fresh one after each sign-in)."""
        await self.conn.execute(_MOVE_BROWSER, {"b_old": old_digest, "b_new": new_digest})

    async def _row(self, browser_digest: str, user_id: str) -> Any:
        params = {"browser": browser_digest, "user_id": user_id}
        return (await self.conn.execute(_BY_BROWSER_AND_USER, params)).first()
