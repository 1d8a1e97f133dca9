"""/metrics of a real `zitui serve --workers 2` on its own listener: every worker's figures in
every scrape, whichever worker answers it."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ADMIN_PASSWORD
from tests.hosted_sign_in import browser, password_sign_in
from tests.processes import children, free_port, reaped, run, spawn, wait_healthy, zitui_env
from tests.test_metrics import Samples, parse, value
from zitui.server import paths

BLUEPRINT = """
[[orgs]]
name = "Acme"
domain = "acme.example.com"

[[orgs.users]]
username = "alice"
email = "alice@acme.example.com"
email_verified = true
first_name = "Alice"
last_name = "Anders"
password = "Alice-Pass-1!"

[[orgs.machines]]
username = "robot"
name = "Robot"
secret = true
"""


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """Stop a worker for the block; it accepts nothing until it continues."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def scrape(url: str) -> Samples:
    """One scrape on a connection of its own, so the kernel may hand it to either worker."""
    response = httpx2.get(url + paths.METRICS, headers={"Connection": "close"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def test_two_workers_share_their_figures_on_the_metrics_listener(tmp_path: Path) -> None:
    data = tmp_path / "data"
    blueprint, creds = tmp_path / "bp.toml", tmp_path / "creds.json"
    blueprint.write_text(BLUEPRINT)
    applied = run(["apply", str(blueprint), "--out", str(creds)], zitui_env(data))
    assert applied.returncode == 0, applied.stderr
    robot = json.loads(creds.read_text())["Acme/robot"]

    port, metrics_port = free_port(), free_port()
    base, metrics_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    env = zitui_env(data, ZITUI_METRICS_LISTEN=f"127.0.0.1:{metrics_port}")
    serve = spawn(["serve", "--listen", f"127.0.0.1:{port}", "--workers", "2"], env)
    with reaped(serve) as process:
        wait_healthy(base, process)
        assert len(children(process.pid)) == 2
        with browser(base) as client:
            signed = password_sign_in(client, "alice@acme.example.com", "Alice-Pass-1!")
            assert signed.status_code == 303, signed.text
        with browser(base) as client:
            wrong = password_sign_in(client, "alice@acme.example.com", "not-her-password")
            assert wrong.status_code == 401
        basic = base64.b64encode(f"{robot['client_id']}:{robot['client_secret']}".encode())
        token = httpx2.post(
            base + paths.TOKEN,
            data={"grant_type": "client_credentials", "scope": "openid"},
            headers={"Authorization": f"Basic {basic.decode()}"},
        )
        assert token.status_code == 200, token.text
        first, second = children(process.pid)
        # Five requests answered by each worker: the other one is stopped meanwhile, and the
        # one it shares the listening socket with accepts every connection.
        for stopped in (second, first):
            with paused(stopped):
                for _ in range(5):
                    discovery = httpx2.get(base + paths.DISCOVERY, headers={"Connection": "close"})
                    assert discovery.status_code == 200
        # Not on the public listener: no token is set.
        assert httpx2.get(base + paths.METRICS).status_code == 404
        assert httpx2.get(base + paths.READYZ).json() == {"status": "ready"}
        # Each worker answers a scrape with both workers' figures.
        scrapes = []
        for stopped in (second, first):
            with paused(stopped):
                scrapes.append(scrape(metrics_url))
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err

    route = {"route": paths.DISCOVERY, "method": "GET", "status": "200"}
    assert len(scrapes) == 2
    for samples in scrapes:
        assert value(samples, "zitui_sign_ins_total", method="password") == 1
        assert value(samples, "zitui_sign_in_failures_total", reason="wrong_password") == 1
        assert value(samples, "zitui_tokens_issued_total", grant_type="client_credentials") == 1
        assert value(samples, "zitui_http_request_duration_seconds_count", **route) == 10
        assert value(samples, "zitui_outbox_messages", state="failed") == 0
        assert value(samples, "zitui_password_hash_queue") == 0
    assert "Traceback" not in err


def test_the_metrics_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    port = free_port()
    env = zitui_env(tmp_path / "data", ZITUI_METRICS_LISTEN=f"127.0.0.1:{port}")
    with socket.socket() as taken:  # another program listens on the metrics port
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = run(["serve", "--listen", f"127.0.0.1:{free_port()}"], env)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in done.stderr


def test_families_parse_with_prometheus_clients_parser(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    token = "scrape-token-0123456789abcdef"
    env = zitui_env(
        tmp_path / "data",
        ZITUI_METRICS_LISTEN=f"127.0.0.1:{metrics_port}",
        ZITUI_METRICS_TOKEN=token,
        ZITUI_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    serve = spawn(["serve", "--listen", f"127.0.0.1:{port}"], env)
    with reaped(serve) as process:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        own = f"http://127.0.0.1:{metrics_port}{paths.METRICS}"
        public = f"http://127.0.0.1:{port}{paths.METRICS}"
        bearer = {"Authorization": f"Bearer {token}"}
        # With a token set, both listeners ask for it.
        assert httpx2.get(own).status_code == 401
        assert httpx2.get(public).status_code == 401
        answered = [httpx2.get(url, headers=bearer) for url in (own, public)]
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    for response in answered:
        assert response.status_code == 200
        names = {f.name for f in text_string_to_metric_families(response.text)}
        assert {"zitui_sign_ins", "zitui_http_request_duration_seconds"} <= names
