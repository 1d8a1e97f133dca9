"""`zitui start` in a real terminal (tmux): the TUI comes up, the server answers beside it,
the administrator signs in and sees the default organisation, and quitting stops both."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.processes import free_port, zitui_env


class Terminal:
    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket_name, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return result.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "zitui")

    def keys(self, *keys: str) -> None:
        # One key group per write: a terminal app reading "\rtext\r" in one chunk may not
        # see the carriage returns as Enter presses, as a typing person's terminal would.
        for key in keys:
            self.tmux("send-keys", "-t", "zitui", key)
            time.sleep(0.2)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(f"zitui-test-{tmp_path.name}")
    yield term
    subprocess.run(["tmux", "-L", term.socket_name, "kill-server"], capture_output=True)


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
