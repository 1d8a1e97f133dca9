"""The protocol client for external identity providers (`zitui.core.idp_client`).

Against a real upstream OpenID provider (npm `oidc-provider`, `tests/upstream_fixtures.py`)
walked by Chromium: the code flow with PKCE and nonce, the claims, plain OAuth 2.0,
form_post, every refusal the upstream can produce (reused code, wrong secret, wrong verifier,
another issuer, RFC 9207 `iss`, a stopped provider). ID token checks the upstream cannot
fail (signature, audience, times) run through `verify_id_token` with tokens signed here.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey
from playwright.sync_api import Browser, Page, Request, Route, expect

from tests.live_server import chromium
from tests.test_server_browser import CHROMIUM
from tests.upstream_fixtures import (
    ALICE,
    CALLBACK_PATH,
    FORM_CALLBACK_PATH,
    Upstream,
    sign_in_upstream,
    start_upstream,
    upstream,
    upstream_accounts,
    zitui_client,
)
from zitui.core.clock import FixedClock, SystemClock
from zitui.core.idp_client import ExternalIdentity, IdpClient, primary_email
from zitui.core.idp_discovery import (
    Endpoints,
    Entra,
    ProviderMetadata,
    check_response_issuer,
    endpoints_from,
    entra_kind,
    signing_keys,
)
from zitui.core.idp_http import safe_url
from zitui.core.idp_identity import attribute, external_id_of, identity_from_claims
from zitui.core.idp_tokens import apple_client_secret, key_known, verify_id_token
from zitui.core.idps import IdpSettings, callback_urls, validated
from zitui.errors import (
    InvalidArgument,
    PreconditionFailed,
    Unauthenticated,
    UpstreamUnavailable,
    ZituiError,
)
from zitui.records import IdentityProvider, IdpType

upstream, upstream_accounts = upstream, upstream_accounts  # the module's provider

T = TypeVar("T")
SECRET = "upstream-client-secret-0123456789"
# Nothing listens here: the browser's way back is caught by `page.route`.
ZITUI = "http://localhost:9"
CALLBACKS = callback_urls(ZITUI)
VERIFIER = "v" * 43 + "-verifier-of-the-flow"
NONCE = "nonce-of-the-flow-0123456789"
STATE = "state-of-the-flow"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

browser_only = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine on its own loop, in a thread: Playwright's sync API keeps a loop
    running on this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def provider(kind: IdpType = IdpType.OIDC, **settings: Any) -> IdentityProvider:
    """A provider as the core validates and stores it."""
    values: dict[str, Any] = {"name": f"{kind} provider", "type": kind, "client_id": "basic"}
    values.update(settings)
    return validated("idp-1", "", IdpSettings(**values))


# --- ExternalIdentity -----------------------------------------------------------------------


def test_an_identity_survives_the_flow_json() -> None:
    identity = ExternalIdentity(
        idp_id="idp-1",
        external_id="alice",
        username="alice.up",
        email="alice@example.com",
        email_verified=True,
        given_name="Alice",
        language="de-CH",
        phone="+41791234567",
        phone_verified=True,
    )
    assert ExternalIdentity.from_json(identity.to_json()) == identity
    # Fields added later are read with their defaults from older flows.
    assert ExternalIdentity.from_json({"idp_id": "idp-1", "external_id": "x"}) == (
        ExternalIdentity(idp_id="idp-1", external_id="x")
    )


@pytest.mark.parametrize(
    "data",
    [
        None,
        "alice",
        ["idp-1", "alice"],
        {"idp_id": "idp-1"},
        {"idp_id": "", "external_id": "alice"},
        {"idp_id": "idp-1", "external_id": ""},
        {"idp_id": "idp-1", "external_id": 42},
        {"idp_id": "idp-1", "external_id": "alice", "email_verified": "true"},
        {"idp_id": "idp-1", "external_id": "alice", "email_verified": 1},
        {"idp_id": "idp-1", "external_id": "alice", "email": None},
    ],
)
def test_a_malformed_identity_is_none(data: object) -> None:
    assert ExternalIdentity.from_json(data) is None


# --- claims ---------------------------------------------------------------------------------


def test_openid_claims_fill_the_profile() -> None:
    claims = {
        "preferred_username": " alice.up ",
        "email": "alice@example.com",
        "email_verified": True,
        "given_name": "Alice",
        "family_name": "Upstream",
        "name": "Alice Upstream",
        "nickname": "Al",
        "locale": "de_CH",
        "phone_number": "+41791234567",
        "phone_number_verified": True,
    }
    identity = identity_from_claims(provider(issuer="https://op.example"), "sub-1", claims)
    assert identity == ExternalIdentity(
        idp_id="idp-1",
        external_id="sub-1",
        username="alice.up",
        email="alice@example.com",
        email_verified=True,
        given_name="Alice",
        family_name="Upstream",
        display_name="Alice Upstream",
        nickname="Al",
        language="de-CH",
        phone="+41791234567",
        phone_verified=True,
    )


def test_claims_of_the_wrong_shape_say_nothing() -> None:
    claims = {
        "email": ["a@example.com"],
        "email_verified": "yes",
        "given_name": 7,
        "locale": "not a locale!",
        "phone_number_verified": True,
    }
    identity = identity_from_claims(provider(issuer="https://op.example"), "sub-1", claims)
    assert identity == ExternalIdentity(idp_id="idp-1", external_id="sub-1")


def test_apple_says_verified_as_a_string_and_entra_through_its_setting() -> None:
    apple = provider(IdpType.APPLE, extra={"team_id": "TEAM", "key_id": "KEY"})
    claims = {"email": "a@privaterelay.appleid.com", "email_verified": "true"}
    assert identity_from_claims(apple, "001.abc", claims).email_verified
    unsaid = {"email": "alice@contoso.example", "email_verified": True}
    entra = provider(IdpType.AZURE, extra={"tenant": "common"})
    assert not identity_from_claims(entra, "oid", unsaid).email_verified
    trusted = provider(IdpType.AZURE, extra={"tenant": "common", "email_verified": "true"})
    assert identity_from_claims(trusted, "oid", {"email": "alice@contoso.example"}).email_verified


def test_github_names_map_and_its_numeric_id_is_text() -> None:
    github = provider(IdpType.GITHUB)
    user = {"id": 583231, "login": "octocat", "name": "The Octocat", "email": None}
    # The template's id attribute (`id`) is a number at GitHub.
    assert external_id_of(attribute(user, "id")) == "583231"
    identity = identity_from_claims(github, "583231", user)
    assert (identity.username, identity.nickname, identity.display_name) == (
        "octocat",
        "octocat",
        "The Octocat",
    )
    assert identity.email == "" and not identity.email_verified


def test_github_primary_email_and_whether_it_is_verified() -> None:
    emails = [
        {"email": "old@example.com", "primary": False, "verified": True},
        {"email": "octo@example.com", "primary": True, "verified": True},
    ]
    assert primary_email(emails) == ("octo@example.com", True)
    assert primary_email([{"email": "new@example.com", "primary": True, "verified": False}]) == (
        "new@example.com",
        False,
    )
    assert primary_email({"message": "Not Found"}) is None
    assert primary_email([{"email": "x@example.com", "primary": "yes"}]) is None


def test_nested_id_attributes_and_ids_that_are_none() -> None:
    answer = {"data": {"user": {"id": "u-7"}}, "data.flat": "f-1"}
    assert attribute(answer, "data.user.id") == "u-7"
    assert attribute(answer, "data.flat") == "f-1"
    assert attribute(answer, "data.user.name") is None
    for value in (None, True, "", "   ", 1.5, {"id": 1}, "x" * 256):
        assert external_id_of(value) == ""


# --- the redirect URI and the authorization URL -----------------------------------------------


def test_apple_comes_back_by_form_post_and_the_others_by_query() -> None:
    client = IdpClient(SystemClock())
    apple = provider(IdpType.APPLE, extra={"team_id": "TEAM", "key_id": "KEY"})
    assert client.redirect_uri(apple, CALLBACKS) == ZITUI + FORM_CALLBACK_PATH
    for kind in (IdpType.OIDC, IdpType.GOOGLE, IdpType.GITLAB, IdpType.AZURE, IdpType.GITHUB):
        idp = provider(kind, issuer="https://op.example" if kind is IdpType.OIDC else "")
        assert client.redirect_uri(idp, CALLBACKS) == ZITUI + CALLBACK_PATH


def test_github_authorization_url_from_its_template() -> None:
    client = IdpClient(SystemClock())
    github = provider(IdpType.GITHUB, client_id="gh-client")
    url = run(
        client.authorization_url(
            github, callbacks=CALLBACKS, state=STATE, nonce=NONCE, code_verifier=VERIFIER
        )
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://github.com/login/oauth/authorize"
    )
    assert dict(parse_qsl(parts.query)) == {
        "response_type": "code",
        "client_id": "gh-client",
        "redirect_uri": ZITUI + CALLBACK_PATH,
        "scope": "read:user user:email",
        "state": STATE,
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }


def test_github_enterprise_is_reached_at_its_own_host() -> None:
    client = IdpClient(SystemClock())
    enterprise = provider(
        IdpType.GITHUB, use_pkce=False, extra={"base_url": "https://git.corp.example"}
    )
    url = run(
        client.authorization_url(
            enterprise, callbacks=CALLBACKS, state=STATE, nonce=NONCE, code_verifier=""
        )
    )
    assert url.startswith("https://git.corp.example/login/oauth/authorize?")
    assert "code_challenge" not in dict(parse_qsl(urlsplit(url).query))


# --- discovery documents and key sets ---------------------------------------------------------

DOC = {
    "issuer": "https://op.example",
    "authorization_endpoint": "https://op.example/authorize",
    "token_endpoint": "https://op.example/token",
    "userinfo_endpoint": "https://op.example/userinfo",
    "jwks_uri": "https://op.example/jwks",
    "token_endpoint_auth_methods_supported": ["client_secret_post", 7],
    "authorization_response_iss_parameter_supported": True,
}


def test_a_discovery_document_gives_the_endpoints() -> None:
    endpoints = endpoints_from(DOC, issuer="https://op.example")
    assert endpoints == Endpoints(
        issuer="https://op.example",
        authorization="https://op.example/authorize",
        token="https://op.example/token",
        userinfo="https://op.example/userinfo",
        jwks_uri="https://op.example/jwks",
        auth_methods=("client_secret_post",),
        iss_parameter=True,
    )
    without_userinfo = {k: v for k, v in DOC.items() if k != "userinfo_endpoint"}
    assert endpoints_from(without_userinfo, issuer="https://op.example").userinfo == ""


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer": "https://op.example/"},
        {"issuer": None},
        {"token_endpoint": "http://op.example/token"},
        {"authorization_endpoint": None},
        {"jwks_uri": "ftp://op.example/jwks"},
        {"userinfo_endpoint": "https://user:pw@op.example/userinfo"},
        {"userinfo_endpoint": 42},
    ],
)
def test_a_discovery_document_that_is_not_trusted(changes: dict[str, object]) -> None:
    doc = {**DOC, **changes}
    fails(
        lambda: endpoints_from(doc, issuer="https://op.example"),
        PreconditionFailed,
        "idp.discovery_invalid",
    )


def test_entra_multi_tenant_discovery_names_a_placeholder() -> None:
    issuer = "https://login.microsoftonline.com/common/v2.0"
    doc = {**DOC, "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
    assert endpoints_from(doc, issuer=issuer, entra=Entra.ANY_TENANT).issuer == issuer
    fails(lambda: endpoints_from(doc, issuer=issuer), PreconditionFailed, "idp.discovery_invalid")


def test_an_entra_tenant_named_by_domain_is_answered_with_its_id() -> None:
    configured = "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
    tenant = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    found = endpoints_from({**DOC, "issuer": tenant}, issuer=configured, entra=Entra.NAMED_TENANT)
    # Its answers and tokens must name the tenant's id from now on.
    assert found.issuer == tenant
    for other in (configured, "https://op.example", "https://login.microsoftonline.com/x/v2.0"):
        doc = {**DOC, "issuer": other}
        fails(
            lambda doc=doc: endpoints_from(doc, issuer=configured, entra=Entra.NAMED_TENANT),
            PreconditionFailed,
            "idp.discovery_invalid",
        )


def test_which_entra_rule_a_provider_follows() -> None:
    def kind(**settings: Any) -> Entra:
        return entra_kind(provider(IdpType.AZURE, **settings))

    assert kind() is Entra.ANY_TENANT  # the template's default tenant: common
    assert kind(extra={"tenant": "consumers"}) is Entra.ANY_TENANT
    assert kind(extra={"tenant": "9188040d-6c67-4c5b-b112-36a304b66dad"}) is Entra.NONE
    assert kind(extra={"tenant": "contoso.onmicrosoft.com"}) is Entra.NAMED_TENANT
    common = "https://login.microsoftonline.com/common/v2.0"
    assert kind(issuer=common) is Entra.ANY_TENANT
    assert kind(issuer="https://login.microsoftonline.com/contoso.example/v2.0") is Entra.NONE
    assert entra_kind(provider(issuer="https://op.example")) is Entra.NONE


def test_http_is_followed_on_loopback_only() -> None:
    for url in (
        "https://op.example/x",
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://[::1]:9/x",
    ):
        assert safe_url(url), url
    for url in (
        "http://op.example/x",
        "http://10.0.0.1/x",
        "https://",
        "javascript:x",
        7,
        "https://op.example/#frag",
        "https://a@op.example/",
    ):
        assert not safe_url(url), url


def test_only_signature_keys_count(signer: Signer) -> None:
    public = signer.key.as_dict(private=False)
    doc = {
        "keys": [
            public,
            {**ECKey.generate_key("P-256").as_dict(private=False), "use": "enc", "kid": "e"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hs"},
            {"kty": "unknown", "kid": "u"},
            "not a key",
        ]
    }
    keys = signing_keys(doc)
    assert [key.kid for key in keys.keys] == ["op-1"]
    assert (
        verify_id_token(
            signer.token(),
            keys,
            expected_issuers=("https://op.example",),
            expected_audience="basic",
            expected_nonce=NONCE,
            now=NOW,
        )["sub"]
        == "alice"
    )
    fails(lambda: signing_keys({"keys": "none"}), UpstreamUnavailable, "idp.unreachable")


def test_the_answers_issuer_rules() -> None:
    idp = provider(issuer="https://op.example")
    promised = endpoints_from(DOC, issuer="https://op.example")
    check_response_issuer(idp, promised, "https://op.example")
    fails(lambda: check_response_issuer(idp, promised, ""), Unauthenticated, "idp.issuer_mismatch")
    fails(
        lambda: check_response_issuer(idp, promised, "https://op.example/"),
        Unauthenticated,
        "idp.issuer_mismatch",
    )
    unpromised = replace(promised, iss_parameter=False)
    check_response_issuer(idp, unpromised, "")
    entra = provider(IdpType.AZURE, extra={"tenant": "organizations"})
    tenant = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    check_response_issuer(entra, unpromised, tenant)
    fails(
        lambda: check_response_issuer(entra, unpromised, "https://op.example"),
        Unauthenticated,
        "idp.issuer_mismatch",
    )


# --- fetching: a local server of documents ----------------------------------------------------


class Documents:
    """A real HTTP server on 127.0.0.1 answering GETs from `answers` (path -> status,
    content type, body), counting the requests per path."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        self.hits: dict[str, int] = {}
        documents = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                documents.hits[self.path] = documents.hits.get(self.path, 0) + 1
                status, kind, body = documents.answers.get(self.path, (404, "text/plain", b""))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def json(self, path: str, value: object) -> None:
        self.answers[path] = (200, "application/json", json.dumps(value).encode())

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def documents() -> Iterator[Documents]:
    server = Documents()
    yield server
    server.stop()


