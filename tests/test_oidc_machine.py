"""Machine users: client credentials, the JWT profile grant with ZITADEL's key file, and
personal access tokens, at the token, userinfo and introspection endpoints."""

from __future__ import annotations

import time
from typing import Any

import pytest
from authlib.integrations.httpx_client import (
    AsyncAssertionClient,
    AsyncOAuth2Client,
    OAuthError,
)
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, World
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def project_aud(world: World) -> str:
    return f"openid profile urn:zitadel:iam:org:project:id:{world.project.id}:aud"


async def introspect(harness: Harness, world: World, token: str) -> dict[str, Any]:
    api = world.clients["api"]
    async with AsyncOAuth2Client(
        client_id=api.client_id, client_secret=api.secret, transport=harness.transport
    ) as client:
        response = await client.introspect_token(harness.url(paths.INTROSPECT), token)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_client_credentials_with_the_username(harness: Harness, world: World) -> None:
    async with AsyncOAuth2Client(
        client_id="robot",
        client_secret=world.robot_secret,
        scope=project_aud(world),
        transport=harness.transport,
    ) as client:
        token = await client.fetch_token(harness.url(paths.TOKEN), grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and "id_token" not in token
    assert "refresh_token" not in token
    found = await introspect(harness, world, token["access_token"])
    assert found["active"] is True
    assert world.robot is not None and found["sub"] == world.robot.id
    assert world.project.id in found["aud"]


async def test_client_credentials_with_the_login_name_and_post(
    harness: Harness, world: World
) -> None:
    assert world.robot is not None
    response = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": world.robot.login_name,
            "client_secret": world.robot_secret,
        },
    )
    assert response.status_code == 200, response.text
    assert "@" in world.robot.login_name


async def test_client_credentials_with_a_wrong_secret(harness: Harness, world: World) -> None:
    async with AsyncOAuth2Client(
        client_id="robot", client_secret="wrong", transport=harness.transport
    ) as client:
        with pytest.raises(OAuthError) as raised:
            await client.fetch_token(harness.url(paths.TOKEN), grant_type="client_credentials")
    assert raised.value.error == "invalid_client"


def assertion_client(harness: Harness, key_file: dict[str, str], **kwargs: Any) -> Any:
    return AsyncAssertionClient(
        token_endpoint=harness.url(paths.TOKEN),
        issuer=key_file["userId"],
        subject=key_file["userId"],
        audience=harness.issuer,
        grant_type=JWT_BEARER,
        key=RSAKey.import_key(key_file["key"]),
        header={"alg": "RS256", "kid": key_file["keyId"]},
        transport=harness.transport,
        **kwargs,
    )


async def test_jwt_profile_with_the_machine_key_file(harness: Harness, world: World) -> None:
    assert world.robot_key["type"] == "serviceaccount"
    async with assertion_client(harness, world.robot_key, scope=project_aud(world)) as client:
        response = await client.get(harness.url(paths.USERINFO))
    assert response.status_code == 200
    assert world.robot is not None
    assert response.json()["sub"] == world.robot.id
    assert response.json()["preferred_username"] == world.robot.login_name


def signed_assertion(world: World, **claims: Any) -> str:
    key_file = world.robot_key
    now = int(time.time())
    body = {
        "iss": key_file["userId"],
        "sub": key_file["userId"],
        "aud": "http://127.0.0.1:8080",
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    header = {"alg": "RS256", "kid": key_file["keyId"]}
    return jwt.encode(header, body, RSAKey.import_key(key_file["key"]))


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://elsewhere.example"},
        {"exp": int(time.time()) + 2 * 3600},
        {"exp": int(time.time()) - 120},
        {"sub": "someone-else"},
    ],
    ids=["audience", "lifetime", "expired", "subject"],
)
async def test_jwt_profile_refuses_bad_assertions(
    harness: Harness, world: World, claims: dict[str, Any]
) -> None:
    response = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": JWT_BEARER, "assertion": signed_assertion(world, **claims)},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_jwt_profile_refuses_a_removed_key(harness: Harness, world: World) -> None:
    assert world.robot is not None
    await harness.services.machines.remove_machine_key(
        world.admin, world.robot.id, world.robot_key["keyId"]
    )
    response = await harness.http.post(
        paths.TOKEN, data={"grant_type": JWT_BEARER, "assertion": signed_assertion(world)}
    )
    assert response.json()["error"] == "invalid_grant"


async def test_personal_access_token_at_userinfo_and_introspection(
    harness: Harness, world: World
) -> None:
    response = await harness.http.get(
        paths.USERINFO, headers={"Authorization": f"Bearer {world.robot_pat}"}
    )
    assert response.status_code == 200
    assert world.robot is not None and response.json()["sub"] == world.robot.id
    found = await introspect(harness, world, world.robot_pat)
    assert found["active"] is True and found["sub"] == world.robot.id


async def test_a_deactivated_machine_user_loses_its_tokens(harness: Harness, world: World) -> None:
    assert world.robot is not None
    await harness.services.users.deactivate_user(world.admin, world.robot.id)
    found = await introspect(harness, world, world.robot_pat)
    assert found == {"active": False}
    response = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": "robot",
            "client_secret": world.robot_secret,
        },
    )
    assert response.json()["error"] == "invalid_client"


async def test_introspection_hides_tokens_meant_for_other_projects(
    harness: Harness, world: World
) -> None:
    async with AsyncOAuth2Client(
        client_id="robot",
        client_secret=world.robot_secret,
        scope="openid",  # no project audience
        transport=harness.transport,
    ) as client:
        token = await client.fetch_token(harness.url(paths.TOKEN), grant_type="client_credentials")
    assert await introspect(harness, world, token["access_token"]) == {"active": False}


async def test_introspection_needs_an_authenticated_caller(harness: Harness, world: World) -> None:
    response = await harness.http.post(paths.INTROSPECT, data={"token": world.robot_pat})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    web = world.clients["post"]
    by_post = await harness.http.post(
        paths.INTROSPECT,
        data={"token": world.robot_pat, "client_id": web.client_id, "client_secret": web.secret},
    )
    assert by_post.status_code == 401


async def test_introspection_with_private_key_jwt(harness: Harness, world: World) -> None:
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

    api = world.clients["api_jwt"]
    assert api.key_file is not None and api.key_file["type"] == "application"
    assert api.key_file["clientId"] == api.client_id
    async with AsyncOAuth2Client(
        client_id=api.client_id,
        client_secret=RSAKey.import_key(api.key_file["key"]),
        token_endpoint_auth_method="private_key_jwt",
        transport=harness.transport,
    ) as client:
        client.register_client_auth_method(
            PrivateKeyJWT(harness.issuer, headers={"kid": api.key_file["keyId"]})
        )
        response = await client.introspect_token(
            harness.url(paths.INTROSPECT), world.robot_pat, auth=None
        )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True
