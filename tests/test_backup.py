"""`zitui backup` and `zitui restore` on SQLite, and the copies taken before a migration."""

from __future__ import annotations

import io
import shutil
import signal
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import old_store
from tests.conftest import ADMIN_PASSWORD, MASTERKEY, make_settings
from tests.hosted_sign_in import browser, password_sign_in, signed_in_text
from tests.processes import free_port, reaped, run, spawn, wait_healthy, zitui_env
from zitui.core import backups
from zitui.core.clock import FixedClock
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.core.users import NewHumanUser
from zitui.errors import StoreUnavailable
from zitui.progress import ProgressBar
from zitui.store.backup import inspect_sqlite
from zitui.store.revisions import head_revision

PASSWORD = "Loaded-Pass-1!"
SIGNED_IN = "user.human.password.check.succeeded"


async def _instance_with_users(data: Path, names: list[str]) -> list[str]:
    """Users created through the core in `data` (a server may be running on it); their ids."""
    services, _ = await open_services(make_settings(data))
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        org_id = (await services.instance.get_instance(admin)).default_org_id
        made = [
            await services.users.create_human_user(
                admin,
                org_id,
                NewHumanUser(
                    username=name, first_name=name.title(), last_name="Load", password=PASSWORD
                ),
            )
            for name in names
        ]
    finally:
        await services.close()
    return [user.id for user in made]


