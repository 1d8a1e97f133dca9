"""The binary as an operator gets it: one file that unpacks itself once into a cache, serves,
signs a user in through an application, and runs the console in a terminal.

`make test` builds dist/zitui first; run on its own, this module builds it when missing. Its
size and the time from exec to a healthy /healthz are printed, not asserted (`make bench`
measures them); the bounds here only catch a start that hangs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.binary_fixtures import (
    START_BOUND_S,
    apply_shop,
    binary_env,
    built_binary,
    run_binary,
    served,
    sign_in_alice,
)
from tests.conftest import ADMIN_PASSWORD
from tests.dbfile import counts
from tests.processes import children, free_port
from tests.terminal import Terminal
from zitui import __version__


@pytest.fixture(scope="module")
def binary() -> Path:
    return built_binary()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's cache directory: the binary unpacks into it once for all its tests."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"zitui-binary-{tmp_path.name}")
    yield term
    term.close()


def builds(cache: Path) -> list[Path]:
    return sorted((cache / "zitui").iterdir())


def test_binary_reports_its_version(binary: Path, cache: Path, tmp_path: Path) -> None:
    result = run_binary(binary, ["--version"], binary_env(tmp_path, cache))
    assert (result.returncode, result.stdout.strip()) == (0, f"zitui {__version__}")


def test_binary_unpacks_once_and_reports_its_start_up(
    binary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache, data = tmp_path / "cache", tmp_path / "data"
    with served(binary, binary_env(data, cache)) as first:
        pass
    (build,) = builds(cache)
    assert build.name.startswith(f"{__version__}-")
    unpacked = build.stat()
    with served(binary, binary_env(data, cache)) as again:
        pass
    assert builds(cache) == [build]
    assert (build.stat().st_ino, build.stat().st_mtime_ns) == (
        unpacked.st_ino,
        unpacked.st_mtime_ns,
    )
    with capsys.disabled():
        print(
            f"\ndist/zitui: {binary.stat().st_size / 1e6:.1f} MB; exec to a healthy /healthz "
            f"{first.started_in_s:.2f} s on its first start (unpacking and the instance's "
            f"set-up included), {again.started_in_s:.2f} s on a restart"
        )


def test_binary_serves_healthz_from_a_fresh_directory(
    binary: Path, cache: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with served(binary, binary_env(data, cache)) as server:
        base = server.url
        page = httpx2.get(f"{base}/")
        assert page.status_code == 200 and "<html" in page.text
        # Templates in subfolders, translations and static files travel in the bundle.
        login = httpx2.get(f"{base}/ui/login/login", headers={"Accept-Language": "de"})
        assert login.status_code == 200 and 'autocomplete="username webauthn"' in login.text
        assert httpx2.get(f"{base}/static/zitui.css").status_code == 200
        assert httpx2.get(f"{base}/static/webauthn.js").status_code == 200
        discovery = httpx2.get(f"{base}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == base
        assert httpx2.get(discovery["jwks_uri"]).json()["keys"]
    assert counts(data)["instances"] == 1


def test_binary_serves_with_worker_processes(binary: Path, cache: Path, tmp_path: Path) -> None:
    env = binary_env(tmp_path / "data", cache)
    with served(binary, env, "--workers", "2") as server:
        workers = children(server.process.pid)
        keys = {
            httpx2.get(f"{server.url}/oauth/v2/keys").json()["keys"][0]["kid"] for _ in range(8)
        }
    assert len(workers) == 2
    # Every worker publishes the same signing key: they share the store, not memory.
    assert len(keys) == 1


def test_binary_carries_the_common_password_list(binary: Path, cache: Path, tmp_path: Path) -> None:
    # The first run checks the administrator's password, the list lookup last of all.
    env = binary_env(tmp_path / "data", cache, ZITUI_ADMIN_PASSWORD="Password1!")
    result = run_binary(binary, ["serve", "--listen", f"127.0.0.1:{free_port()}"], env)
    assert result.returncode == 1
    assert "this password is too common" in result.stderr


def test_binary_signs_a_user_in_through_an_application(
    binary: Path, cache: Path, tmp_path: Path
) -> None:
    env = binary_env(tmp_path / "data", cache)
    shop = apply_shop(binary, env, tmp_path)
    with served(binary, env, port=shop.port):
        userinfo = sign_in_alice(shop)
    assert userinfo["email"] == "alice@shop.example.com"


def test_binary_start_runs_the_console_and_the_server(
    binary: Path, cache: Path, tmp_path: Path, terminal: Terminal
) -> None:
    port, exit_file, script = free_port(), tmp_path / "exit-code", tmp_path / "run.sh"
    env = binary_env(tmp_path / "data", cache, TERM="xterm-256color")
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    script.write_text(
        f"{exports}{shlex.quote(str(binary))} start --listen 127.0.0.1:{port}\n"
        f"echo $? > {shlex.quote(str(exit_file))}\nsleep 30\n"
    )
    terminal.tmux("new-session", "-d", "-s", "zitui", "-x", "120", "-y", "40", f"sh {script}")
    terminal.wait_for("Sign in", timeout=START_BOUND_S)
    assert httpx2.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}

    terminal.keys("admin")
    terminal.wait_for("admin")
    terminal.keys("Enter", ADMIN_PASSWORD, "Enter")
    home = terminal.wait_for("IAM_OWNER")
    assert "zitui.127.0.0.1" in home

    terminal.keys("C-q")
    deadline = time.monotonic() + 30
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.read_text().strip() == "0"
    with pytest.raises(httpx2.TransportError):
        httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_two_first_starts_at_once_unpack_one_build(binary: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = binary_env(tmp_path, cache)
    starts = [
        subprocess.Popen([str(binary), "--version"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [start.communicate(timeout=120)[0].strip() for start in starts]
    assert outputs == [f"zitui {__version__}"] * 3
    assert [start.returncode for start in starts] == [0, 0, 0]
    # The copies that lost the race are gone, not left half-way.
    (build,) = builds(cache)
    assert os.listdir(cache / "zitui") == [build.name]


def test_a_new_build_keeps_the_one_before_and_removes_older_ones(
    binary: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    older, previous = cache / "zitui" / "0.0.1-older", cache / "zitui" / "0.0.2-previous"
    for number, old in enumerate((older, previous)):
        old.mkdir(parents=True)
        (old / "zitui").write_text("")
        os.utime(old, (1_000_000 + number, 1_000_000 + number))
    result = run_binary(binary, ["--version"], binary_env(tmp_path, cache))
    assert result.returncode == 0, result.stderr
    kept = [path.name for path in builds(cache)]
    assert len(kept) == 2 and kept[0] == previous.name
    assert kept[1].startswith(f"{__version__}-")


def test_an_unwritable_cache_is_named_in_the_error(binary: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory would go")
    result = run_binary(binary, ["--version"], binary_env(tmp_path, blocked))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"zitui: cannot write the cache directory {blocked}/zitui; "
        "set XDG_CACHE_HOME to a writable directory"
    )
