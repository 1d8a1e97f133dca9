"""Discovery (OIDC Discovery 1.0 §3) and the JWKS, as the conformance suite's Config OP plan
and openid-client read them."""

from __future__ import annotations

import pytest

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness
from zitui.core import oidc_config
from zitui.core.oidc import served, tokens
from zitui.server import paths

clock, harness = fx.clock, fx.harness

EXPECTED = {
    "response_types_supported": ["code"],
    "response_modes_supported": ["query", "form_post"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "code_challenge_methods_supported": ["S256"],
    "token_endpoint_auth_methods_supported": [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ],
    "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
    "ui_locales_supported": ["en", "de", "fr"],
    "request_parameter_supported": False,
    "request_uri_parameter_supported": False,
    "claims_parameter_supported": False,
    "authorization_response_iss_parameter_supported": True,
}


async def test_discovery_names_every_endpoint_under_the_issuer(harness: Harness) -> None:
    response = await harness.http.get(paths.DISCOVERY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    issuer = harness.issuer
    assert document["issuer"] == issuer == "http://127.0.0.1:8080"
    assert document["authorization_endpoint"] == issuer + "/oauth/v2/authorize"
    assert document["token_endpoint"] == issuer + "/oauth/v2/token"
    assert document["introspection_endpoint"] == issuer + "/oauth/v2/introspect"
    assert document["revocation_endpoint"] == issuer + "/oauth/v2/revoke"
    assert document["userinfo_endpoint"] == issuer + "/oidc/v1/userinfo"
    assert document["end_session_endpoint"] == issuer + "/oidc/v1/end_session"
    assert document["jwks_uri"] == issuer + "/oauth/v2/keys"
    for name, value in EXPECTED.items():
        assert document[name] == value, name


async def test_discovery_lists_grants_scopes_and_claims(harness: Harness) -> None:
    document = (await harness.http.get(paths.DISCOVERY)).json()
    assert document["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ]
    scopes = document["scopes_supported"]
    assert {"openid", "profile", "email", "phone", "offline_access"} <= set(scopes)
    assert all(" " not in s and '"' not in s and "\\" not in s for s in scopes)
    claims = document["claims_supported"]
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email"} <= set(claims)
    assert "urn:zitadel:iam:org:project:roles" in claims
    assert set(document["revocation_endpoint_auth_methods_supported"]) == set(
        EXPECTED["token_endpoint_auth_methods_supported"]
    )


async def test_jwks_holds_public_keys_with_unique_kids(harness: Harness) -> None:
    response = await harness.http.get(paths.KEYS)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert len(keys) >= 2  # the current key and the next one, published ahead
    kids = [key["kid"] for key in keys]
    assert len(set(kids)) == len(kids)
    for key in keys:
        assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)


async def test_cors_preflight_is_answered(harness: Harness) -> None:
    response = await harness.http.options(
        paths.TOKEN,
        headers={"Origin": "https://spa.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]


# ZITADEL's flows that zitui does not serve, as an app would name them and as the endpoints
# would receive them.
UNSERVED_GRANTS = [
    "implicit",
    "device_code",
    "token_exchange",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
]


async def test_apps_are_offered_exactly_what_is_served(harness: Harness) -> None:
    document = (await harness.http.get(paths.DISCOVERY)).json()
    assert document["response_types_supported"] == list(oidc_config.RESPONSE_TYPES) == ["code"]
    assert tuple(document["grant_types_supported"]) == served.GRANT_TYPES == tokens.GRANT_TYPES
    assert oidc_config.GRANT_TYPES == ("authorization_code", "refresh_token")
    assert set(oidc_config.GRANT_TYPES) <= set(document["grant_types_supported"])
    assert not set(UNSERVED_GRANTS) & set(document["grant_types_supported"])


@pytest.mark.parametrize("grant_type", UNSERVED_GRANTS)
async def test_the_token_endpoint_refuses_what_is_not_served(
    harness: Harness, grant_type: str
) -> None:
    response = await harness.http.post(paths.TOKEN, data={"grant_type": grant_type})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
