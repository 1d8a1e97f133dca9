"""Second factors of users and their recovery codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.store.models import RecoveryCodeRow, UserFactorRow
from zitui.store.repos.base import Repository, table

FACTORS = table(UserFactorRow)
RECOVERY = table(RecoveryCodeRow)

READY = "ready"
PENDING = "pending"


@dataclass(frozen=True)
class StoredFactor:
    id: str
    user_id: str
    kind: str
    name: str
    state: str
    secret_enc: str | None
    last_step: int | None
    created_at: datetime
    last_used_at: datetime | None
    # WebAuthn credentials (security keys, passkeys): id and COSE key in base64url.
    credential_id: str | None = None
    public_key: str | None = None
    sign_count: int | None = None
    transports: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredRecoveryCode:
    id: str
    digest: str


def _factor(row: sa.RowMapping) -> StoredFactor:
    return StoredFactor(
        id=row["id"],
        user_id=row["user_id"],
        kind=row["kind"],
        name=row["name"],
        state=row["state"],
        secret_enc=row["secret_enc"],
        last_step=row["last_step"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        credential_id=row["credential_id"],
        public_key=row["public_key"],
        sign_count=row["sign_count"],
        transports=tuple(str(t) for t in row["transports"] or ()),
    )


class FactorRepository(Repository):
    async def insert_pending(
        self, factor_id: str, user_id: str, kind: str, *, secret_enc: str | None, at: datetime
    ) -> None:
        """A new pending factor, in place of the user's other pending factors of `kind`."""
        await self.conn.execute(
            FACTORS.delete().where(
                FACTORS.c.user_id == user_id,
                FACTORS.c.kind == kind,
                FACTORS.c.state == PENDING,
            )
        )
        await self.conn.execute(
            FACTORS.insert().values(
                id=factor_id,
                user_id=user_id,
                kind=kind,
                name="",
                state=PENDING,
                secret_enc=secret_enc,
                created_at=at,
            )
        )

    async def insert_credential(
        self,
        factor_id: str,
        user_id: str,
        kind: str,
        *,
        name: str,
        credential_id: str,
        public_key: str,
        sign_count: int,
        transports: Sequence[str],
        at: datetime,
    ) -> bool:
        """A ready WebAuthn factor; False when the credential id is registered already."""
        values = {
            "id": factor_id,
            "user_id": user_id,
            "kind": kind,
            "name": name,
            "state": READY,
            "credential_id": credential_id,
            "public_key": public_key,
            "sign_count": sign_count,
            "transports": list(transports),
            "created_at": at,
        }
        try:
            # A savepoint keeps the transaction usable on PostgreSQL after the violation.
            async with self.conn.begin_nested():
                await self.conn.execute(FACTORS.insert(), values)
        except sa_exc.IntegrityError:
            return False
        return True

    async def find_by_credential_id(self, credential_id: str) -> StoredFactor | None:
        query = sa.select(FACTORS).where(FACTORS.c.credential_id == credential_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _factor(row)

    async def record_assertion(self, factor_id: str, *, sign_count: int, at: datetime) -> bool:
        """Record a verified WebAuthn assertion and its signature counter; False when the
        counter does not move past the stored one (a replay, a cloned authenticator, or a
        concurrent assertion that came first). Authenticators without a counter report 0
        every time, and 0 after 0 passes: the single-use challenge is their only guard."""
        counter = FACTORS.c.sign_count
        allowed = sa.or_(counter.is_(None), counter < sign_count)
        if sign_count == 0:
            allowed = sa.or_(allowed, counter == 0)
        result = await self.conn.execute(
            FACTORS.update()
            .where(FACTORS.c.id == factor_id, FACTORS.c.state == READY, allowed)
            .values(sign_count=sign_count, last_used_at=at)
        )
        return result.rowcount == 1

    async def find(self, factor_id: str) -> StoredFactor | None:
        query = sa.select(FACTORS).where(FACTORS.c.id == factor_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _factor(row)

    async def list_for_user(self, user_id: str, *, state: str | None = None) -> list[StoredFactor]:
        query = sa.select(FACTORS).where(FACTORS.c.user_id == user_id)
        if state is not None:
            query = query.where(FACTORS.c.state == state)
        rows = (await self.conn.execute(query.order_by(FACTORS.c.id))).mappings().all()
        return [_factor(row) for row in rows]

    async def make_ready(self, factor_id: str, *, name: str, step: int | None) -> bool:
        """Turn a pending factor ready; False when it was not pending any more."""
        result = await self.conn.execute(
            FACTORS.update()
            .where(FACTORS.c.id == factor_id, FACTORS.c.state == PENDING)
            .values(state=READY, name=name, last_step=step)
        )
        return result.rowcount == 1

    async def accept_step(self, factor_id: str, step: int, *, at: datetime) -> bool:
        """Record a TOTP time step as used; False when it, or a later one, was used before
        (a replay, or a concurrent request with the same code that came first)."""
        result = await self.conn.execute(
            FACTORS.update()
            .where(
                FACTORS.c.id == factor_id,
                FACTORS.c.state == READY,
                sa.or_(FACTORS.c.last_step.is_(None), FACTORS.c.last_step < step),
            )
            .values(last_step=step, last_used_at=at)
        )
        return result.rowcount == 1

    async def mark_used(self, factor_id: str, at: datetime) -> bool:
        """Note that a ready factor proved the user at `at`; False when it is not ready."""
        result = await self.conn.execute(
            FACTORS.update()
            .where(FACTORS.c.id == factor_id, FACTORS.c.state == READY)
            .values(last_used_at=at)
        )
        return result.rowcount == 1

    async def rename(self, factor_id: str, user_id: str, name: str) -> bool:
        """Rename one of the user's ready factors; False when there is no such factor."""
        result = await self.conn.execute(
            FACTORS.update()
            .where(
                FACTORS.c.id == factor_id,
                FACTORS.c.user_id == user_id,
                FACTORS.c.state == READY,
            )
            .values(name=name)
        )
        return result.rowcount == 1

    async def delete(self, factor_id: str, user_id: str) -> bool:
        result = await self.conn.execute(
            FACTORS.delete().where(FACTORS.c.id == factor_id, FACTORS.c.user_id == user_id)
        )
        return result.rowcount == 1

    async def purge_pending(self, older_than: datetime, *, limit: int | None = None) -> int:
        """Delete factors whose set-up began before `older_than` and was never confirmed
        (at most `limit` of them); how many went."""
        stale = sa.select(FACTORS.c.id).where(
            FACTORS.c.state == PENDING, FACTORS.c.created_at < older_than
        )
        if limit is not None:
            stale = stale.limit(limit)
        result = await self.conn.execute(FACTORS.delete().where(FACTORS.c.id.in_(stale)))
        return int(result.rowcount or 0)

    async def replace_recovery_codes(
        self, user_id: str, codes: list[tuple[str, str]], *, at: datetime
    ) -> None:
        """The user's recovery codes, `(id, digest)` each, in place of all earlier ones."""
        await self.conn.execute(RECOVERY.delete().where(RECOVERY.c.user_id == user_id))
        await self.conn.execute(
            RECOVERY.insert(),
            [
                {"id": code_id, "user_id": user_id, "digest": digest, "created_at": at}
                for code_id, digest in codes
            ],
        )

    async def unused_recovery_codes(self, user_id: str) -> list[StoredRecoveryCode]:
        query = sa.select(RECOVERY.c.id, RECOVERY.c.digest).where(
            RECOVERY.c.user_id == user_id, RECOVERY.c.used_at.is_(None)
        )
        rows = (await self.conn.execute(query)).mappings().all()
        return [StoredRecoveryCode(id=row["id"], digest=row["digest"]) for row in rows]

    async def spend_recovery_code(self, code_id: str, *, at: datetime) -> bool:
        """Mark a recovery code used; False when a concurrent request used it first."""
        result = await self.conn.execute(
            RECOVERY.update()
            .where(RECOVERY.c.id == code_id, RECOVERY.c.used_at.is_(None))
            .values(used_at=at)
        )
        return result.rowcount == 1

    async def count_unused_recovery_codes(self, user_id: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(RECOVERY)
            .where(RECOVERY.c.user_id == user_id, RECOVERY.c.used_at.is_(None))
        )
        return int((await self.conn.execute(query)).scalar_one())

    async def delete_recovery_codes(self, user_id: str) -> int:
        """Delete all of the user's recovery codes, used or not; how many were unused."""
        unused = await self.count_unused_recovery_codes(user_id)
        await self.conn.execute(RECOVERY.delete().where(RECOVERY.c.user_id == user_id))
        return unused
