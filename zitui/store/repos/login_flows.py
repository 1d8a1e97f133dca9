"""Login flows: one pass through the hosted login (or the console's sign-in), stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.records import FlowStep, StoredLoginFlow
from zitui.store.models import LoginFlowRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

FLOWS = table(LoginFlowRow)
_ENDED = (FlowStep.DONE, FlowStep.REFUSED, FlowStep.EMAIL_VERIFIED, FlowStep.NOT_ALLOWED)
_OPEN = [step for step in FlowStep if step not in _ENDED]

_BY_ID = Prepared(sa.select(FLOWS).where(FLOWS.c.id == sa.bindparam("id")))
_LATEST_FOR = Prepared(
    sa.select(FLOWS)
    .where(
        FLOWS.c.browser_digest == sa.bindparam("browser"),
        FLOWS.c.auth_request_id == sa.bindparam("auth_request_id"),
        FLOWS.c.expires_at > sa.bindparam("now", type_=FLOWS.c.expires_at.type),
    )
    .order_by(FLOWS.c.id.desc())
    .limit(1)
)


_UPDATE = Prepared(
    FLOWS.update()
    .where(FLOWS.c.id == sa.bindparam("b_id"))
    .values(
        browser_digest=sa.bindparam("b_browser_digest"),
        org_id=sa.bindparam("b_org_id"),
        user_id=sa.bindparam("b_user_id"),
        session_id=sa.bindparam("b_session_id"),
        login_name=sa.bindparam("b_login_name"),
        step=sa.bindparam("b_step"),
        checks=sa.bindparam("b_checks", type_=FLOWS.c.checks.type),
        attempts=sa.bindparam("b_attempts", type_=FLOWS.c.attempts.type),
        internal=sa.bindparam("b_internal", type_=FLOWS.c.internal.type),
        updated_at=sa.bindparam("b_updated_at", type_=FLOWS.c.updated_at.type),
        expires_at=sa.bindparam("b_expires_at", type_=FLOWS.c.expires_at.type),
    )
)
# Unfinished steps as equalities (SQLite reads them as one IN over the index, and a plan with
# fixed binds can be prepared, unlike an expanding IN list).
_OPEN_FROM = Prepared(
    sa.select(sa.func.count()).where(
        FLOWS.c.client_ip == sa.bindparam("ip"),
        sa.or_(*(FLOWS.c.step == step.value for step in _OPEN)),
        FLOWS.c.expires_at > sa.bindparam("now", type_=FLOWS.c.expires_at.type),
    )
)


_INSERT = Prepared(
    FLOWS.insert().values(
        {
            column: sa.bindparam(f"b_{column.name}", type_=column.type)
            for column in FLOWS.c
        }
    )
)
_MOVE_BROWSER = Prepared(
    FLOWS.update()
    .where(FLOWS.c.browser_digest == sa.bindparam("b_old"))
    .values(browser_digest=sa.bindparam("b_new"))
)


def _checks_out(checks: dict[str, datetime]) -> dict[str, str]:
    return {factor: at.isoformat() for factor, at in checks.items()}


def _flow(row: Any) -> StoredLoginFlow:
    return StoredLoginFlow(
        id=row["id"],
        kind=row["kind"],
        browser_digest=row["browser_digest"],
        auth_request_id=row["auth_request_id"],
        org_id=row["org_id"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        login_name=row["login_name"],
        client_ip=row["client_ip"],
        step=FlowStep(row["step"]),
        checks={k: datetime.fromisoformat(v) for k, v in (row["checks"] or {}).items()},
        attempts=dict(row["attempts"] or {}),
        internal=dict(row["internal"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
    )


class LoginFlowRepository(Repository):
    async def insert(self, flow: StoredLoginFlow) -> None:
        values = {f"b_{column.name}": getattr(flow, column.name) for column in FLOWS.c}
        values["b_step"] = flow.step.value
        values["b_checks"] = _checks_out(flow.checks)
        await self.conn.execute(_INSERT, values)

    async def find(self, flow_id: str) -> StoredLoginFlow | None:
        row = (await self.conn.execute(_BY_ID, {"id": flow_id})).mappings().first()
        return None if row is None else _flow(row)

    async def find_latest(
        self, browser_digest: str, auth_request_id: str, *, now: datetime
    ) -> StoredLoginFlow | None:
        """The browser's newest unexpired flow for the auth request."""
        params = {"browser": browser_digest, "auth_request_id": auth_request_id, "now": now}
        row = (await self.conn.execute(_LATEST_FOR, params)).mappings().first()
        return None if row is None else _flow(row)

    async def update(self, flow: StoredLoginFlow) -> None:
        """Store the flow's mutable fields as they are in `flow`."""
        params = {
            "b_id": flow.id,
            "b_browser_digest": flow.browser_digest,
            "b_org_id": flow.org_id,
            "b_user_id": flow.user_id,
            "b_session_id": flow.session_id,
            "b_login_name": flow.login_name,
            "b_step": flow.step.value,
            "b_checks": _checks_out(flow.checks),
            "b_attempts": flow.attempts,
            "b_internal": flow.internal,
            "b_updated_at": flow.updated_at,
            "b_expires_at": flow.expires_at,
        }
        await self.conn.execute(_UPDATE, params)

    async def move_browser(self, old_digest: str, new_digest: str) -> None:
        """A new browser id after a sign-in: the browser's open flows follow it."""
        await self.conn.execute(_MOVE_BROWSER, {"b_old": old_digest, "b_new": new_digest})

    async def count_open_from(self, client_ip: str, *, now: datetime) -> int:
        """Unfinished, unexpired flows started from `client_ip` (ranges of its index)."""
        row = (await self.conn.execute(_OPEN_FROM, {"ip": client_ip, "now": now})).first()
        return int(row[0]) if row else 0
