"""Prepared statements give exactly what SQLAlchemy's own execution gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlmodel import SQLModel

from zitui.store.models import AccessTokenRow, UserRow
from zitui.store.prepared import Done, Prepared
from zitui.store.repos.base import table

USERS = table(UserRow)
ACCESS = table(AccessTokenRow)


def _engine(tmp_path):
    # A plain pysqlite engine without foreign keys: rows here need no parents.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    SQLModel.metadata.create_all(engine)
    return engine


def _token(token_id: str, **changes):
    created = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)
    values = {
        "id": token_id,
        "token_digest": f"digest-{token_id}",
        "user_id": "u1",
        "client_id": "c1",
        "app_id": None,
        "session_id": None,
        "refresh_token_id": None,
        "auth_request_id": None,
        "scopes": ["openid", "profile"],
        "audience": ["c1"],
        "auth_time": None,
        "amr": [],
        "created_at": created,
        "expires_at": created.replace(hour=13),
        "revoked_at": None,
    }
    return values | changes


def test_rows_types_and_rowcounts_match_sqlalchemy(tmp_path):
    engine = _engine(tmp_path)
    by_digest = sa.select(ACCESS).where(ACCESS.c.token_digest == sa.bindparam("digest"))
    revoke = (
        ACCESS.update()
        .where(ACCESS.c.id == sa.bindparam("b_id"), ACCESS.c.revoked_at.is_(None))
        .values(revoked_at=sa.bindparam("at", type_=ACCESS.c.revoked_at.type))
    )
    with engine.begin() as conn:
        inserted = Prepared(ACCESS.insert()).run(conn, _token("t1"))
        assert inserted == Done(1)
        conn.execute(ACCESS.insert(), _token("t2"))

        for token_id in ("t1", "t2"):
            params = {"digest": f"digest-{token_id}"}
            fast = Prepared(by_digest).run(conn, params)
            slow = conn.execute(by_digest, params)
            fast_row, slow_row = fast.mappings().one(), slow.mappings().one()
            assert dict(fast_row) == dict(slow_row)
            assert fast_row["created_at"].tzinfo is UTC  # the UTC type's processor ran
            assert fast_row["scopes"] == ["openid", "profile"]  # and JSON's

        at = datetime(2026, 11, 27, tzinfo=UTC)
        assert Prepared(revoke).run(conn, {"b_id": "t1", "at": at}) == Done(1)
        assert Prepared(revoke).run(conn, {"b_id": "t1", "at": at}) == Done(0)
        revoked = conn.execute(sa.select(ACCESS.c.revoked_at).where(ACCESS.c.id == "t1"))
        assert revoked.scalar_one() == at


def test_constraint_errors_surface_as_sqlalchemy_errors(tmp_path):
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        Prepared(ACCESS.insert()).run(conn, _token("t1"))
        with pytest.raises(sa_exc.IntegrityError):
            Prepared(ACCESS.insert()).run(conn, _token("t1"))


def test_statements_it_cannot_plan_are_left_to_sqlalchemy(tmp_path):
    engine = _engine(tmp_path)
    expanding = sa.select(ACCESS.c.id).where(ACCESS.c.id.in_(sa.bindparam("ids", expanding=True)))
    with engine.begin() as conn:
        assert Prepared(expanding).run(conn, {"ids": ["a", "b"]}) is None


def test_inserts_fill_the_columns_python_defaults(tmp_path):
    engine = _engine(tmp_path)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    given = {
        "id": "u1",
        "org_id": "o1",
        "kind": "human",
        "username": "ada",
        "state": "active",
        "created_at": now,
        "updated_at": now,
    }
    with engine.begin() as conn:
        Prepared(USERS.insert()).run(conn, given)
        row = conn.execute(sa.select(USERS).where(USERS.c.id == "u1")).mappings().one()
    assert row["access_token_type"] == "bearer"
    assert row["failed_password_attempts"] == 0
    assert row["email_verified"] is False
