"""Login flows: one pass through the hosted login (or the console's sign-in), stored."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from zitui.records import FlowStep, StoredLoginFlow
from zitui.store.models import LoginFlowRow
from zitui.store.prepared import Prepared
from zitui.store.repos.base import Repository, table

FLOWS = table(LoginFlowRow)

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
        values = asdict(flow)
        values["step"] = flow.step.value
        values["checks"] = _checks_out(flow.checks)
        await self.conn.execute(FLOWS.insert(), values)

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
        await self.conn.execute(
            FLOWS.update()
            .where(FLOWS.c.id == flow.id)
            .values(
                browser_digest=flow.browser_digest,
                org_id=flow.org_id,
                user_id=flow.user_id,
                session_id=flow.session_id,
                login_name=flow.login_name,
                step=flow.step.value,
                checks=_checks_out(flow.checks),
                attempts=flow.attempts,
                internal=flow.internal,
                updated_at=flow.updated_at,
                expires_at=flow.expires_at,
            )
        )

    async def move_browser(self, old_digest: str, new_digest: str) -> None:
        """A new browser id after a sign-in: the browser's open flows follow it."""
        await self.conn.execute(
            FLOWS.update().where(FLOWS.c.browser_digest == old_digest).values(
                browser_digest=new_digest
            )
        )

    async def count_open_from(self, client_ip: str, *, now: datetime) -> int:
        """Unfinished, unexpired flows started from `client_ip`."""
        finished = [FlowStep.DONE.value, FlowStep.REFUSED.value]
        query = sa.select(sa.func.count()).where(
            FLOWS.c.client_ip == client_ip,
            FLOWS.c.expires_at > now,
            FLOWS.c.step.not_in(finished),
        )
        return int(await self.conn.scalar(query) or 0)