def _select(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


class SignInLoad:
    """Password sign-ins through the hosted pages from a few threads until stopped."""

    def __init__(self, url: str, login_names: list[str]) -> None:
        self._url = url
        self._names = login_names
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.finished = 0
        self.failures: list[str] = []
        # Set once every thread's first sign-in went through: the load is under way.
        self.under_way = threading.Event()

    def run(self, name: str) -> None:
        with browser(self._url) as client:
            while not self._stop.is_set():
                response = password_sign_in(client, name, PASSWORD)
                with self._lock:
                    if response.status_code == 303:
                        self.finished += 1
                        if self.finished >= len(self._names):
                            self.under_way.set()
                    else:
                        self.failures.append(f"{name}: {response.status_code}")
                        self._stop.set()
                        self.under_way.set()  # no waiting for a load that failed
                client.cookies.clear()

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data = tmp_path / "served"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "served.log"
    with reaped(spawn(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(data), log=log)) as s:
        wait_healthy(url, s)
        yield url, data
        s.send_signal(signal.SIGTERM)
        s.communicate(timeout=30)
    assert s.returncode == 0


async def test_a_backup_taken_during_sign_ins_holds_every_user_and_restores_elsewhere(
    served: tuple[str, Path], tmp_path: Path
):
    url, data = served
    names = [f"load{i}" for i in range(4)]
    user_ids = await _instance_with_users(data, names)
    target = tmp_path / "backups" / "zitui-backup.db"
    target.parent.mkdir()

    load = SignInLoad(url, names)
    with ThreadPoolExecutor(len(names)) as pool:
        running = [pool.submit(load.run, name) for name in names]
        assert load.under_way.wait(timeout=60)
        assert load.failures == []
        before = load.finished
        done = run(["backup", str(target)], zitui_env(data))
        during = load.finished - before
        load.stop()
        for future in running:
            future.result()

    assert done.returncode == 0, done.stderr
    assert load.failures == []
    assert during > 0  # sign-ins went on while the backup ran
    assert f"zitui: backup written to {target}" in done.stdout
    assert "checked: integrity ok, schema and rows as in the store" in done.stdout
    assert "keep the master key" in done.stdout
    assert "zitui: backing up: 100%" in done.stderr  # plain progress lines off a terminal
    assert target.stat().st_mode & 0o777 == 0o600
    assert list(target.parent.iterdir()) == [target]  # no partial file left behind

    contents = inspect_sqlite(target)
    assert contents.revision == head_revision()
    backed_up = {row[0] for row in _select(target, "SELECT id FROM users")}
    assert set(user_ids) <= backed_up
    signed_in = _select(target, f"SELECT count(*) FROM events WHERE event_type = '{SIGNED_IN}'")
    assert signed_in[0][0] >= before

    restored = tmp_path / "restored"
    answer = run(["restore", str(target), "--data", str(restored)], zitui_env(restored))
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith(f"zitui: restored {target} (schema {head_revision()})")
    assert "the master key in place opens it" in answer.stdout
    assert sorted(p.name for p in restored.iterdir()) == ["zitui.db"]
    assert (restored / "zitui.db").stat().st_mode & 0o777 == 0o600

    port = free_port()
    second = f"http://127.0.0.1:{port}"
    with reaped(spawn(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(restored))) as s:
        wait_healthy(second, s)
        with browser(second) as client:
            text = signed_in_text(client, password_sign_in(client, "load0", PASSWORD))
        s.send_signal(signal.SIGTERM)
        s.communicate(timeout=30)
    assert "You are signed in" in text and "load0@" in text


@pytest.fixture
async def backup_file(tmp_path: Path) -> Path:
    settings = make_settings(tmp_path / "source")
    services, _ = await open_services(settings)
    await services.close()
    target = tmp_path / "instance.db"
    await backups.take_backup(settings, target)
    return target


def _restore(backup: Path, data: Path, **env: str) -> tuple[int, str]:
    done = run(["restore", str(backup), "--data", str(data)], zitui_env(data, **env))
    assert done.stdout == "" or done.returncode == 0
    return done.returncode, done.stderr.strip()


def test_restore_refuses_a_directory_in_use(backup_file: Path, tmp_path: Path):
    data = tmp_path / "busy"
    data.mkdir()
    (data / "notes.txt").write_text("mine")
    code, message = _restore(backup_file, data)
    assert code == 1
    assert message == (
        f"zitui: {data} is not empty (notes.txt); restore into a new or empty data directory "
        "(only the masterkey file and the SSH host key may be there)"
    )
    assert [p.name for p in data.iterdir()] == ["notes.txt"]


def test_restore_refuses_a_key_that_does_not_open_the_backup(backup_file: Path, tmp_path: Path):
    data = tmp_path / "wrong-key"
    code, message = _restore(backup_file, data, ZITUI_MASTERKEY="another-key-" + "x" * 30)
    assert code == 1
    assert message == (
        f"zitui: the master key in place (ZITUI_MASTERKEY) does not open {backup_file}: use "
        "the key of the instance the backup was taken from; nothing was restored"
    )
    assert not data.exists()


def test_restore_without_any_key_says_where_to_put_it(backup_file: Path, tmp_path: Path):
    data = tmp_path / "no-key"
    code, message = _restore(backup_file, data, ZITUI_MASTERKEY="")
    assert code == 1
    assert message.startswith(f"zitui: no master key to open {backup_file}: set ZITUI_MASTERKEY")
    assert str(data / "masterkey") in message
    assert not data.exists()


def test_restore_opens_the_backup_with_the_key_file_put_in_place(backup_file: Path, tmp_path: Path):
    data = tmp_path / "with-key-file"
    data.mkdir(mode=0o700)
    key_file = data / "masterkey"
    key_file.write_text(MASTERKEY + "\n")
    key_file.chmod(0o600)
    (data / "ssh_host_ed25519_key").write_text("host key")
    code, message = _restore(backup_file, data, ZITUI_MASTERKEY="")
    assert (code, message) == (0, "")
    assert sorted(p.name for p in data.iterdir()) == [
        "masterkey",
        "ssh_host_ed25519_key",
        "zitui.db",
    ]


@pytest.mark.parametrize("damage", ["pages", "text", "newer"])
def test_restore_refuses_a_damaged_or_unknown_file(backup_file: Path, tmp_path: Path, damage):
    broken = tmp_path / "broken.db"
    shutil.copyfile(backup_file, broken)
    if damage == "pages":
        raw = bytearray(broken.read_bytes())
        page = 4096
        raw[page * 3 : page * 6] = b"\xa5" * (page * 3)
        broken.write_bytes(bytes(raw))
    elif damage == "text":
        broken.write_text("not a database\n")
    else:
        with sqlite3.connect(broken) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    data = tmp_path / "target"
    code, message = _restore(broken, data)
    assert code == 1
    expected = {
        "pages": (f"zitui: {broken} failed its integrity check", f"zitui: {broken} is damaged"),
        "text": (f"zitui: {broken} is not an SQLite database",),
        "newer": (f"zitui: {broken} was made by a newer zitui (schema 9999_future",),
    }[damage]
    assert message.startswith(expected), message
    assert not data.exists()


async def test_backup_refuses_to_replace_a_file_and_needs_an_instance(
    backup_file: Path, tmp_path: Path
):
    source = tmp_path / "source"
    before = backup_file.read_bytes()
    done = run(["backup", str(backup_file)], zitui_env(source))
    assert done.returncode == 1
    assert done.stderr == f"zitui: {backup_file} already exists; choose another name\n"
    assert backup_file.read_bytes() == before

    nowhere = tmp_path / "nowhere"
    done = run(["backup", str(tmp_path / "new.db")], zitui_env(nowhere))
    assert done.returncode == 1
    assert done.stderr == f"zitui: {nowhere} holds no zitui instance to back up\n"
    assert not nowhere.exists() and not (tmp_path / "new.db").exists()


def test_an_interrupted_copy_leaves_no_file(backup_file: Path, tmp_path: Path):
    stop = threading.Event()
    target = tmp_path / "interrupted.db"
    with pytest.raises(backups._Stopped):
        backups._checked_copy(backup_file, target, lambda *_: stop.set(), 5000, stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance.db", "source"]


# --- the copy before a migration ---------------------------------------------------------


def _pre_migration_names(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "backups").glob("pre-*.db"))


async def test_a_pending_migration_is_preceded_by_a_backup_and_old_ones_rotate(tmp_path: Path):
    data = tmp_path / "data"
    old_store.create_old_store(data)
    folder = data / "backups"
    folder.mkdir(mode=0o700)
    older = [f"pre-0001-2026010{day}T000000Z.db" for day in range(1, 6)]
    for name in older:
        (folder / name).write_bytes(b"old copy")
    (folder / "by-hand.db").write_bytes(b"an operator's own copy")
    clock = FixedClock(datetime(2026, 12, 6, 9, 30, 15, tzinfo=UTC))

    services, _ = await open_services(make_settings(data, backups_keep=3), clock=clock)
    await services.close()

    newest = f"pre-{head_revision()}-20261206T093015Z.db"
    assert _pre_migration_names(data) == sorted([older[3], older[4], newest])
    assert (folder / "by-hand.db").exists()
    assert inspect_sqlite(folder / newest).revision == old_store.OLD_REVISION


async def test_no_backup_without_a_pending_migration_or_when_turned_off(tmp_path: Path):
    fresh = tmp_path / "fresh"
    services, _ = await open_services(make_settings(fresh))
    await services.close()
    services, _ = await open_services(make_settings(fresh))
    await services.close()
    assert not (fresh / "backups").exists()

    data = tmp_path / "old"
    old_store.create_old_store(data)
    services, _ = await open_services(make_settings(data, backups_keep=0))
    await services.close()
    assert not (data / "backups").exists()
    assert _select(data / "zitui.db", "SELECT version_num FROM alembic_version") == [
        (head_revision(),)
    ]


async def test_a_failed_backup_stops_the_start_before_any_migration(tmp_path: Path):
    data = tmp_path / "data"
    old_store.create_old_store(data)
    (data / "backups").write_text("a file where the folder belongs")
    with pytest.raises(StoreUnavailable) as raised:
        await open_services(make_settings(data))
    assert raised.value.code == "backup.before_migration"
    assert "nothing was migrated" in raised.value.message
    assert _select(data / "zitui.db", "SELECT version_num FROM alembic_version") == [
        (old_store.OLD_REVISION,)
    ]


# --- the progress bar ----------------------------------------------------------------------


def test_progress_is_plain_lines_off_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(stream, "copying", unit="pages")
    for done in range(0, 101, 5):
        bar(done, 100)
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "copying: 0% (0/100 pages)"
    assert lines[-1] == "copying: 100% (100/100 pages)"
    assert len(lines) == 11


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_one_line_on_a_terminal():
    stream = Terminal()
    bar = ProgressBar(stream, "copying")
    bar(1, 4)
    bar(1, 4)
    bar(4, 4)
    bar.finish()
    drawn = stream.getvalue()
    assert drawn.count("\r") == 2 and drawn.endswith("100%\n")
    assert "\rcopying [#######-----------------------]  25%" in drawn
