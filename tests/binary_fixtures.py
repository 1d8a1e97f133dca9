"""The built binary as a process: its environment, `serve` with extra arguments, and a user's
sign-in through an application (authlib's client and the hosted pages), for the modules that
test dist/zitui."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.processes import free_port, reaped, wait_healthz_on_port, zitui_env
from zitui.server import paths

ROOT = Path(__file__).resolve().parents[1]
BINARY = ROOT / "dist" / "zitui"
# A generous bound: a start that takes longer hangs; start-up figures are printed, not asserted.
START_BOUND_S = 60


def built_binary() -> Path:
    """dist/zitui, built first when missing (`make test` builds it before the suite)."""
    if not BINARY.exists():
        pyinstaller = Path(sys.executable).parent / "pyinstaller"
        subprocess.run(
            [str(pyinstaller), "--noconfirm", "--log-level", "WARN", "zitui.spec"],
            cwd=ROOT,
            check=True,
            timeout=900,
        )
    return BINARY


def binary_env(data: Path, cache: Path, **extra: str) -> dict[str, str]:
    """zitui's test environment, with the binary unpacking into `cache`."""
    return zitui_env(data, XDG_CACHE_HOME=str(cache), **extra)


def run_binary(
    binary: Path, args: Sequence[str], env: dict[str, str], *, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the binary to its end; `prefix` runs it under another command (a confinement)."""
    return subprocess.run(
        [*prefix, str(binary), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Served:
    url: str
    process: subprocess.Popen[str]
    started_in_s: float


@contextlib.contextmanager
def served(
    binary: Path,
    env: dict[str, str],
    *args: str,
    port: int | None = None,
    prefix: Sequence[str] = (),
) -> Iterator[Served]:
    """`zitui serve` from the binary on 127.0.0.1, with `args` after the listen address
    (`--ssh 127.0.0.1:PORT`, `--workers 2`, …), until /healthz answers. On leaving, SIGTERM
    must end it with exit code 0."""
    port = port or free_port()
    command = [*prefix, str(binary), "serve", "--listen", f"127.0.0.1:{port}", *args]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    with reaped(process):
        wait_healthz_on_port(port, process, timeout=START_BOUND_S)
        yield Served(f"http://127.0.0.1:{port}", process, time.perf_counter() - start)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err


SHOP_BLUEPRINT = """
[[orgs]]
name = "Shop"
domain = "shop.example.com"

# The sign-in is the password's alone: no optional second-factor set-up prompt.
[orgs.login_policy]
mfa_init_skip_lifetime = 0

[[orgs.users]]
username = "alice"
email = "alice@shop.example.com"
email_verified = true
first_name = "Alice"
last_name = "Liddell"
password = "{password}"

[[orgs.projects]]
name = "Shop"

[[orgs.projects.apps]]
name = "web"
type = "web"
auth_method = "basic"
redirect_uris = ["{callback}"]
dev_mode = true
"""
ALICE_PASSWORD = "Alice-Pass-1!"


@dataclass(frozen=True)
class Shop:
    """An organisation with Alice and a web application, applied by `zitui apply`."""

    url: str
    port: int
    client_id: str
    client_secret: str

    @property
    def callback(self) -> str:
        return f"{self.url}/cb"


def apply_shop(
    binary: Path, env: dict[str, str], workdir: Path, *, prefix: Sequence[str] = ()
) -> Shop:
    """Apply the shop's blueprint through the binary, for a server on a port chosen here."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    blueprint, creds = workdir / "shop.toml", workdir / "creds.json"
    blueprint.write_text(SHOP_BLUEPRINT.format(password=ALICE_PASSWORD, callback=f"{url}/cb"))
    applied = run_binary(binary, ["apply", str(blueprint), "--out", str(creds)], env, prefix=prefix)
    assert applied.returncode == 0, applied.stderr
    web = json.loads(creds.read_text())["Shop/Shop/web"]
    return Shop(url, port, web["client_id"], web["client_secret"])


def form_fields(page: httpx2.Response, action: str) -> dict[str, str]:
    """The inputs of the page's form that posts to `action`."""
    for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", page.text, re.S):
        target = re.search(r'action="([^"]*)"', match.group(1))
        if target is None or unescape(target.group(1)) != action:
            continue
        fields = {}
        for tag in re.finditer(r"<input\b[^>]*>", match.group(2)):
            name = re.search(r'name="([^"]*)"', tag.group(0))
            value = re.search(r'value="([^"]*)"', tag.group(0))
            if name:
                fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
        return fields
    raise AssertionError(f"no form posts to {action}: {page.status_code} {page.text[:500]}")


def _follow(browser: httpx2.Client, response: httpx2.Response, stop: str) -> httpx2.Response | str:
    """Follow the server's redirects; a redirect to `stop` (the application) ends it."""
    while response.status_code in (302, 303):
        location = response.headers["location"]
        if location.startswith(stop):
            return location
        response = browser.get(location)
    return response


def sign_in_alice(shop: Shop) -> dict[str, Any]:
    """Alice signs in to the shop's application with the authorization code flow and PKCE
    (authlib's client; the hosted login pages as a browser posts them). The ID token is checked
    against the published keys, the nonce and the audience; returns what userinfo answers to
    the access token."""
    with (
        OAuth2Client(
            client_id=shop.client_id,
            client_secret=shop.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            code_challenge_method="S256",
        ) as app,
        httpx2.Client(base_url=shop.url) as browser,
    ):
        verifier, nonce = generate_token(48), generate_token(16)
        authorization_url, state = app.create_authorization_url(
            shop.url + paths.AUTHORIZE,
            redirect_uri=shop.callback,
            scope="openid profile email",
            nonce=nonce,
            code_verifier=verifier,
        )
        page = _follow(browser, browser.get(str(authorization_url)), shop.callback)
        assert isinstance(page, httpx2.Response)
        fields = form_fields(page, paths.LOGIN_NAME)
        page = browser.post(paths.LOGIN_NAME, data={**fields, "login_name": "alice"})
        fields = form_fields(page, paths.LOGIN_PASSWORD)
        answer = browser.post(paths.LOGIN_PASSWORD, data={**fields, "password": ALICE_PASSWORD})
        back = _follow(browser, answer, shop.callback)
        assert isinstance(back, str), back.text
        token = app.fetch_token(
            shop.url + paths.TOKEN,
            authorization_response=back,
            redirect_uri=shop.callback,
            code_verifier=verifier,
            state=state,
        )
        keys = KeySet.import_key_set(browser.get(paths.KEYS).json())
        claims = dict(jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims)
        userinfo = browser.get(
            paths.USERINFO, headers={"Authorization": f"Bearer {token['access_token']}"}
        ).json()
    assert (claims["iss"], claims["nonce"]) == (shop.url, nonce)
    assert shop.client_id in claims["aud"]
    assert userinfo["sub"] == claims["sub"]
    return dict(userinfo)