def test_rotated_keys_are_fetched_once_more(documents: Documents) -> None:
    old = RSAKey.generate_key(2048, parameters={"kid": "old"})
    new = RSAKey.generate_key(2048, parameters={"kid": "new"})
    documents.json("/jwks", {"keys": [old.as_dict(private=False)]})
    metadata = ProviderMetadata(FixedClock(NOW), timeout_s=5)
    jwks_uri = documents.url + "/jwks"

    def signed(key: RSAKey) -> str:
        return jwt.encode({"alg": "RS256", "kid": key.kid}, {"sub": "alice"}, key)

    assert [k.kid for k in run(metadata.keys_for(jwks_uri, signed(old))).keys] == ["old"]
    assert [k.kid for k in run(metadata.keys_for(jwks_uri, signed(old))).keys] == ["old"]
    assert documents.hits["/jwks"] == 1  # cached
    documents.json("/jwks", {"keys": [old.as_dict(private=False), new.as_dict(private=False)]})
    keys = run(metadata.keys_for(jwks_uri, signed(new)))
    assert sorted(k.kid for k in keys.keys) == ["new", "old"]
    assert documents.hits["/jwks"] == 2
    # A key the provider does not have either is fetched for once per token, not forever.
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    run(metadata.keys_for(jwks_uri, signed(stranger)))
    assert documents.hits["/jwks"] == 3


