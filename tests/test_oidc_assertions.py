"""JWTs from clients (RFC 7523 assertions, bearer tokens, ID token hints) and numbers from
clients: each malformed value gets the specification's error, never a server error, and
assertions follow RFC 7523 §3 (finite `exp`, `aud` this server, one hour at most, a `jti`
used once)."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, OffsetClock, World
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "http://127.0.0.1:8080"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_jwt(
    header: bytes | dict[str, Any] | list[Any] | str, claims: bytes | dict[str, Any], key_pem: str
) -> str:
    """A compact JWS over exactly these bytes, RS256-signed with `key_pem` (no library checks
    what goes in, so malformed headers and claims can be signed)."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{b64(head)}.{b64(body)}".encode()
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64(signature)}"


def claims_for(subject: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": subject,
        "sub": subject,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def grant_assertion(
    world: World, *, header: Any = None, claims: Any = None, **overrides: Any
) -> str:
    """A JWT-bearer grant assertion with the robot's key file (ZITADEL's JWT profile)."""
    key_file = world.robot_key
    header = header if header is not None else {"alg": "RS256", "kid": key_file["keyId"]}
    body = claims if claims is not None else claims_for(key_file["userId"], **overrides)
    return raw_jwt(header, body, key_file["key"])


def client_assertion(
    world: World,
    *,
    header: Any = None,
    claims: Any = None,
    client: str = "api_jwt",
    **overrides: Any,
) -> str:
    """A `private_key_jwt` client assertion with the application's key file."""
    key_file = world.clients[client].key_file
    assert key_file is not None
    header = header if header is not None else {"alg": "RS256", "kid": key_file["keyId"]}
    body = claims if claims is not None else claims_for(key_file["clientId"], **overrides)
    return raw_jwt(header, body, key_file["key"])


async def jwt_grant(harness: Harness, assertion: str) -> Any:
    return await harness.http.post(
        paths.TOKEN, data={"grant_type": JWT_BEARER, "assertion": assertion}
    )


async def introspect_as_api(harness: Harness, world: World, assertion: str, token: str = "") -> Any:
    return await harness.http.post(
        paths.INTROSPECT,
        data={
            "token": token or world.robot_pat,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


def assert_refused_client(response: Any, case: object = "") -> None:
    assert response.status_code == 401, (case, response.text)
    assert response.json()["error"] == "invalid_client", case


def assert_refused_grant(response: Any, case: object = "") -> None:
    assert response.status_code == 400, (case, response.text)
    assert response.json()["error"] == "invalid_grant", case


# -- malformed JWT headers ----------------------------------------------------------------

MALFORMED_HEADERS: dict[str, Any] = {
    "a list": ["alg", "kid"],
    "a string": "alg",
    "crit a number": {"alg": "RS256", "kid": "K", "crit": 1},
    "crit null": {"alg": "RS256", "kid": "K", "crit": None},
    "crit of numbers": {"alg": "RS256", "kid": "K", "crit": [1]},
    "crit of lists": {"alg": "RS256", "kid": "K", "crit": [["exp"]]},
}


def malformed_headers(kid: str) -> dict[str, Any]:
    return {
        name: {**header, "kid": kid} if isinstance(header, dict) else header
        for name, header in MALFORMED_HEADERS.items()
    }


async def test_a_client_assertion_with_a_malformed_header_is_invalid_client(
    harness: Harness, world: World
) -> None:
    key_file = world.clients["api_jwt"].key_file
    assert key_file is not None
    for name, header in malformed_headers(key_file["keyId"]).items():
        response = await introspect_as_api(harness, world, client_assertion(world, header=header))
        assert_refused_client(response, name)


async def test_a_grant_assertion_with_a_malformed_header_is_invalid_grant(
    harness: Harness, world: World
) -> None:
    for name, header in malformed_headers(world.robot_key["keyId"]).items():
        assertion = grant_assertion(world, header=header)
        assert_refused_grant(await jwt_grant(harness, assertion), name)


async def test_a_grant_assertion_nested_too_deep_is_invalid_grant(
    harness: Harness, world: World
) -> None:
    claims = b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}"
    assert_refused_grant(await jwt_grant(harness, grant_assertion(world, claims=claims)))


def malformed_tokens(world: World) -> dict[str, str]:
    """JWTs with each malformed header, signed (the signature is not what is wrong)."""
    return {
        name: raw_jwt(header, {"sub": "x"}, world.robot_key["key"])
        for name, header in malformed_headers("k").items()
    }


async def test_a_malformed_bearer_jwt_is_an_invalid_token(harness: Harness, world: World) -> None:
    api = world.clients["api"]
    for name, token in malformed_tokens(world).items():
        response = await harness.http.get(
            paths.USERINFO, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, name
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        found = await harness.http.post(
            paths.INTROSPECT, data={"token": token}, auth=(api.client_id, api.secret or "")
        )
        assert found.json() == {"active": False}, name
        revoked = await harness.http.post(
            paths.REVOKE, data={"token": token}, auth=(api.client_id, api.secret or "")
        )
        assert revoked.status_code == 200, name


async def test_a_malformed_id_token_hint_is_login_required_at_authorize(
    harness: Harness, world: World
) -> None:
    for name, hint in malformed_tokens(world).items():
        params = {**fx.authorize_params(world.clients["basic"]), "id_token_hint": hint}
        response = await harness.authorize(params)
        assert response.status_code == 302, (name, response.text)
        assert fx.query_of(response.headers["location"])["error"] == "login_required", name


async def test_a_malformed_id_token_hint_is_not_honoured_at_end_session(
    harness: Harness, world: World
) -> None:
    for name, hint in malformed_tokens(world).items():
        params = {"id_token_hint": hint, "post_logout_redirect_uri": fx.LOGGED_OUT}
        get = await harness.browser("GET", paths.END_SESSION, params=params)
        post = await harness.browser("POST", paths.END_SESSION, data=params)
        for response in (get, post):
            assert response.status_code < 500, (name, response.text)
            assert not response.headers.get("location", "").startswith(fx.LOGGED_OUT), name


# -- numbers from clients -----------------------------------------------------------------


async def test_max_age_must_be_ascii_digits(harness: Harness, world: World) -> None:
    for max_age in ["²", "٣", "１０", "3.5", "-1", "1e3", " 10", "99999999999"]:
        params = {**fx.authorize_params(world.clients["basic"]), "max_age": max_age}
        response = await harness.authorize(params)
        assert response.status_code == 302, (max_age, response.text)
        found = fx.query_of(response.headers["location"])
        assert found["error"] == "invalid_request", (max_age, found)


NOT_NUMERIC_DATES = {
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "1e999": b"1e999",
    "huge integer": b"1" + b"0" * 400,
    "string": b'"4102444800"',
    "boolean": b"true",
    "null": b"null",
}


def claims_bytes(subject: str, exp: bytes, **overrides: Any) -> bytes:
    """Claims with `exp` spelled exactly as given (JSON that json.dumps would not write)."""
    claims = claims_for(subject, exp=None, **overrides)
    return json.dumps(claims).encode()[:-1] + b', "exp": ' + exp + b"}"


async def test_a_client_assertion_needs_a_finite_exp(harness: Harness, world: World) -> None:
    key_file = world.clients["api_jwt"].key_file
    assert key_file is not None
    for name, exp in NOT_NUMERIC_DATES.items():
        claims = claims_bytes(key_file["clientId"], exp)
        response = await introspect_as_api(harness, world, client_assertion(world, claims=claims))
        assert_refused_client(response, name)


async def test_a_grant_assertion_needs_a_finite_exp(harness: Harness, world: World) -> None:
    for name, exp in NOT_NUMERIC_DATES.items():
        claims = claims_bytes(world.robot_key["userId"], exp)
        assertion = grant_assertion(world, claims=claims)
        assert_refused_grant(await jwt_grant(harness, assertion), name)


async def test_iat_and_nbf_must_be_numeric_dates(harness: Harness, world: World) -> None:
    subject = world.robot_key["userId"]
    for name in ("iat", "nbf"):
        for value in (b"NaN", b"1" + b"0" * 400, b'"0"', b"null"):
            claims = claims_for(subject, **{name: None})
            body = json.dumps(claims).encode()[:-1] + f', "{name}": '.encode() + value + b"}"
            assertion = grant_assertion(world, claims=body)
            assert_refused_grant(await jwt_grant(harness, assertion), (name, value[:10]))


# -- RFC 7523 §3: audience ----------------------------------------------------------------


NOT_THIS_SERVER_ALONE: dict[str, Any] = {
    "two, issuer first": [ISSUER, "https://other.example"],
    "two, issuer last": ["https://other.example", ISSUER],
    "issuer twice": [ISSUER, ISSUER],
    "empty": [],
    "nested": [[ISSUER]],
    "object": {"iss": ISSUER},
    "issuer with a slash": ISSUER + "/",
    "missing": None,
}


async def test_assertions_must_name_this_server_alone(harness: Harness, world: World) -> None:
    for name, aud in NOT_THIS_SERVER_ALONE.items():
        assert_refused_grant(await jwt_grant(harness, grant_assertion(world, aud=aud)), name)
        assertion = client_assertion(world, aud=aud)
        assert_refused_client(await introspect_as_api(harness, world, assertion), name)


async def test_the_issuer_as_a_string_or_a_one_element_array(
    harness: Harness, world: World
) -> None:
    for aud in (ISSUER, [ISSUER]):
        response = await jwt_grant(harness, grant_assertion(world, aud=aud))
        assert response.status_code == 200, (aud, response.text)
        response = await introspect_as_api(harness, world, client_assertion(world, aud=aud))
        assert response.status_code == 200, (aud, response.text)


async def test_a_client_may_name_the_endpoint_it_calls(harness: Harness, world: World) -> None:
    assertion = client_assertion(world, aud=ISSUER + paths.INTROSPECT)
    response = await introspect_as_api(harness, world, assertion)
    assert response.status_code == 200, response.text
    assertion = client_assertion(world, aud=[ISSUER + paths.TOKEN])
    assert_refused_client(await introspect_as_api(harness, world, assertion))


# -- RFC 7523 §3 and ZITADEL: at most one hour ---------------------------------------------


async def test_an_assertion_lives_at_most_one_hour_from_iat(harness: Harness, world: World) -> None:
    now = int(time.time())
    long_lived = {"iat": now - 3000, "exp": now + 1200}  # 70 minutes, 20 of them left
    assert_refused_grant(await jwt_grant(harness, grant_assertion(world, **long_lived)))
    assert_refused_client(
        await introspect_as_api(harness, world, client_assertion(world, **long_lived))
    )
    hour = {"iat": now - 1200, "exp": now + 2400}
    assert (await jwt_grant(harness, grant_assertion(world, **hour))).status_code == 200


async def test_without_iat_an_assertion_ends_within_the_hour(
    harness: Harness, world: World
) -> None:
    now = int(time.time())
    too_far = {"iat": None, "exp": now + 3600 + 120}
    assert_refused_grant(await jwt_grant(harness, grant_assertion(world, **too_far)))
    within = {"iat": None, "exp": now + 3500}
    assert (await jwt_grant(harness, grant_assertion(world, **within))).status_code == 200


# -- RFC 7523 §3 item 7: a jti is used once ------------------------------------------------


async def test_a_grant_assertion_with_a_jti_is_used_once(harness: Harness, world: World) -> None:
    assertion = grant_assertion(world, jti="grant-1")
    assert (await jwt_grant(harness, assertion)).status_code == 200
    assert_refused_grant(await jwt_grant(harness, assertion))
    # a new assertion that repeats the jti is the same replay
    assert_refused_grant(
        await jwt_grant(harness, grant_assertion(world, jti="grant-1", exp=int(time.time()) + 900))
    )
    assert (await jwt_grant(harness, grant_assertion(world, jti="grant-2"))).status_code == 200


async def test_a_client_assertion_with_a_jti_is_used_once(harness: Harness, world: World) -> None:
    assertion = client_assertion(world, jti="client-1")
    assert (await introspect_as_api(harness, world, assertion)).status_code == 200
    assert_refused_client(await introspect_as_api(harness, world, assertion))
    revoke = {
        "token": "unknown",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(world, jti="client-2"),
    }
    assert (await harness.http.post(paths.REVOKE, data=revoke)).status_code == 200
    response = await harness.http.post(paths.REVOKE, data=revoke)
    assert_refused_client(response)


async def test_a_client_assertion_is_used_once_at_the_token_endpoint(
    harness: Harness, world: World
) -> None:
    client = world.clients["jwt"]
    assertion = client_assertion(world, client="jwt", jti="code-1")
    statuses = []
    for _ in range(2):
        result = await harness.code_flow(client, world.alice)
        response = await harness.http.post(
            paths.TOKEN,
            data={
                "grant_type": "authorization_code",
                "code": result["code"],
                "redirect_uri": fx.WEB_CALLBACK,
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": assertion,
            },
        )
        statuses.append((response.status_code, response.json().get("error")))
    assert statuses == [(200, None), (401, "invalid_client")]


async def test_the_same_jti_from_two_issuers_is_two_assertions(
    harness: Harness, world: World
) -> None:
    assertion = client_assertion(world, jti="shared")
    assert (await introspect_as_api(harness, world, assertion)).status_code == 200
    assert (await jwt_grant(harness, grant_assertion(world, jti="shared"))).status_code == 200


async def test_a_jti_may_return_once_its_assertion_has_expired(
    harness: Harness, world: World, clock: OffsetClock
) -> None:
    assert (await jwt_grant(harness, grant_assertion(world, jti="again"))).status_code == 200
    clock.advance(timedelta(minutes=15))
    later = int(time.time()) + 15 * 60
    again = grant_assertion(world, jti="again", iat=later, exp=later + 600)
    assert (await jwt_grant(harness, again)).status_code == 200


async def test_assertions_without_jti_are_accepted_again(harness: Harness, world: World) -> None:
    """ZITADEL's key-file assertions carry no jti; the one-hour limit bounds their reuse."""
    assertion = grant_assertion(world)
    assert (await jwt_grant(harness, assertion)).status_code == 200
    assert (await jwt_grant(harness, assertion)).status_code == 200


async def test_a_jti_must_be_a_non_empty_string(harness: Harness, world: World) -> None:
    for jti in (1, "", ["a"], None):
        body = {**claims_for(world.robot_key["userId"]), "jti": jti}
        assertion = grant_assertion(world, claims=body)
        assert_refused_grant(await jwt_grant(harness, assertion), jti)
