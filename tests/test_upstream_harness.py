"""The upstream provider of the external-IdP tests (`tests/upstream_fixtures.py`, npm
`oidc-provider`) with real clients: discovery; the code flow with PKCE and nonce walked by
Chromium and finished by authlib; userinfo following `set_account`; a cancelled sign-in
answering access_denied; form_post with client_secret_post; plain OAuth 2.0 without openid."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, Page, expect

from tests.live_server import chromium
from tests.test_server_browser import CHROMIUM
from tests.upstream_fixtures import (
    ALICE,
    BOB,
    CALLBACK_PATH,
    DEFAULT_ACCOUNTS,
    FORM_CALLBACK_PATH,
    Upstream,
    deny_upstream,
    sign_in_upstream,
    start_upstream,
    upstream,
    upstream_accounts,
    zitui_client,
)

SECRET = "upstream-client-secret-0123456789"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")

upstream, upstream_accounts = upstream, upstream_accounts  # the module's provider


@dataclass(frozen=True)
class Arrival:
    method: str
    path: str
    params: dict[str, str]


class Callback:
    """A real HTTP server on 127.0.0.1 standing in for the client's redirect URIs: what each
    request to them brought (query or form body), kept in arrival order."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        callback = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                split = urlsplit(self.path)
                self._arrived(split.path, split.query)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._arrived(urlsplit(self.path).path, body.decode())

            def _arrived(self, path: str, encoded: str) -> None:
                if not path.startswith(CALLBACK_PATH):  # the browser's /favicon.ico
                    self.send_error(404)
                    return
                params = dict(parse_qsl(encoded))
                callback.arrivals.append(Arrival(self.command, path, params))
                body = b"<!DOCTYPE html><title>Back at the client</title><h1>Back</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # zitui's own redirect URIs name localhost: so do these.
        self.url = f"http://localhost:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def last(self) -> Arrival:
        assert self.arrivals, "nothing arrived at the redirect URI"
        return self.arrivals[-1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def callback() -> Iterator[Callback]:
    server = Callback()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def upstream_clients(callback: Callback) -> list[dict[str, Any]]:
    return [
        zitui_client("basic", SECRET, callback.url),
        zitui_client("post", SECRET, callback.url, auth_method="client_secret_post"),
    ]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def metadata(upstream: Upstream) -> dict[str, Any]:
    found: dict[str, Any] = httpx2.get(upstream.discovery_url, timeout=10).json()
    return found


class Client:
    """The client's side, as zitui will play it: authlib's OAuth 2.0 client with PKCE."""

    def __init__(
        self,
        metadata: dict[str, Any],
        callback: Callback,
        client_id: str = "basic",
        auth_method: str = "client_secret_basic",
        path: str = CALLBACK_PATH,
    ) -> None:
        self.metadata = metadata
        self.redirect_uri = callback.url + path
        self.oauth = OAuth2Client(
            client_id=client_id,
            client_secret=SECRET,
            token_endpoint_auth_method=auth_method,
            code_challenge_method="S256",
        )
        self.verifier = generate_token(48)
        self.nonce = generate_token(16)
        self.state = ""

    def authorization_url(self, scope: str = "openid profile email phone", **extra: str) -> str:
        if "openid" in scope.split():
            extra["nonce"] = self.nonce  # oidc-provider refuses a nonce without openid
        url, self.state = self.oauth.create_authorization_url(
            self.metadata["authorization_endpoint"],
            redirect_uri=self.redirect_uri,
            scope=scope,
            code_verifier=self.verifier,
            **extra,
        )
        return str(url)

    def exchange(self, arrival: Arrival) -> dict[str, Any]:
        assert arrival.params.get("state") == self.state
        assert arrival.params.get("iss") == self.metadata["issuer"]  # RFC 9207
        token: dict[str, Any] = self.oauth.fetch_token(
            self.metadata["token_endpoint"],
            code=arrival.params["code"],
            redirect_uri=self.redirect_uri,
            code_verifier=self.verifier,
        )
        return token

    def id_token_claims(self, token: dict[str, Any]) -> dict[str, Any]:
        keys = KeySet.import_key_set(httpx2.get(self.metadata["jwks_uri"], timeout=10).json())
        return dict(jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims)

    def userinfo(self) -> dict[str, Any]:
        response = self.oauth.get(self.metadata["userinfo_endpoint"])
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def close(self) -> None:
        self.oauth.close()


@pytest.fixture
def client(metadata: dict[str, Any], callback: Callback) -> Iterator[Client]:
    client = Client(metadata, callback)
    yield client
    client.close()


def back_at_client(page: Page, callback: Callback, path: str = CALLBACK_PATH) -> Arrival:
    expect(page).to_have_url(re.compile(re.escape(callback.url + path) + r"(\?|$)"))
    expect(page.get_by_role("heading", name="Back")).to_be_visible()
    arrival = callback.last()
    assert arrival.path == path
    return arrival


def test_discovery_names_the_issuer_its_endpoints_and_claims(
    upstream: Upstream, metadata: dict[str, Any]
) -> None:
    assert upstream.issuer == f"http://127.0.0.1:{upstream.port}"
    assert metadata["issuer"] == upstream.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert metadata[endpoint].startswith(upstream.issuer + "/")
    assert {"openid", "profile", "email", "phone"} <= set(metadata["scopes_supported"])
    assert {"email", "given_name", "family_name", "phone_number"} <= set(
        metadata["claims_supported"]
    )
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert {"query", "form_post"} <= set(metadata["response_modes_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(
        metadata["token_endpoint_auth_methods_supported"]
    )


def test_code_flow_with_pkce_and_nonce_signs_alice_in(
    page: Page, client: Client, callback: Callback, metadata: dict[str, Any]
) -> None:
    page.goto(client.authorization_url())
    sign_in_upstream(page, "alice-upstream")
    token = client.exchange(back_at_client(page, callback))
    claims = client.id_token_claims(token)
    assert claims["iss"] == metadata["issuer"]
    assert claims["aud"] == "basic"
    assert claims["sub"] == "alice-upstream"
    assert claims["nonce"] == client.nonce
    # The profile travels in the ID token as well as in userinfo.
    assert claims["email"] == ALICE["email"] and claims["email_verified"] is True
    assert claims["given_name"] == "Alice" and claims["phone_number"] == ALICE["phone_number"]
    assert client.userinfo() == {"sub": "alice-upstream", **ALICE}


def test_set_account_changes_userinfo_and_the_next_sign_in(
    upstream: Upstream, page: Page, client: Client, callback: Callback
) -> None:
    page.goto(client.authorization_url())
    sign_in_upstream(page, "bob-upstream")
    client.exchange(back_at_client(page, callback))
    assert client.userinfo()["email"] == BOB["email"]
    renamed = {**BOB, "email": "robert@upstream.example", "given_name": "Robert"}
    upstream.set_account("bob-upstream", renamed)
    try:
        assert client.userinfo() == {"sub": "bob-upstream", **renamed}
        # The same browser signs in again: the upstream asks again, and tells the news.
        page.goto(client.authorization_url())
        sign_in_upstream(page, "bob-upstream")
        claims = client.id_token_claims(client.exchange(back_at_client(page, callback)))
        assert (claims["email"], claims["given_name"]) == (renamed["email"], "Robert")
    finally:
        upstream.set_account("bob-upstream", BOB)


def test_cancel_on_the_sign_in_page_answers_access_denied(
    page: Page, client: Client, callback: Callback
) -> None:
    page.goto(client.authorization_url())
    deny_upstream(page)
    arrival = back_at_client(page, callback)
    assert arrival.params["error"] == "access_denied"
    assert arrival.params["state"] == client.state
    assert "code" not in arrival.params


def test_cancel_on_the_consent_page_answers_access_denied(
    page: Page, client: Client, callback: Callback
) -> None:
    page.goto(client.authorization_url())
    deny_upstream(page, "alice-upstream")
    arrival = back_at_client(page, callback)
    assert arrival.params["error"] == "access_denied"
    assert "code" not in arrival.params


def test_form_post_and_client_secret_post(
    page: Page, metadata: dict[str, Any], callback: Callback
) -> None:
    client = Client(
        metadata, callback, "post", auth_method="client_secret_post", path=FORM_CALLBACK_PATH
    )
    try:
        page.goto(client.authorization_url(response_mode="form_post"))
        sign_in_upstream(page, "alice-upstream")
        arrival = back_at_client(page, callback, FORM_CALLBACK_PATH)
        assert arrival.method == "POST"
        claims = client.id_token_claims(client.exchange(arrival))
        assert (claims["sub"], claims["aud"]) == ("alice-upstream", "post")
    finally:
        client.close()


def test_an_unknown_subject_stays_on_the_sign_in_page(page: Page, client: Client) -> None:
    page.goto(client.authorization_url())
    page.locator('input[name="login"]').fill("nobody")
    page.get_by_role("button", name="Sign-in").click()
    expect(page.get_by_role("alert")).to_have_text('Unknown subject "nobody".')
    expect(page.locator('input[name="login"]')).to_have_value("nobody")


def test_a_request_without_pkce_is_refused(client: Client, metadata: dict[str, Any]) -> None:
    params = {
        "client_id": "basic",
        "response_type": "code",
        "redirect_uri": client.redirect_uri,
        "scope": "openid email",
        "state": "s-1",
    }
    answer = httpx2.get(metadata["authorization_endpoint"], params=params, timeout=10)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(client.redirect_uri + "?")
    found = dict(parse_qsl(urlsplit(location).query))
    assert (found["error"], found["state"]) == ("invalid_request", "s-1")
    assert "PKCE" in found["error_description"]


def test_plain_oauth_without_openid_reads_the_profile_api(
    upstream: Upstream, page: Page, client: Client, callback: Callback
) -> None:
    page.goto(client.authorization_url(scope="profile email"))
    sign_in_upstream(page, "alice-upstream")
    token = client.exchange(back_at_client(page, callback))
    assert "id_token" not in token and token["scope"] == "profile email"
    # OpenID userinfo wants openid; the plain OAuth 2.0 profile API answers.
    refused = client.oauth.get(client.metadata["userinfo_endpoint"])
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")
    profile = client.oauth.get(upstream.oauth_user_url)
    assert profile.status_code == 200, profile.text
    assert profile.json() == {"id": "alice-upstream", **ALICE}


def test_the_profile_api_refuses_a_missing_or_unknown_token(upstream: Upstream) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        answer = httpx2.get(upstream.oauth_user_url, headers=headers, timeout=10)
        assert (answer.status_code, answer.json()) == (401, {"error": "invalid_token"})
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_the_account_hook_takes_a_json_object_only(upstream: Upstream) -> None:
    url = f"http://127.0.0.1:{upstream.port}/__test/accounts/carol"
    for body in (b"[1, 2]", b"not json", b"null"):
        answer = httpx2.post(url, content=body, timeout=10)
        assert answer.status_code == 400, body
    assert httpx2.get(url, timeout=10).status_code == 405


def test_an_issuer_on_localhost_still_listens_on_127_0_0_1() -> None:
    with start_upstream(DEFAULT_ACCOUNTS, [], issuer_host="localhost") as provider:
        assert provider.issuer == f"http://localhost:{provider.port}"
        found = httpx2.get(f"http://127.0.0.1:{provider.port}/.well-known/openid-configuration")
        assert found.json()["issuer"] == provider.issuer


def test_a_client_without_redirect_uris_stops_the_start_with_the_reason() -> None:
    with (
        pytest.raises(AssertionError, match="redirect_uris is mandatory"),
        start_upstream(DEFAULT_ACCOUNTS, [{"client_id": "broken", "client_secret": SECRET}]),
    ):
        pytest.fail("the provider started")