def test_documents_are_cached_for_a_few_minutes(documents: Documents) -> None:
    documents.json(
        "/.well-known/openid-configuration",
        {
            **DOC,
            "issuer": documents.url,
            "jwks_uri": documents.url + "/jwks",
            "authorization_endpoint": documents.url + "/authorize",
            "token_endpoint": documents.url + "/token",
            "userinfo_endpoint": documents.url + "/userinfo",
        },
    )
    clock = FixedClock(NOW)
    metadata = ProviderMetadata(clock, timeout_s=5)
    run(metadata.discover(documents.url))
    clock.advance(timedelta(minutes=4))
    assert run(metadata.discover(documents.url)).token == documents.url + "/token"
    assert documents.hits["/.well-known/openid-configuration"] == 1
    clock.advance(timedelta(minutes=2))
    run(metadata.discover(documents.url))
    assert documents.hits["/.well-known/openid-configuration"] == 2


@pytest.mark.parametrize(
    "answer",
    [
        (200, "text/html", b"<!DOCTYPE html><title>Welcome</title>"),
        (200, "application/json", b"NaN"),
        (200, "application/json", b"[" * 100_000 + b"]" * 100_000),
        (200, "application/json", b'{"issuer": "' + b"x" * 600_000 + b'"}'),
        (500, "application/json", b'{"issuer": "nobody"}'),
        (302, "application/json", b""),
        (404, "text/plain", b"Not Found"),
    ],
)
def test_a_provider_answering_in_error_is_unreachable(
    documents: Documents, answer: tuple[int, str, bytes]
) -> None:
    documents.answers["/.well-known/openid-configuration"] = answer
    metadata = ProviderMetadata(FixedClock(NOW), timeout_s=5)
    fails(lambda: run(metadata.discover(documents.url)), UpstreamUnavailable, "idp.unreachable")


