"""The store: migrations match the tables, and files that are not ours are refused untouched."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from tests.conftest import make_settings
from zitui.core.policies import LockoutPolicy, LoginPolicy, PasswordComplexityPolicy
from zitui.core.services import open_services
from zitui.errors import StoreUnavailable


async def test_migrations_produce_exactly_the_model_tables(services):
    def diff(sync_conn):
        with warnings.catch_warnings():
            # SQLite cannot reflect expression indexes (lower(username)); PostgreSQL's
            # run of this comparison (test_store_postgres.py) covers them.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
            return compare_metadata(MigrationContext.configure(sync_conn), SQLModel.metadata)

    assert await services.store.run_sync(diff) == []


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(services):
    def pragmas(conn):
        return [conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in PRAGMAS]

    PRAGMAS = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
    assert await services.store.run_sync(pragmas) == ["wal", 1, 5000, 1]


async def test_default_policies_are_zitadel_defaults(services, admin):
    from zitui.core.policies import from_settings

    async with services.store.reader() as tx:
        login = from_settings(LoginPolicy, await tx.policies.find("login"))
        complexity = from_settings(
            PasswordComplexityPolicy, await tx.policies.find("password_complexity")
        )
        lockout = from_settings(LockoutPolicy, await tx.policies.find("lockout"))
        kinds = await tx.policies.kinds()
    assert kinds == {
        "login",
        "password_complexity",
        "password_age",
        "lockout",
        "privacy",
        "domain",
        "notification",
    }
    assert login.allow_register and not login.force_mfa
    assert login.password_check_lifetime_s == 240 * 3600
    assert login.second_factor_check_lifetime_s == 18 * 3600
    assert complexity == PasswordComplexityPolicy(8, True, True, True, True)
    assert lockout.max_password_attempts == 0 and lockout.show_lockout_failures


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"this is a text file, not a database\n" * 10, "store.not_sqlite"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "store.corrupt"),
    ],
)
async def test_garbage_database_file_is_refused_untouched(tmp_path: Path, clock, content, code):
    db = tmp_path / "zitui.db"
    db.write_bytes(content)
    with pytest.raises(StoreUnavailable) as caught:
        await open_services(make_settings(tmp_path), clock=clock)
    assert caught.value.code == code
    assert db.read_bytes() == content


async def test_foreign_sqlite_database_is_refused_untouched(tmp_path: Path, clock):
    db = tmp_path / "zitui.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    before = _sha(db)
    with pytest.raises(StoreUnavailable) as caught:
        await open_services(make_settings(tmp_path), clock=clock)
    assert caught.value.code == "store.foreign"
    assert _sha(db) == before
    assert not (tmp_path / "masterkey").exists()


async def test_locked_store_is_reported_as_locked(tmp_path: Path, clock):
    services, _ = await open_services(make_settings(tmp_path), clock=clock)
    await services.close()
    holder = sqlite3.connect(tmp_path / "zitui.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await open_services(make_settings(tmp_path, busy_timeout_ms=200), clock=clock)
        assert caught.value.code == "store.locked"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_data_directory_that_cannot_be_created_is_refused(tmp_path: Path, clock):
    blocker = tmp_path / "occupied"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(StoreUnavailable) as caught:
        await open_services(make_settings(blocker / "data"), clock=clock)
    assert caught.value.code == "store.unwritable"


async def test_migrations_run_down_and_up_again_on_a_populated_store(services, admin):
    from alembic import command

    from zitui.store.migrations import alembic_config

    org = await services.orgs.create_org(admin, "Acme")

    def down_and_up(sync_conn):
        config = alembic_config(sync_conn)
        command.downgrade(config, "0001")
        command.upgrade(config, "head")

    await services.store.run_sync(down_and_up, write=True)
    assert (await services.orgs.get_org(admin, org.id)).name == "Acme"
    users = await services.users.list_users(admin)
    assert [u.username for u in users.items] == ["admin"]


async def test_atomic_block_commits_all_commands_or_none(services, admin):
    from zitui.errors import AlreadyExists

    with pytest.raises(AlreadyExists):
        async with services.store.atomic():
            await services.orgs.create_org(admin, "Alpha")
            assert [o.name for o in (await services.orgs.list_orgs(admin, search="Alpha")).items]
            await services.orgs.create_org(admin, "Alpha")
    assert (await services.orgs.list_orgs(admin, search="Alpha")).total == 0

    async with services.store.atomic():
        await services.orgs.create_org(admin, "Alpha")
        await services.orgs.create_org(admin, "Beta")
    names = {o.name for o in (await services.orgs.list_orgs(admin)).items}
    assert {"Alpha", "Beta"} <= names


async def test_a_write_transaction_inside_another_in_one_task_is_refused(services):
    async with services.store.transaction():
        with pytest.raises(RuntimeError, match="atomic"):
            async with services.store.transaction():
                pass


async def _other_process_holds_the_write_lock(path: Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_writer_waits_for_another_process_without_blocking_the_loop(tmp_path: Path):
    import asyncio

    from zitui.store import migrate, open_store

    path = tmp_path / "zitui.db"
    store = await open_store(f"sqlite:///{path}", busy_timeout_ms=5000)
    await migrate(store)
    other = await _other_process_holds_the_write_lock(path)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def write() -> None:
        async with store.transaction() as tx:
            await tx.instances.find()

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    try:
        await asyncio.sleep(0.3)
        assert not writing.done()  # still waiting for the lock
        assert ticks >= 20  # while the loop went on serving others
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 5)
    finally:
        ticking.cancel()
        other.close()
        await store.close()


async def test_a_writer_gives_up_as_locked_after_the_busy_timeout(tmp_path: Path):
    import time

    from zitui.store import open_store

    path = tmp_path / "zitui.db"
    store = await open_store(f"sqlite:///{path}", busy_timeout_ms=300)
    other = await _other_process_holds_the_write_lock(path)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable) as refused:
            async with store.transaction():
                pass
        assert refused.value.code == "store.locked"
        assert 0.25 < time.monotonic() - started < 3
    finally:
        other.close()
        await store.close()


async def test_two_zitui_processes_take_turns_at_writing_without_blocking_loops(tmp_path: Path):
    """Two stores on one file stand for two processes (each has its own lock file handle)."""
    import asyncio

    from zitui.store import migrate, open_store

    url = f"sqlite:///{tmp_path / 'zitui.db'}"
    first = await open_store(url, busy_timeout_ms=5000)
    await migrate(first)
    second = await open_store(url, busy_timeout_ms=5000)
    holding, release = asyncio.Event(), asyncio.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def hold() -> None:
        async with first.transaction() as tx:
            await tx.instances.find()
            holding.set()
            await release.wait()

    async def write() -> None:
        async with second.transaction() as tx:
            await tx.instances.find()

    holder = asyncio.create_task(hold())
    ticking = asyncio.create_task(ticker())
    await holding.wait()
    writer = asyncio.create_task(write())
    try:
        await asyncio.sleep(0.3)
        assert not writer.done()  # waits for the other process's transaction
        assert ticks >= 20  # and the loop keeps running meanwhile
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, writer), 5)
    finally:
        ticking.cancel()
        await first.close()
        await second.close()


async def test_a_write_waiting_for_another_process_gives_up_and_leaves_the_lock_usable(
    tmp_path: Path,
):
    import asyncio

    from zitui.store import migrate, open_store

    url = f"sqlite:///{tmp_path / 'zitui.db'}"
    first = await open_store(url, busy_timeout_ms=5000)
    await migrate(first)
    second = await open_store(url, busy_timeout_ms=200)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with first.transaction():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    try:
        with pytest.raises(StoreUnavailable) as refused:
            async with second.transaction():
                pass
        assert refused.value.code == "store.locked"
        release.set()
        await holder
        # The abandoned wait gets the lock when the holder ends, and lets it go at once.
        async with second.transaction() as tx:
            assert await tx.instances.find() is None
    finally:
        release.set()
        await first.close()
        await second.close()


async def test_a_cancelled_writer_always_ends_cancelled_and_writes_nothing(services):
    """Ctrl-C cancels the main task: whichever turn of the loop it lands on while a writer
    takes its locks, the writer must end cancelled, never go on as if nothing happened."""
    import asyncio

    from zitui.core.ids import new_id

    store = services.store

    async def written(name: str) -> bool:
        async with store.reader() as tx:
            return await tx.policies.find("test", name) is not None

    async def write(name: str) -> None:
        async with store.transaction() as tx:
            await tx.policies.insert(new_id(), "test", {}, org_id=name, at=services.clock.now())

    async def hold(release: asyncio.Event) -> None:
        async with store.transaction():
            await release.wait()

    for contended in (False, True):
        for turns in range(12):
            release = asyncio.Event()
            holder = asyncio.create_task(hold(release)) if contended else None
            name = f"{contended}-{turns}"
            writer = asyncio.create_task(write(name))
            for turn in range(turns):
                if turn == 1:
                    release.set()  # the writer queued behind the holder gets its turn
                await asyncio.sleep(0)
            if writer.cancel():
                with pytest.raises(asyncio.CancelledError):
                    await writer
                assert not await written(name)
            else:
                await writer
            release.set()
            if holder is not None:
                await holder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common umask 022, under which files are created readable by everyone."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_a_new_data_directory_and_its_database_are_private(
    tmp_path: Path, clock, loose_umask
):
    data = tmp_path / "data"
    services, _ = await open_services(make_settings(data), clock=clock)
    try:
        assert (_mode(data), _mode(data / "logs")) == (0o700, 0o700)
        names = ("zitui.db", "zitui.db-wal", "zitui.db-shm", "zitui.db.lock")
        assert {name: _mode(data / name) for name in names} == dict.fromkeys(names, 0o600)
    finally:
        await services.close()


async def test_a_database_left_readable_by_others_is_made_private(
    tmp_path: Path, clock, loose_umask
):
    services, _ = await open_services(make_settings(tmp_path), clock=clock)
    await services.close()
    db = tmp_path / "zitui.db"
    db.chmod(0o644)
    before = _sha(db)
    services, _ = await open_services(make_settings(tmp_path), clock=clock)
    try:
        assert (_mode(db), _mode(tmp_path / "zitui.db-wal")) == (0o600, 0o600)
    finally:
        await services.close()
    assert _sha(db) == before
