"""The token endpoint's rules: single-use codes, client authentication, refresh rotation and
expiry, JWT access tokens, revocation, and RFC 6749 §5.2 error responses."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import quote

import httpx2

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Client, Harness, World
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world


def basic(client: Client, secret: str | None = None) -> dict[str, str]:
    """RFC 6749 §2.3.1: each half form-urlencoded, then base64."""
    raw = f"{quote(client.client_id, safe='')}:{quote(secret or client.secret or '', safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


async def redeem(harness: Harness, client: Client, code: str, **extra: str) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": fx.WEB_CALLBACK}
    return await harness.http.post(paths.TOKEN, data={**data, **extra}, headers=basic(client))


def assert_oauth_error(response: httpx2.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.json()["error"] == error


async def userinfo_status(harness: Harness, access_token: str) -> int:
    response = await harness.http.get(
        paths.USERINFO, headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


async def test_token_response_is_not_cached(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    response = await redeem(harness, client, result["code"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile email"
    assert len(body["access_token"]) >= 43


async def test_a_reused_code_fails_and_revokes_what_it_issued(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice, scope="openid offline_access")
    first = (await redeem(harness, client, result["code"])).json()
    assert await userinfo_status(harness, first["access_token"]) == 200
    assert_oauth_error(await redeem(harness, client, result["code"]), "invalid_grant")
    assert await userinfo_status(harness, first["access_token"]) == 401
    refresh = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic(client),
    )
    assert_oauth_error(refresh, "invalid_grant")


async def test_codes_expire_after_ten_minutes(
    harness: Harness, world: World, clock: fx.OffsetClock
) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    clock.advance(timedelta(minutes=10, seconds=1))
    assert_oauth_error(await redeem(harness, client, result["code"]), "invalid_grant")


async def test_a_code_only_works_for_its_client_and_redirect_uri(
    harness: Harness, world: World
) -> None:
    result = await harness.code_flow(world.clients["basic"], world.alice)
    other = world.clients["post"]
    stolen = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": fx.WEB_CALLBACK,
            "client_id": other.client_id,
            "client_secret": other.secret or "",
        },
    )
    assert_oauth_error(stolen, "invalid_grant")
    result = await harness.code_flow(world.clients["basic"], world.alice)
    moved = await redeem(
        harness, world.clients["basic"], result["code"], redirect_uri=fx.WEB_CALLBACK + "?x=1"
    )
    assert_oauth_error(moved, "invalid_grant")


async def test_failed_basic_authentication_is_401_with_a_challenge(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    response = await redeem(harness, Client(client.app, "wrong"), result["code"])
    assert_oauth_error(response, "invalid_client", 401)
    assert response.headers["www-authenticate"] == 'Basic realm="zitui"'
    # The code survives a failed authentication: the right client can still redeem it.
    assert (await redeem(harness, client, result["code"])).status_code == 200


async def test_failed_post_authentication_is_401_without_basic_challenge(
    harness: Harness, world: World
) -> None:
    client = world.clients["post"]
    result = await harness.code_flow(client, world.alice)
    response = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "client_id": client.client_id,
            "client_secret": "wrong",
        },
    )
    assert_oauth_error(response, "invalid_client", 401)
    assert "www-authenticate" not in response.headers


async def test_basic_credentials_are_url_decoded(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    # The client id contains "@", which RFC 6749 §2.3.1 encoding turns into %40.
    assert "%40" in base64.b64decode(basic(client)["Authorization"][6:]).decode()
    assert (await redeem(harness, client, result["code"])).status_code == 200


async def test_grant_type_errors(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    missing = await harness.http.post(paths.TOKEN, data={}, headers=basic(client))
    assert_oauth_error(missing, "invalid_request")
    unknown = await harness.http.post(
        paths.TOKEN, data={"grant_type": "password"}, headers=basic(client)
    )
    assert_oauth_error(unknown, "unsupported_grant_type")
    api = world.clients["api"]
    not_allowed = await harness.http.post(
        paths.TOKEN, data={"grant_type": "authorization_code", "code": "x"}, headers=basic(api)
    )
    assert_oauth_error(not_allowed, "unauthorized_client")


async def test_malformed_form_bodies_are_invalid_requests(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    form = {**basic(client), "Content-Type": "application/x-www-form-urlencoded"}
    twice = await harness.http.post(
        paths.TOKEN, content=b"grant_type=authorization_code&code=a&code=b", headers=form
    )
    assert_oauth_error(twice, "invalid_request")
    assert "code is given more than once" in twice.json()["error_description"]
    not_utf8 = await harness.http.post(paths.TOKEN, content=b"grant_type=\xff\xfe", headers=form)
    assert_oauth_error(not_utf8, "invalid_request")
    # A multipart body still works, through the general form parser.
    multipart = await harness.http.post(
        paths.TOKEN, files={"grant_type": (None, "password")}, headers=basic(client)
    )
    assert_oauth_error(multipart, "unsupported_grant_type")


async def test_two_authentication_methods_at_once_are_refused(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    response = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "authorization_code", "code": "x", "client_secret": "y"},
        headers=basic(client),
    )
    assert_oauth_error(response, "invalid_request")


async def test_refresh_tokens_are_bound_to_their_client(harness: Harness, world: World) -> None:
    result = await harness.code_flow(
        world.clients["basic"], world.alice, scope="openid offline_access"
    )
    tokens = (await redeem(harness, world.clients["basic"], result["code"])).json()
    other = world.clients["post"]
    response = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": other.client_id,
            "client_secret": other.secret or "",
        },
    )
    assert_oauth_error(response, "invalid_grant")


async def refreshed(harness: Harness, client: Client, token: str, **extra: str) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    return await harness.http.post(paths.TOKEN, data=data, headers=basic(client))


async def test_refresh_idle_and_absolute_expiry(
    harness: Harness, world: World, clock: fx.OffsetClock
) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice, scope="openid offline_access")
    token = (await redeem(harness, client, result["code"])).json()["refresh_token"]
    # Used every 29 days, the family lives until its absolute expiry (90 days).
    for _ in range(3):
        clock.advance(timedelta(days=29))
        response = await refreshed(harness, client, token)
        assert response.status_code == 200, response.text
        token = response.json()["refresh_token"]
    clock.advance(timedelta(days=4))  # day 91
    assert_oauth_error(await refreshed(harness, client, token), "invalid_grant")

    result = await harness.code_flow(client, world.alice, scope="openid offline_access")
    idle = (await redeem(harness, client, result["code"])).json()["refresh_token"]
    clock.advance(timedelta(days=30, seconds=1))
    assert_oauth_error(await refreshed(harness, client, idle), "invalid_grant")


async def test_a_refresh_may_narrow_the_scope_but_not_widen_it(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice, scope="openid email offline_access")
    token = (await redeem(harness, client, result["code"])).json()["refresh_token"]
    wider = await refreshed(harness, client, token, scope="openid email phone offline_access")
    assert_oauth_error(wider, "invalid_scope")
    narrower = await refreshed(harness, client, token, scope="openid offline_access")
    assert narrower.status_code == 200
    assert narrower.json()["scope"] == "openid offline_access"


async def test_public_clients_refresh_with_their_client_id(harness: Harness, world: World) -> None:
    client = world.clients["spa"]
    pkce = fx.Pkce()
    result = await harness.code_flow(client, world.alice, scope="openid offline_access", pkce=pkce)
    first = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": result["code"],
            "redirect_uri": fx.SPA_CALLBACK,
            "client_id": client.client_id,
            "code_verifier": pkce.verifier,
        },
    )
    assert first.status_code == 200, first.text
    second = await harness.http.post(
        paths.TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
            "client_id": client.client_id,
        },
    )
    assert second.status_code == 200


async def test_jwt_access_tokens_for_apps_that_want_them(harness: Harness, world: World) -> None:
    from zitui.core.apps import OidcConfigChange
    from zitui.records import TokenType

    client = world.clients["basic"]
    await harness.services.apps.update_oidc_config(
        world.admin,
        client.app.id,
        OidcConfigChange(access_token_type=TokenType.JWT, access_token_role_assertion=True),
    )
    result = await harness.code_flow(client, world.alice)
    body = (await redeem(harness, client, result["code"])).json()
    claims = await harness.verify(
        body["access_token"], iss=harness.issuer, sub=world.alice.id, client_id=client.client_id
    )
    assert claims["jti"] and claims["scope"] == "openid profile email"
    assert claims["urn:zitadel:iam:org:project:roles"] == {
        "reader": {world.org_id: world.alice.login_name.split("@")[1]}
    }
    assert await userinfo_status(harness, body["access_token"]) == 200
    revoke = await harness.http.post(
        paths.REVOKE, data={"token": body["access_token"]}, headers=basic(client)
    )
    assert revoke.status_code == 200
    assert await userinfo_status(harness, body["access_token"]) == 401


async def test_revoking_a_refresh_token_ends_its_family(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice, scope="openid offline_access")
    body = (await redeem(harness, client, result["code"])).json()
    response = await harness.http.post(
        paths.REVOKE,
        data={"token": body["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic(client),
    )
    assert response.status_code == 200
    assert_oauth_error(await refreshed(harness, client, body["refresh_token"]), "invalid_grant")
    assert await userinfo_status(harness, body["access_token"]) == 401


async def test_revocation_ignores_unknown_and_foreign_tokens(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    body = (await redeem(harness, client, result["code"])).json()
    other = world.clients["post"]
    for token in ("no-such-token", body["access_token"]):
        response = await harness.http.post(
            paths.REVOKE,
            data={"token": token, "client_id": other.client_id, "client_secret": other.secret},
        )
        assert response.status_code == 200
    assert await userinfo_status(harness, body["access_token"]) == 200
    refused = await harness.http.post(
        paths.REVOKE, data={"token": "x"}, headers=basic(Client(client.app, "wrong"))
    )
    assert_oauth_error(refused, "invalid_client", 401)


async def test_userinfo_accepts_post_and_a_form_token(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    token = (await redeem(harness, client, result["code"])).json()["access_token"]
    by_header = await harness.http.post(
        paths.USERINFO, headers={"Authorization": f"Bearer {token}"}
    )
    by_body = await harness.http.post(paths.USERINFO, data={"access_token": token})
    assert by_header.json() == by_body.json()
    assert by_header.json()["sub"] == world.alice.id
    both = await harness.http.post(
        paths.USERINFO, data={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    assert_oauth_error(both, "invalid_request")
    none = await harness.http.get(paths.USERINFO)
    assert none.status_code == 401
    assert none.headers["www-authenticate"] == 'Bearer realm="zitui"'