def test_a_provider_that_does_not_answer_times_out() -> None:
    """It accepts the connection (the listen backlog) and never reads the request."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        issuer = f"http://127.0.0.1:{silent.getsockname()[1]}"
        metadata = ProviderMetadata(FixedClock(NOW), timeout_s=0.3)
        fails(lambda: run(metadata.discover(issuer)), UpstreamUnavailable, "idp.unreachable")


# --- ID tokens, checked without the network -------------------------------------------------


@dataclass(frozen=True)
class Signer:
    key: RSAKey
    keys: KeySet

    def token(self, **changes: Any) -> str:
        claims: dict[str, Any] = {
            "iss": "https://op.example",
            "sub": "alice",
            "aud": "basic",
            "nonce": NONCE,
            "iat": int(NOW.timestamp()),
            "exp": int(NOW.timestamp()) + 300,
        }
        claims.update(changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)


@pytest.fixture(scope="module")
def signer() -> Signer:
    key = RSAKey.generate_key(2048, parameters={"kid": "op-1"})
    return Signer(key, KeySet([RSAKey.import_key(key.as_dict(private=False))]))


def verify(signer: Signer, token: str, **expected: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "expected_issuers": ("https://op.example",),
        "expected_audience": "basic",
        "expected_nonce": NONCE,
        "now": NOW,
    }
    values.update(expected)
    return verify_id_token(token, signer.keys, **values)


def refused(signer: Signer, token: str, code: str, **expected: Any) -> None:
    with pytest.raises(Unauthenticated) as caught:
        verify(signer, token, **expected)
    assert caught.value.code == code


def test_a_good_id_token_gives_its_claims(signer: Signer) -> None:
    claims = verify(signer, signer.token(email="alice@example.com"))
    assert claims["sub"] == "alice" and claims["email"] == "alice@example.com"
    # Several audiences, issued to us.
    assert verify(signer, signer.token(aud=["basic", "api"], azp="basic"))["sub"] == "alice"
    # A minute of clock skew either way is tolerated.
    skewed = signer.token(iat=int(NOW.timestamp()) + 50, exp=int(NOW.timestamp()) - 50)
    assert verify(signer, skewed)["sub"] == "alice"


def test_a_signature_by_another_key_or_none_is_refused(signer: Signer) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "op-1"})
    forged = jwt.encode({"alg": "RS256", "kid": "op-1"}, {"sub": "alice"}, stranger)
    refused(signer, forged, "idp.token_invalid")
    header, claims, _ = signer.token().split(".")
    refused(signer, f"{header}.{claims}.", "idp.token_invalid")
    # HS256 keyed with something the attacker knows is not accepted either.
    secret = OctKey.import_key(SECRET)
    hs = jwt.encode({"alg": "HS256"}, {"sub": "alice"}, secret, algorithms=["HS256"])
    refused(signer, hs, "idp.token_invalid")
    refused(signer, "not-a-token", "idp.token_invalid")


def test_audience_and_authorized_party_must_be_us(signer: Signer) -> None:
    refused(signer, signer.token(aud="other"), "idp.token_invalid")
    refused(signer, signer.token(aud=None), "idp.token_invalid")
    refused(signer, signer.token(aud=["basic", "api"]), "idp.token_invalid")
    refused(signer, signer.token(aud=["basic", "api"], azp="api"), "idp.token_invalid")


def test_expired_and_future_tokens_are_refused(signer: Signer) -> None:
    at = int(NOW.timestamp())
    refused(signer, signer.token(exp=at - 61), "idp.token_invalid")
    refused(signer, signer.token(iat=at + 61), "idp.token_invalid")
    refused(signer, signer.token(exp=None), "idp.token_invalid")
    refused(signer, signer.token(iat="yesterday"), "idp.token_invalid")


def test_issuer_nonce_and_subject_have_their_own_codes(signer: Signer) -> None:
    refused(signer, signer.token(iss="https://evil.example"), "idp.issuer_mismatch")
    refused(signer, signer.token(iss=None), "idp.issuer_mismatch")
    refused(signer, signer.token(nonce="another"), "idp.nonce_mismatch")
    refused(signer, signer.token(nonce=None), "idp.nonce_mismatch")
    refused(signer, signer.token(nonce=""), "idp.nonce_mismatch", expected_nonce="")
    refused(signer, signer.token(sub=None), "idp.subject_missing")
    refused(signer, signer.token(sub=" "), "idp.subject_missing")


def test_entra_multi_tenant_tokens_name_their_own_tenant(signer: Signer) -> None:
    tid = "9188040d-6c67-4c5b-b112-36a304b66dad"
    own = f"https://login.microsoftonline.com/{tid}/v2.0"
    token = signer.token(iss=own, tid=tid)
    assert verify(signer, token, any_entra_tenant=True)["tid"] == tid
    other = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0"
    refused(signer, signer.token(iss=other, tid=tid), "idp.issuer_mismatch", any_entra_tenant=True)
    refused(signer, signer.token(iss=own), "idp.issuer_mismatch", any_entra_tenant=True)
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    refused(
        signer,
        signer.token(iss=template, tid="{tenantid}"),
        "idp.issuer_mismatch",
        any_entra_tenant=True,
    )


def test_an_unknown_key_id_asks_for_the_keys_again(signer: Signer) -> None:
    assert key_known(signer.token(), signer.keys)
    rotated = RSAKey.generate_key(2048, parameters={"kid": "op-2"})
    token = jwt.encode({"alg": "RS256", "kid": "op-2"}, {"sub": "alice"}, rotated)
    assert not key_known(token, signer.keys)
    assert key_known("not-a-token", signer.keys)


# --- Apple's client secret ------------------------------------------------------------------


def test_apple_client_secret_is_a_short_es256_jwt_of_the_team() -> None:
    key = ECKey.generate_key("P-256")
    pem = key.as_pem(private=True).decode()
    secret = apple_client_secret(
        pem, team_id="TEAM123456", key_id="KEY1234567", client_id="com.example.web", now=NOW
    )
    public = ECKey.import_key(key.as_pem(private=False))
    token = jwt.decode(secret, public, algorithms=["ES256"])
    assert token.header["alg"] == "ES256" and token.header["kid"] == "KEY1234567"
    at = int(NOW.timestamp())
    assert token.claims == {
        "iss": "TEAM123456",
        "sub": "com.example.web",
        "aud": "https://appleid.apple.com",
        "iat": at,
        "exp": at + 300,
    }


def test_apple_client_secret_needs_a_p256_private_key() -> None:
    p384 = ECKey.generate_key("P-384").as_pem(private=True).decode()
    public = ECKey.generate_key("P-256").as_pem(private=False).decode()
    for pem in ("not a key", p384, public):
        with pytest.raises(PreconditionFailed) as caught:
            apple_client_secret(pem, team_id="T", key_id="K", client_id="c", now=NOW)
        assert caught.value.code == "idp.apple_key_invalid"
        assert "PRIVATE" not in caught.value.message


# --- against the upstream provider ----------------------------------------------------------


@pytest.fixture(scope="module")
def upstream_clients() -> list[dict[str, Any]]:
    return [
        zitui_client("basic", SECRET, ZITUI),
        zitui_client("post", SECRET, ZITUI, auth_method="client_secret_post"),
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


def upstream_idp(
    upstream: Upstream, kind: IdpType = IdpType.OIDC, **settings: Any
) -> IdentityProvider:
    values: dict[str, Any] = {
        "issuer": upstream.issuer,
        "scopes": ("openid", "profile", "email", "phone"),
    }
    values.update(settings)
    return provider(kind, **values)


def sign_in(page: Page, url: str, sub: str = "alice-upstream") -> dict[str, str]:
    """Walk the upstream's pages from `url` as `sub`; what the browser brings back to
    zitui's callback (its query, or its form for form_post)."""
    arrived: list[Request] = []

    def back_at_zitui(route: Route) -> None:
        arrived.append(route.request)
        body = "<!DOCTYPE html><title>Back</title><h1>Back at zitui</h1>"
        route.fulfill(status=200, content_type="text/html", body=body)

    page.route(lambda address: address.startswith(ZITUI + "/"), back_at_zitui)
    page.goto(url)
    sign_in_upstream(page, sub)
    expect(page.get_by_role("heading", name="Back at zitui")).to_be_visible()
    request = arrived[-1]
    if request.method == "POST":
        return dict(parse_qsl(request.post_data or ""))
    return dict(parse_qsl(urlsplit(request.url).query))


