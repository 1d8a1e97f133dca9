"""Alembic environment: runs on the connection the store hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from zitui.store import models  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("zitui migrations run only through zitui.store.migrations")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
