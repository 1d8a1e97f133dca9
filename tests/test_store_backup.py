"""The SQLite copy itself: one snapshot however much is written meanwhile."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zitui.errors import InvalidArgument
from zitui.store.backup import copy_sqlite, inspect_sqlite

ROWS = 200


def _store(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
    conn.execute("INSERT INTO alembic_version VALUES ('0042_test')")
    conn.execute("CREATE TABLE instances (id TEXT, key_check TEXT)")
    conn.execute("INSERT INTO instances VALUES ('i', 'v1.check')")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, payload BLOB)")
    conn.executemany("INSERT INTO events (payload) VALUES (randomblob(1500))", [()] * ROWS)
    return conn


def test_writes_during_the_copy_neither_restart_it_nor_enter_it(tmp_path: Path):
    source = tmp_path / "zitui.db"
    writer = _store(source)
    steps: list[tuple[int, int]] = []

    def write_between_steps(done: int, total: int) -> None:
        steps.append((done, total))
        assert len(steps) < 1000, "the copy keeps starting over"
        writer.execute("INSERT INTO events (payload) VALUES (randomblob(1500))")

    target = tmp_path / "copy.db"
    taken = copy_sqlite(source, target, progress=write_between_steps, pages_per_step=4)

    done = [step[0] for step in steps]
    assert len(steps) > 10
    assert done == sorted(done) and len(set(done)) == len(done)  # never started over
    assert steps[-1][0] == steps[-1][1]
    assert taken.counts == {"instances": 1, "events": ROWS}
    assert taken.revision == "0042_test" and taken.key_check == "v1.check"
    assert inspect_sqlite(target) == taken
    assert writer.execute("SELECT count(*) FROM events").fetchone() == (ROWS + len(steps),)
    assert target.stat().st_mode & 0o777 == 0o600
    # A file of its own: no write-ahead log beside it once closed.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]
    writer.close()


def test_a_copy_never_replaces_a_file(tmp_path: Path):
    source = tmp_path / "zitui.db"
    _store(source).close()
    target = tmp_path / "there.db"
    target.write_text("precious")
    with pytest.raises(InvalidArgument) as refused:
        copy_sqlite(source, target)
    assert refused.value.code == "backup.exists"
    assert target.read_text() == "precious"