def go(client: IdpClient, idp: IdentityProvider, *, nonce: str = NONCE) -> str:
    return run(
        client.authorization_url(
            idp, callbacks=CALLBACKS, state=STATE, nonce=nonce, code_verifier=VERIFIER
        )
    )


def finish(
    client: IdpClient,
    idp: IdentityProvider,
    answer: dict[str, str],
    *,
    secret: str = SECRET,
    **changes: str,
) -> ExternalIdentity:
    values = {"code": answer["code"], "code_verifier": VERIFIER, "nonce": NONCE}
    values["iss"] = answer.get("iss", "")
    values.update(changes)
    return run(client.identity(idp, secret, callbacks=CALLBACKS, **values))


def fails(call: Callable[[], object], kind: type[ZituiError], code: str) -> ZituiError:
    with pytest.raises(kind) as caught:
        call()
    assert caught.value.code == code
    return caught.value


@browser_only
def test_alice_signs_in_with_the_code_flow(upstream: Upstream, page: Page) -> None:
    client = IdpClient(SystemClock())
    idp = upstream_idp(upstream)
    url = go(client, idp)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["nonce"] == NONCE and query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == ZITUI + CALLBACK_PATH
    answer = sign_in(page, url)
    assert answer["state"] == STATE and answer["iss"] == upstream.issuer
    assert finish(client, idp, answer) == ExternalIdentity(
        idp_id=idp.id,
        external_id="alice-upstream",
        username=ALICE["preferred_username"],
        email=ALICE["email"],
        email_verified=True,
        given_name="Alice",
        family_name="Upstream",
        display_name="Alice Upstream",
        language="en",
        phone=ALICE["phone_number"],
        phone_verified=False,
    )


