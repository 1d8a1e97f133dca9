"""Reading the SQLite file directly, independent of zitui's own code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

TABLES = (
    "instances",
    "orgs",
    "org_domains",
    "users",
    "memberships",
    "policies",
    "signing_keys",
    "events",
)


def counts(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "zitui.db") as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def rows(data_dir: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "zitui.db") as conn:
        return conn.execute(sql, params).fetchall()
