"""Running zitui as a real process, as an operator would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from tests.conftest import ADMIN_PASSWORD, MASTERKEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zitui_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZITUI_")}
    env.update(
        ZITUI_DATA=str(data_dir),
        ZITUI_MASTERKEY=MASTERKEY,
        ZITUI_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ZITUI_ARGON2_MEMORY_KIB="1024",
        ZITUI_ARGON2_TIME_COST="1",
    )
    env.update(extra)
    return env


def zitui_command(binary: Path | None = None) -> list[str]:
    return [str(binary)] if binary else [sys.executable, "-m", "zitui"]


def run(
    args: list[str], env: dict[str, str], binary: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        zitui_command(binary) + args,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def spawn(
    args: list[str],
    env: dict[str, str],
    binary: Path | None = None,
    *,
    log: Path | None = None,
    sigint_ignored: bool = False,
) -> subprocess.Popen[str]:
    """Start zitui; its output is piped, or written to `log` for long runs.

    `serve` logs every request on standard error: a pipe nobody reads fills after a few
    hundred requests and then blocks the server, so load runs must pass `log`.
    `sigint_ignored` starts it the way a script's background job (`zitui serve &`) is
    started: with SIGINT ignored.
    """
    sink: Any = log.open("a") if log else subprocess.PIPE
    try:
        return subprocess.Popen(
            zitui_command(binary) + args,
            env=env,
            stdout=sink,
            stderr=sink,
            text=True,
            stdin=subprocess.DEVNULL,
            preexec_fn=_ignore_sigint if sigint_ignored else None,
        )
    finally:
        if log:
            sink.close()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def children(pid: int) -> list[int]:
    """The processes `pid` started (the workers of `serve --workers`)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in text.split()]


@contextlib.contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Whatever happens in the block, the process and the ones it started are gone after it:
    killed if they still run, and the process waited for, so no test leaves a server behind
    (or a ResourceWarning for it)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            for child in children(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            process.kill()
        process.communicate()


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30) -> httpx2.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"zitui exited early: {process.communicate()}")
        try:
            response = httpx2.get(url + "/healthz", timeout=2)
            if response.status_code == 200:
                return response
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url}/healthz did not answer within {timeout}s")


def wait_healthz_on_port(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait for 200 from /healthz on 127.0.0.1:`port`, asking every 5 ms over a bare socket.

    For start-up timings: an HTTP client per attempt costs the starting server CPU, and
    `wait_healthy`'s 0.1 s steps are coarser than the differences measured.
    """
    request = b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"zitui exited early: {process.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(request)
                if sock.recv(16).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.005)
    raise AssertionError(f"port {port} did not answer /healthz within {timeout}s")
