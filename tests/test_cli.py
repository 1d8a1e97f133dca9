"""The `zitui` command as a process: flags, exit codes, serving, signals and bad input."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import stat
import time
from pathlib import Path

import httpx2
import pytest

from tests.dbfile import counts
from tests.processes import children, free_port, reaped, run, spawn, wait_healthy, zitui_env
from zitui import __version__


def test_version_and_usage(tmp_path: Path):
    env = zitui_env(tmp_path / "data")
    version = run(["--version"], env)
    assert (version.returncode, version.stdout.strip()) == (0, f"zitui {__version__}")
    bad = run(["serve", "--no-such-flag"], env)
    assert bad.returncode == 2
    assert "usage: zitui" in bad.stderr
    missing = run([], env)
    assert missing.returncode == 2
    bad_listen = run(["serve", "--listen", "nowhere"], env)
    assert bad_listen.returncode == 2
    assert "HOST:PORT" in bad_listen.stderr


def test_serve_answers_healthz_and_exits_0_on_sigterm(tmp_path: Path):
    data = tmp_path / "data"
    port = free_port()
    env = zitui_env(data, ZITUI_ADMIN_PASSWORD="")
    with reaped(spawn(["serve", "--listen", f"127.0.0.1:{port}"], env)) as process:
        response = wait_healthy(f"http://127.0.0.1:{port}", process)
        assert response.json() == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "first run: administrator admin@zitui.127.0.0.1, password " in out
    assert "Traceback" not in err
    assert (data / "logs" / "zitui.log").exists()
    assert counts(data)["instances"] == 1
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (data, data / "logs")}
    assert modes == {"data": 0o700, "logs": 0o700}
    assert stat.S_IMODE((data / "zitui.db").stat().st_mode) == 0o600


def test_serve_twice_on_one_port_fails_with_one_line(tmp_path: Path):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = run(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(tmp_path / "d"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"zitui: cannot listen on 127.0.0.1:{port}: the port is in use"
    ]
    assert not (tmp_path / "d" / "zitui.db").exists()


def test_unusable_data_directory_fails_with_one_line(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run(["serve", "--listen", f"127.0.0.1:{free_port()}"], zitui_env(blocker / "data"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not usable" in lines[0]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wrong_master_key_refuses_to_start_and_changes_nothing(tmp_path: Path):
    data = tmp_path / "data"
    port = free_port()
    with reaped(spawn(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(data))) as first:
        wait_healthy(f"http://127.0.0.1:{port}", first)
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    before = _sha(data / "zitui.db")

    env = zitui_env(data, ZITUI_MASTERKEY="another-master-key-0123456789abcdef")
    result = run(["serve", "--listen", f"127.0.0.1:{free_port()}"], env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "zitui: the master key does not open this store's secrets"
    ]
    assert _sha(data / "zitui.db") == before
    tui = run(["tui"], env)
    assert tui.returncode == 1
    assert "master key" in tui.stderr


def test_a_master_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    key_file = data / "masterkey"
    key_file.write_text("k" * 40 + "\n")
    key_file.chmod(0o644)
    result = run(
        ["serve", "--listen", f"127.0.0.1:{free_port()}"], zitui_env(data, ZITUI_MASTERKEY="")
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"zitui: the master key file {key_file} can be read or changed by other users; "
        f"run: chmod 600 {key_file}"
    ]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o644
    assert not (data / "zitui.db").exists()


def test_corrupt_database_is_refused_and_kept(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    garbage = b"SQLite format 3\x00" + bytes(range(256)) * 20
    (data / "zitui.db").write_bytes(garbage)
    result = run(["serve", "--listen", f"127.0.0.1:{free_port()}"], zitui_env(data))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "zitui.db" in result.stderr
    assert (data / "zitui.db").read_bytes() == garbage


def test_ctrl_c_during_first_run_keeps_nothing_and_the_next_start_completes(tmp_path: Path):
    data = tmp_path / "data"
    port = free_port()
    # A deliberately slow password hash keeps the first run busy long enough to interrupt it.
    slow = zitui_env(data, ZITUI_ARGON2_MEMORY_KIB="65536", ZITUI_ARGON2_TIME_COST="40")
    # Started as a script's background job is (SIGINT ignored), or as this test runs when
    # its runner was started so: an explicit SIGINT still interrupts the set-up.
    serve = spawn(["serve", "--listen", f"127.0.0.1:{port}"], slow, sigint_ignored=True)
    with reaped(serve) as process:
        deadline = time.monotonic() + 20
        while not (data / "zitui.db").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert counts(data)["instances"] == 0

    with reaped(spawn(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(data))) as second:
        wait_healthy(f"http://127.0.0.1:{port}", second)
        assert counts(data)["events"] == 1
        assert counts(data)["users"] == 1
        assert httpx2.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    assert second.returncode == 0


def test_access_log_setting_is_a_switch(tmp_path: Path):
    from zitui.config import load_settings
    from zitui.errors import InvalidArgument

    assert load_settings(environ={}).access_log is False
    assert load_settings(environ={"ZITUI_ACCESS_LOG": "on"}).access_log is True
    assert load_settings(environ={"ZITUI_ACCESS_LOG": "False"}).access_log is False
    with pytest.raises(InvalidArgument) as refused:
        load_settings(environ={"ZITUI_ACCESS_LOG": "maybe"})
    assert (refused.value.code, refused.value.field) == ("config.type", "access_log")


def test_a_negative_worker_count_is_refused_with_exit_2(tmp_path: Path):
    done = run(["serve", "--workers", "-1"], zitui_env(tmp_path / "data"))
    assert done.returncode == 2
    assert "workers must be 0" in done.stderr


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status  # reaped by nobody yet, but no longer running


def test_serve_with_workers_shares_the_port_and_stops_them_all(tmp_path: Path):
    data = tmp_path / "data"
    port = free_port()
    env = zitui_env(data, ZITUI_ADMIN_PASSWORD="")
    serve = spawn(["serve", "--listen", f"127.0.0.1:{port}", "--workers", "2"], env)
    with reaped(serve) as process:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        workers = children(process.pid)
        assert len(workers) == 2
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(20):  # new connections land on either worker
                client.headers["connection"] = "close"
                assert client.get("/.well-known/openid-configuration").status_code == 200
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    # The first run happened once, in the parent, before the workers started.
    assert out.count("first run: administrator") == 1
    assert counts(data)["instances"] == 1
    assert "Traceback" not in err
    assert all(_gone(pid) for pid in workers)


def test_a_worker_that_dies_stops_the_set_with_exit_1(tmp_path: Path):
    port = free_port()
    env = zitui_env(tmp_path / "data")
    serve = spawn(["serve", "--listen", f"127.0.0.1:{port}", "--workers", "2"], env)
    with reaped(serve) as process:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        first, second = children(process.pid)
        os.kill(first, signal.SIGKILL)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"worker {first} ended unexpectedly" in err
    assert _gone(second)
