"""An upstream OpenID provider for the external-IdP tests (npm `oidc-provider`, run by
`tests/upstream/upstream.mjs`): start it, change its accounts, walk its pages in a browser.

`start_upstream(accounts, clients)` is a context manager yielding an `Upstream`. The
`upstream` fixture is module-scoped: one provider per test module, built from the module's
`upstream_accounts` and `upstream_clients` fixtures, which a module overrides (the clients'
redirect URIs name the module's own zitui, see `zitui_client`):

    from tests.upstream_fixtures import upstream, upstream_accounts, zitui_client

    upstream, upstream_accounts = upstream, upstream_accounts  # the module's provider

    @pytest.fixture(scope="module")
    def upstream_clients(live_url: str) -> list[dict[str, Any]]:
        return [zitui_client("zitui", "a-long-client-secret", live_url)]

The provider asks for sign-in and consent on every authorization request (whatever the
browser's upstream session), so `sign_in_upstream(page, sub)` always walks the same two pages.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx2
import pytest
from playwright.sync_api import Page, expect

UPSTREAM_DIR = Path(__file__).parent / "upstream"
# zitui's external-IdP callbacks (ZITADEL's paths; zitui.core.idps names them too), spelled
# out so that the harness does not import zitui.
CALLBACK_PATH = "/ui/login/login/externalidp/callback"
FORM_CALLBACK_PATH = f"{CALLBACK_PATH}/form"
READY_TIMEOUT = 30.0

ALICE = {
    "email": "alice@upstream.example",
    "email_verified": True,
    "given_name": "Alice",
    "family_name": "Upstream",
    "name": "Alice Upstream",
    "preferred_username": "alice.up",
    "locale": "en",
    "phone_number": "+41791234567",
    "phone_number_verified": False,
}
BOB = {
    "email": "bob@upstream.example",
    "email_verified": False,
    "given_name": "Bob",
    "family_name": "Upstream",
    "name": "Bob Upstream",
}
DEFAULT_ACCOUNTS: dict[str, dict[str, Any]] = {"alice-upstream": ALICE, "bob-upstream": BOB}


@dataclass(frozen=True)
class Upstream:
    """A running upstream provider. Its issuer is `http://<issuer_host>:<port>`; it listens
    on 127.0.0.1 only."""

    issuer: str
    port: int
    log: IO[bytes]

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def oauth_user_url(self) -> str:
        """A plain OAuth 2.0 profile API (as GitHub's /user): the account's claims and `id`
        (its subject) for any valid access token, with or without the openid scope, which
        the OpenID userinfo endpoint requires."""
        return f"{self.issuer}/oauth/user"

    def set_account(self, sub: str, claims: dict[str, Any]) -> None:
        """Replace (or add) the account `sub`: its next tokens and userinfo carry `claims`."""
        url = f"http://127.0.0.1:{self.port}/__test/accounts/{quote(sub, safe='')}"
        response = httpx2.post(url, json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def output(self) -> str:
        """What the provider wrote on standard error so far (warnings, server errors)."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def zitui_client(
    client_id: str,
    client_secret: str,
    zitui_url: str,
    *,
    auth_method: str = "client_secret_basic",
    **metadata: Any,
) -> dict[str, Any]:
    """A client for a zitui at `zitui_url`, with both of its external-IdP callbacks (query and
    form_post). `metadata`: any further oidc-provider client metadata."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": [zitui_url + CALLBACK_PATH, zitui_url + FORM_CALLBACK_PATH],
        "token_endpoint_auth_method": auth_method,
        **metadata,
    }


def node() -> str:
    local = UPSTREAM_DIR / "node_modules" / ".bin" / "node"  # `npm install node@22`, if ever
    found = str(local) if local.exists() else shutil.which("node")
    if found is None or not (UPSTREAM_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node and tests/upstream/node_modules are needed: run `make test` once")
    return found


@contextlib.contextmanager
def start_upstream(
    accounts: dict[str, dict[str, Any]],
    clients: list[dict[str, Any]],
    *,
    issuer_host: str = "127.0.0.1",
    require_pkce: bool = True,
) -> Iterator[Upstream]:
    """Run the provider on a free port of 127.0.0.1 until the block ends.

    `accounts` maps a subject to its claims (`email`, `email_verified`, `given_name`,
    `family_name`, `name`, `preferred_username`, `locale`, `phone_number`, ...); only these
    subjects can sign in. `clients` hold `client_id`, `client_secret`, `redirect_uris` and
    optionally `token_endpoint_auth_method` (default `client_secret_basic`) or any other
    oidc-provider client metadata. `require_pkce=False` accepts requests without PKCE.
    """
    config = {
        "issuer_host": issuer_host,
        "require_pkce": require_pkce,
        "accounts": accounts,
        "clients": clients,
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [node(), str(UPSTREAM_DIR / "upstream.mjs"), json.dumps(config)],
            cwd=UPSTREAM_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            issuer = _wait_ready(process, log)
            yield Upstream(issuer=issuer, port=_port_of(issuer), log=log)
        finally:
            process.kill()
            process.communicate()


def _wait_ready(process: subprocess.Popen[str], log: IO[bytes]) -> str:
    """The issuer from the provider's `READY <issuer>` line, read on a thread so that a
    provider that never answers fails the test after READY_TIMEOUT."""
    stdout = process.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()))
    reader.start()
    reader.join(READY_TIMEOUT)
    if reader.is_alive():
        process.kill()
        reader.join()
    line = lines[0] if lines else ""
    if not line.startswith("READY "):
        process.kill()
        process.wait()
        log.seek(0)
        stderr = log.read().decode(errors="replace")
        raise AssertionError(f"the upstream provider did not start: {line!r}\n{stderr}")
    return line.split(" ", 1)[1].strip()


def _port_of(issuer: str) -> int:
    return int(issuer.rsplit(":", 1)[1].split("/", 1)[0])


@pytest.fixture(scope="module")
def upstream_accounts() -> dict[str, dict[str, Any]]:
    """The upstream's accounts (DEFAULT_ACCOUNTS); a module overrides it to change them."""
    return {sub: dict(claims) for sub, claims in DEFAULT_ACCOUNTS.items()}


