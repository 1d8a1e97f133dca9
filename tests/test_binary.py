"""The one-file binary: it reports its version and serves /healthz from a fresh directory.

`make test` builds dist/zitui first; run on its own, this module builds it when missing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from tests.dbfile import counts
from tests.processes import free_port, run, spawn, wait_healthy, zitui_env
from zitui import __version__

ROOT = Path(__file__).resolve().parents[1]
BINARY = ROOT / "dist" / "zitui"


@pytest.fixture(scope="module")
def binary() -> Path:
    if not BINARY.exists():
        pyinstaller = Path(sys.executable).parent / "pyinstaller"
        subprocess.run(
            [str(pyinstaller), "--noconfirm", "--log-level", "WARN", "zitui.spec"],
            cwd=ROOT,
            check=True,
            timeout=900,
        )
    return BINARY


def test_binary_reports_its_version(binary: Path, tmp_path: Path):
    result = run(["--version"], zitui_env(tmp_path), binary=binary)
    assert (result.returncode, result.stdout.strip()) == (0, f"zitui {__version__}")


def test_binary_serves_healthz_from_a_fresh_directory(binary: Path, tmp_path: Path):
    data = tmp_path / "data"
    port = free_port()
    process = spawn(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(data), binary=binary)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, timeout=60)
        base = f"http://127.0.0.1:{port}"
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
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert counts(data)["instances"] == 1


def test_binary_carries_the_common_password_list(binary: Path, tmp_path: Path):
    # The first run checks the administrator's password, the list lookup last of all.
    env = zitui_env(tmp_path / "data", ZITUI_ADMIN_PASSWORD="Password1!")
    result = run(["serve", "--listen", f"127.0.0.1:{free_port()}"], env, binary=binary)
    assert result.returncode == 1
    assert "this password is too common" in result.stderr
