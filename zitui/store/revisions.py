"""Migration revisions: the newest this zitui knows, and where a database stands."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from zitui.store.migrations import alembic_config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The revision the migrations of this zitui end at."""
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError("zitui has no migrations")
    return head


def is_known(revision: str) -> bool:
    """Whether `revision` is one of this zitui's migrations (not one of a newer version)."""
    return any(script.revision == revision for script in _scripts().walk_revisions())


def current_revision(conn: sa.Connection) -> str | None:
    """The revision a database is at; None for a database zitui has not set up."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    found = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    return str(found) if found is not None else None