@pytest.fixture(scope="module")
def upstream_clients() -> list[dict[str, Any]]:
    """The upstream's clients: none here; a module overrides it (see `zitui_client`)."""
    return []


@pytest.fixture(scope="module")
def upstream(
    upstream_accounts: dict[str, dict[str, Any]], upstream_clients: list[dict[str, Any]]
) -> Iterator[Upstream]:
    """One upstream provider per test module. `set_account` changes outlive the test that
    made them: a test that changes an account restores it or uses its own subject."""
    with start_upstream(upstream_accounts, upstream_clients) as provider:
        yield provider


def sign_in_upstream(page: Page, sub: str) -> None:
    """On the upstream's sign-in page: sign in as `sub` and consent. Returns once the consent
    is sent; the browser is then on its way back to the client."""
    login = page.locator('input[name="login"]')
    expect(login).to_be_visible()
    login.fill(sub)
    page.get_by_role("button", name="Sign-in").click()
    consent = page.get_by_role("button", name="Continue")
    expect(consent, f"the upstream did not accept {sub!r}").to_be_visible()
    consent.click()


def deny_upstream(page: Page, sub: str | None = None) -> None:
    """Cancel at the upstream, which answers the client with `error=access_denied`: on the
    sign-in page, or (with `sub`) on the consent page after signing in as `sub`."""
    if sub is None:
        expect(page.locator('input[name="login"]')).to_be_visible()
    else:
        login = page.locator('input[name="login"]')
        login.fill(sub)
        page.get_by_role("button", name="Sign-in").click()
        expect(page.get_by_role("button", name="Continue")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