@browser_only
def test_claims_from_the_id_token_alone(upstream: Upstream, page: Page) -> None:
    client = IdpClient(SystemClock())
    idp = upstream_idp(upstream, id_token_mapping=True)
    identity = finish(client, idp, sign_in(page, go(client, idp), "bob-upstream"))
    assert (identity.external_id, identity.email, identity.email_verified) == (
        "bob-upstream",
        "bob@upstream.example",
        False,
    )
    assert identity.display_name == "Bob Upstream" and identity.username == ""


@browser_only
def test_a_code_counts_once(upstream: Upstream, page: Page) -> None:
    client = IdpClient(SystemClock())
    idp = upstream_idp(upstream)
    answer = sign_in(page, go(client, idp))
    assert finish(client, idp, answer).external_id == "alice-upstream"
    error = fails(lambda: finish(client, idp, answer), Unauthenticated, "idp.token_refused")
    assert "invalid_grant" in error.message
    assert answer["code"] not in error.message and SECRET not in error.message


@pytest.mark.parametrize("code", ["", "c" * 4097])
def test_no_usable_code_is_not_sent(upstream: Upstream, code: str) -> None:
    client = IdpClient(SystemClock())
    answer = {"iss": upstream.issuer, "code": code}
    fails(
        lambda: finish(client, upstream_idp(upstream), answer), InvalidArgument, "idp.code_invalid"
    )


