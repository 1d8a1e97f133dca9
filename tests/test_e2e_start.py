"""`zitui start` in a real terminal (tmux): the TUI comes up, the server answers beside it,
the administrator signs in and sees the default organisation, and quitting stops both."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.processes import free_port, zitui_env
from tests.terminal import Terminal


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"zitui-test-{tmp_path.name}")
    yield term
    term.close()


def _launch(terminal: Terminal, tmp_path: Path, port: int) -> Path:
    env = zitui_env(tmp_path / "data", TERM="xterm-256color", ZITUI_ACCESS_LOG="on")
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    exit_file = tmp_path / "exit-code"
    script = tmp_path / "run.sh"
    script.write_text(
        f"{exports}cd {shlex.quote(str(Path.cwd()))}\n"
        f"{shlex.quote(sys.executable)} -m zitui start --listen 127.0.0.1:{port}\n"
        f"echo $? > {shlex.quote(str(exit_file))}\nsleep 30\n"
    )
    terminal.tmux("new-session", "-d", "-s", "zitui", "-x", "120", "-y", "40", f"bash {script}")
    return exit_file


def test_start_runs_tui_and_server_in_one_process(terminal: Terminal, tmp_path: Path):
    port = free_port()
    exit_file = _launch(terminal, tmp_path, port)
    terminal.wait_for("Sign in")

    assert httpx2.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}

    terminal.keys("admin")
    terminal.wait_for("admin")  # the form takes input
    terminal.keys("Enter", ADMIN_PASSWORD, "Enter")
    home = terminal.wait_for("active")  # the organisations table has loaded
    assert "ZITUI" in home
    assert "zitui.127.0.0.1" in home
    assert "IAM_OWNER" in home

    terminal.keys("C-q")
    deadline = time.monotonic() + 30
    while not exit_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exit_file.read_text().strip() == "0"
    with pytest.raises(httpx2.TransportError):
        httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    log = (tmp_path / "data" / "logs" / "zitui.log").read_text()
    assert "GET /healthz" in log
