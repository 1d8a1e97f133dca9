"""The account API under /auth/v1: bearer authentication, errors, and every route on the token's
own user, through the app in-process with tokens from a real code flow."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from tests import oidc_fixtures as fx
from tests.api_fixtures import api_tokens, basic, bearer
from tests.oidc_fixtures import Harness, World
from zitui.server import paths
from zitui.server.api.operations import Operation
from zitui.server.api.routes import OPERATIONS, PREFIX

clock, harness, world = fx.clock, fx.harness, fx.world
ME = f"{PREFIX}/users/me"


def concrete(operation: Operation) -> str:
    return re.sub(r"\{[^}]+\}", "some-id", operation.path)


async def call(
    harness: Harness, method: str, path: str, token: str | None = None, **kwargs: Any
) -> Any:
    headers = bearer(token) if token else {}
    return await harness.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture
async def alice_token(harness: Harness, world: World) -> str:
    return (await api_tokens(harness, world.clients["basic"], world.alice))["access_token"]


def assert_unauthenticated(response: Any, code: str, challenge: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["code"] == code


INVALID = 'Bearer realm="zitui", error="invalid_token"'


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: f"{o.method} {o.path}")
async def test_every_route_wants_a_token(harness: Harness, operation: Operation) -> None:
    response = await call(harness, operation.method, concrete(operation), json={})
    assert_unauthenticated(response, "api.token_missing", 'Bearer realm="zitui"')
    assert response.json()["kind"] == "unauthenticated"


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: f"{o.method} {o.path}")
async def test_every_route_refuses_an_unknown_token(harness: Harness, operation: Operation) -> None:
    response = await call(harness, operation.method, concrete(operation), "not-a-token", json={})
    assert_unauthenticated(response, "api.token_invalid", INVALID)


async def test_a_forged_jwt_and_other_schemes_are_refused(harness: Harness) -> None:
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"
    assert_unauthenticated(await call(harness, "GET", ME, forged), "api.token_invalid", INVALID)
    basic_auth = await harness.http.get(ME, headers={"Authorization": "Basic YTpi"})
    assert_unauthenticated(basic_auth, "api.token_missing", 'Bearer realm="zitui"')


async def test_a_token_without_the_api_audience_is_refused(harness: Harness, world: World) -> None:
    tokens = await api_tokens(
        harness, world.clients["basic"], world.alice, scope="openid profile email"
    )
    userinfo = await call(harness, "GET", paths.USERINFO, tokens["access_token"])
    assert userinfo.status_code == 200  # live, only not meant for this API
    response = await call(
        harness, "GET", f"{PREFIX}/policies/passwords/complexity", tokens["access_token"]
    )
    assert_unauthenticated(response, "api.token_audience", INVALID)


async def test_an_expired_token_is_refused(
    harness: Harness, world: World, clock: fx.OffsetClock, alice_token: str
) -> None:
    path = f"{PREFIX}/policies/passwords/complexity"
    assert (await call(harness, "GET", path, alice_token)).status_code == 200
    clock.advance(timedelta(hours=12, seconds=1))
    assert_unauthenticated(
        await call(harness, "GET", path, alice_token), "api.token_invalid", INVALID
    )


async def test_a_revoked_token_is_refused(harness: Harness, world: World, alice_token: str) -> None:
    path = f"{PREFIX}/policies/passwords/complexity"
    assert (await call(harness, "GET", path, alice_token)).status_code == 200
    revoke = await harness.http.post(
        paths.REVOKE, data={"token": alice_token}, headers=basic(world.clients["basic"])
    )
    assert revoke.status_code == 200
    assert_unauthenticated(
        await call(harness, "GET", path, alice_token), "api.token_invalid", INVALID
    )


async def test_a_jwt_access_token_with_the_api_audience_is_accepted(
    harness: Harness, world: World
) -> None:
    from zitui.core.apps import OidcConfigChange
    from zitui.records import TokenType

    client = world.clients["basic"]
    await harness.services.apps.update_oidc_config(
        world.admin, client.app.id, OidcConfigChange(access_token_type=TokenType.JWT)
    )
    token = (await api_tokens(harness, client, world.alice))["access_token"]
    claims = await harness.verify(token)
    assert harness.issuer in claims["aud"]
    response = await call(harness, "GET", f"{PREFIX}/policies/passwords/complexity", token)
    assert response.status_code == 200, response.text


async def test_the_password_rules_of_the_users_organisation(
    harness: Harness, world: World, alice_token: str
) -> None:
    await harness.services.policies.set(
        world.admin, "password_complexity", {"min_length": 12, "has_symbol": False}, world.org_id
    )
    response = await call(harness, "GET", f"{PREFIX}/policies/passwords/complexity", alice_token)
    assert response.status_code == 200, response.text
    policy = response.json()["policy"]
    assert (policy["minLength"], policy["hasSymbol"], policy["hasUppercase"]) == (12, False, True)
    assert policy["details"]["resourceOwner"] == world.org_id


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "field"),
    [
        ("PUT", f"{ME}/profile", {"gender": "GENDER_ROBOT"}, "api.field_invalid", "gender"),
        ("PUT", f"{ME}/profile", {"surname": "x"}, "api.unknown_field", "surname"),
        ("PUT", f"{ME}/profile", {"firstName": 3}, "api.field_invalid", "firstName"),
        ("PUT", f"{ME}/profile", {"firstName": "a" * 201}, "api.field_invalid", "firstName"),
        ("PUT", f"{ME}/email", {}, "api.field_missing", "email"),
        ("PUT", f"{ME}/password", {"oldPassword": "x"}, "api.field_missing", "newPassword"),
        (
            "POST",
            f"{ME}/auth_factors/u2f/_verify",
            {"verification": {"publicKeyCredential": []}},
            "api.field_invalid",
            "verification.publicKeyCredential",
        ),
        ("POST", f"{ME}/email/_verify", [], "api.not_object", None),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    harness: Harness,
    alice_token: str,
    method: str,
    path: str,
    body: Any,
    code: str,
    field: str | None,
) -> None:
    response = await call(harness, method, path, alice_token, json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert (error["kind"], error["code"], error.get("field")) == ("invalid_argument", code, field)
    assert error["message"]


async def test_a_body_that_is_not_json_is_a_400(harness: Harness, alice_token: str) -> None:
    headers = {**bearer(alice_token), "content-type": "application/json"}
    response = await harness.http.put(f"{ME}/profile", content=b"{firstName: 'x'", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "api.invalid_json"


async def test_unknown_api_paths_answer_json(harness: Harness, alice_token: str) -> None:
    response = await call(harness, "GET", f"{PREFIX}/users/someone-else", alice_token)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    wrong_method = await call(harness, "PATCH", f"{ME}/profile", alice_token)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/json"


async def test_browsers_may_call_the_api_from_other_origins(
    harness: Harness, alice_token: str
) -> None:
    origin = {"Origin": "https://spa.example"}
    asked = await harness.http.options(
        f"{ME}/profile",
        headers={**origin, "Access-Control-Request-Method": "PUT"},
    )
    assert asked.status_code == 204
    assert asked.headers["access-control-allow-origin"] == "*"
    assert "PUT" in asked.headers["access-control-allow-methods"]
    assert "Authorization" in asked.headers["access-control-allow-headers"]
    answer = await harness.http.get(ME, headers={**bearer(alice_token), **origin})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in answer.headers