@browser_only
def test_a_wrong_secret_or_verifier_is_refused(upstream: Upstream, page: Page) -> None:
    client = IdpClient(SystemClock())
    idp = upstream_idp(upstream)
    answer = sign_in(page, go(client, idp))
    wrong = "not-the-client-secret"
    error = fails(
        lambda: finish(client, idp, answer, secret=wrong), Unauthenticated, "idp.token_refused"
    )
    assert "invalid_client" in error.message and wrong not in error.message
    error = fails(
        lambda: finish(client, idp, answer, code_verifier="w" * 43),
        Unauthenticated,
        "idp.token_refused",
    )
    assert "invalid_grant" in error.message


@browser_only
def test_another_nonce_is_refused(upstream: Upstream, page: Page) -> None:
    client = IdpClient(SystemClock())
    idp = upstream_idp(upstream)
    answer = sign_in(page, go(client, idp, nonce="the-nonce-of-another-flow"))
    fails(lambda: finish(client, idp, answer), Unauthenticated, "idp.nonce_mismatch")


@browser_only
def test_the_answers_issuer_is_checked_before_the_code_is_sent(
    upstream: Upstream, page: Page
) -> None:
    """RFC 9207: the upstream promises `iss`; an answer naming another issuer, or none, is
    refused without spending the code, which still works afterwards."""
    client = IdpClient(SystemClock())
    idp = upstream_idp(upstream)
    answer = sign_in(page, go(client, idp))
    other = f"http://localhost:{upstream.port}"
    fails(lambda: finish(client, idp, answer, iss=other), Unauthenticated, "idp.issuer_mismatch")
    fails(lambda: finish(client, idp, answer, iss=""), Unauthenticated, "idp.issuer_mismatch")
    assert finish(client, idp, answer).external_id == "alice-upstream"


@browser_only
def test_a_client_registered_for_client_secret_post(upstream: Upstream, page: Page) -> None:
    """The upstream offers Basic and post; this client may only use post: refused Basic,
    the request is made once more with the secret in the body."""
    client = IdpClient(SystemClock())
    idp = upstream_idp(upstream, client_id="post")
    assert finish(client, idp, sign_in(page, go(client, idp))).external_id == "alice-upstream"


@browser_only
def test_plain_oauth_reads_the_profile_api(upstream: Upstream, page: Page) -> None:
    client = IdpClient(SystemClock())
    idp = provider(
        IdpType.OAUTH,
        authorization_endpoint=f"{upstream.issuer}/auth",
        token_endpoint=f"{upstream.issuer}/token",
        userinfo_endpoint=upstream.oauth_user_url,
        id_attribute="id",
        scopes=("profile", "email"),
    )
    url = go(client, idp)
    assert "nonce" not in dict(parse_qsl(urlsplit(url).query))
    answer = sign_in(page, url)
    identity = finish(client, idp, answer)
    assert identity.external_id == "alice-upstream"
    assert (identity.email, identity.email_verified) == (ALICE["email"], True)
    assert identity.given_name == "Alice" and identity.language == "en"


@browser_only
def test_plain_oauth_without_the_id_attribute(upstream: Upstream, page: Page) -> None:
    client = IdpClient(SystemClock())
    idp = provider(
        IdpType.OAUTH,
        authorization_endpoint=f"{upstream.issuer}/auth",
        token_endpoint=f"{upstream.issuer}/token",
        userinfo_endpoint=upstream.oauth_user_url,
        id_attribute="account.number",
        scopes=("profile",),
    )
    answer = sign_in(page, go(client, idp))
    fails(lambda: finish(client, idp, answer), Unauthenticated, "idp.subject_missing")


@browser_only
def test_apple_answers_by_form_post(upstream: Upstream, page: Page) -> None:
    """An Apple-kind provider (here the upstream, under Apple's rules) is asked for
    form_post and comes back to the form callback; the token request carries the client
    secret JWT signed with the stored key, which the upstream does not know."""
    client = IdpClient(SystemClock())
    idp = upstream_idp(
        upstream,
        IdpType.APPLE,
        scopes=("openid", "email"),
        extra={"team_id": "TEAM123456", "key_id": "KEY1234567"},
    )
    url = go(client, idp)
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["response_mode"] == "form_post"
    assert query["redirect_uri"] == ZITUI + FORM_CALLBACK_PATH
    answer = sign_in(page, url)
    assert answer["state"] == STATE and answer["code"]
    key = ECKey.generate_key("P-256").as_pem(private=True).decode()
    error = fails(
        lambda: finish(client, idp, answer, secret=key), Unauthenticated, "idp.token_refused"
    )
    assert "invalid_client" in error.message


def test_discovery_naming_another_issuer_is_refused() -> None:
    """The upstream calls itself http://localhost:PORT; a provider configured with
    http://127.0.0.1:PORT reaches it, but must not take its word for another issuer."""
    with start_upstream({}, [], issuer_host="localhost") as other:
        assert other.issuer == f"http://localhost:{other.port}"
        idp = provider(issuer=f"http://127.0.0.1:{other.port}")
        fails(
            lambda: go(IdpClient(SystemClock()), idp), PreconditionFailed, "idp.discovery_invalid"
        )


def test_a_stopped_provider_is_unreachable() -> None:
    client = IdpClient(SystemClock())
    with start_upstream({}, [zitui_client("basic", SECRET, ZITUI)]) as short_lived:
        idp = upstream_idp(short_lived)
        assert go(client, idp).startswith(f"{short_lived.issuer}/auth?")
    answer = {"code": "a-code", "iss": idp.issuer}
    # Discovery is cached; the token endpoint is gone.
    fails(lambda: finish(client, idp, answer), UpstreamUnavailable, "idp.unreachable")
    fails(lambda: go(IdpClient(SystemClock()), idp), UpstreamUnavailable, "idp.unreachable")
