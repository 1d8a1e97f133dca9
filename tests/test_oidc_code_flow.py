"""The authorization code flow end to end, driven by authlib's OAuth 2.0 client (httpx2):
authorize → sign-in → callback → token → userinfo → refresh → introspection → revocation →
end_session, for confidential clients (basic, post, private_key_jwt) and a public one (PKCE)."""

from __future__ import annotations

from typing import Any

import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Client, Harness, Pkce, World
from zitui.core.oidc.issuance import at_hash
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world


def oauth_client(harness: Harness, client: Client, **kwargs: Any) -> AsyncOAuth2Client:
    """authlib's client for `client`, talking to the app in-process."""
    method = {
        "basic": "client_secret_basic",
        "post": "client_secret_post",
        "private_key_jwt": "private_key_jwt",
        "none": "none",
    }[client.app.auth_method.value]
    secret: Any = client.secret
    if method == "private_key_jwt":
        assert client.key_file is not None
        secret = RSAKey.import_key(client.key_file["key"])
    oauth = AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=secret,
        token_endpoint_auth_method=method,
        transport=harness.transport,
        **kwargs,
    )
    if method == "private_key_jwt":
        assert client.key_file is not None
        oauth.register_client_auth_method(
            PrivateKeyJWT(harness.url(paths.TOKEN), headers={"kid": client.key_file["keyId"]})
        )
    return oauth


async def sign_in_with(
    harness: Harness, oauth: AsyncOAuth2Client, world: World, *, scope: str, pkce: bool
) -> tuple[str, str, Pkce | None]:
    """Drive the browser part; returns the callback URL the client receives."""
    verifier = Pkce() if pkce else None
    url, state = oauth.create_authorization_url(
        harness.url(paths.AUTHORIZE),
        redirect_uri=fx.SPA_CALLBACK if oauth.client_secret is None else fx.WEB_CALLBACK,
        scope=scope,
        nonce="n-0S6_WzA2Mj",
        code_verifier=verifier.verifier if verifier else None,
    )
    response = await harness.http.get(url)
    auth_request_id = fx.login_redirect_id(response)
    cookie, session = await harness.sign_in(world.alice)
    await harness.services.auth_requests.link_session(auth_request_id, session.id)
    back = await harness.callback(auth_request_id, cookie=cookie)
    assert back.status_code == 302
    return back.headers["location"], cookie, verifier


@pytest.mark.parametrize("name", ["basic", "post", "jwt"])
async def test_confidential_client_signs_a_user_in(
    harness: Harness, world: World, name: str
) -> None:
    client = world.clients[name]
    async with oauth_client(harness, client) as oauth:
        callback, _, _ = await sign_in_with(
            harness, oauth, world, scope="openid profile email offline_access", pkce=False
        )
        assert fx.query_of(callback)["iss"] == harness.issuer
        token = await oauth.fetch_token(
            harness.url(paths.TOKEN),
            authorization_response=callback,
            redirect_uri=fx.WEB_CALLBACK,
        )
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 12 * 3600
    assert token["refresh_token"]
    claims = await harness.verify(
        token["id_token"],
        iss=harness.issuer,
        sub=world.alice.id,
        azp=client.client_id,
        nonce="n-0S6_WzA2Mj",
    )
    assert client.client_id in claims["aud"] and world.project.id in claims["aud"]
    assert claims["at_hash"] == at_hash(token["access_token"])
    assert claims["amr"] == ["pwd"] and isinstance(claims["auth_time"], int)
    assert claims["sid"]
    assert "email" not in claims and "name" not in claims  # userinfo has them


async def test_public_client_needs_pkce_and_no_secret(harness: Harness, world: World) -> None:
    client = world.clients["spa"]
    async with oauth_client(harness, client, code_challenge_method="S256") as oauth:
        callback, _, pkce = await sign_in_with(harness, oauth, world, scope="openid", pkce=True)
        assert pkce is not None
        token = await oauth.fetch_token(
            harness.url(paths.TOKEN),
            authorization_response=callback,
            redirect_uri=fx.SPA_CALLBACK,
            code_verifier=pkce.verifier,
        )
    assert "refresh_token" not in token  # no offline_access asked
    audience = list(dict.fromkeys([client.client_id, *_aud(world)]))
    await harness.verify(token["id_token"], sub=world.alice.id, aud=audience)


async def test_a_wrong_code_verifier_is_invalid_grant(harness: Harness, world: World) -> None:
    client = world.clients["spa"]
    async with oauth_client(harness, client, code_challenge_method="S256") as oauth:
        callback, _, _ = await sign_in_with(harness, oauth, world, scope="openid", pkce=True)
        with pytest.raises(OAuthError) as raised:
            await oauth.fetch_token(
                harness.url(paths.TOKEN),
                authorization_response=callback,
                redirect_uri=fx.SPA_CALLBACK,
                code_verifier=Pkce().verifier,
            )
    assert raised.value.error == "invalid_grant"


async def test_userinfo_refresh_introspection_revocation_and_logout(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    async with oauth_client(harness, client) as oauth:
        callback, cookie, _ = await sign_in_with(
            harness, oauth, world, scope="openid profile email offline_access", pkce=False
        )
        token = await oauth.fetch_token(
            harness.url(paths.TOKEN), authorization_response=callback, redirect_uri=fx.WEB_CALLBACK
        )
        first_claims = await harness.verify(token["id_token"])

        userinfo = (await oauth.get(harness.url(paths.USERINFO))).json()
        assert userinfo["sub"] == world.alice.id
        assert userinfo["email"] == "alice@example.com" and userinfo["email_verified"] is True
        assert userinfo["given_name"] == "Alice" and userinfo["family_name"] == "Liddell"
        assert userinfo["preferred_username"] == world.alice.login_name

        refreshed = await oauth.refresh_token(harness.url(paths.TOKEN))
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert refreshed["access_token"] != token["access_token"]
        claims = await harness.verify(refreshed["id_token"])
        for kept in ("iss", "sub", "aud", "azp", "auth_time", "sid"):
            assert claims[kept] == first_claims[kept], kept
        assert "nonce" not in claims

    async with oauth_client(harness, world.clients["api"]) as api:
        active = (
            await api.introspect_token(harness.url(paths.INTROSPECT), refreshed["access_token"])
        ).json()
        assert active["active"] is True
        assert active["sub"] == world.alice.id and active["client_id"] == client.client_id
        assert active["username"] == world.alice.login_name
        assert active["email"] == "alice@example.com"
        assert active["iss"] == harness.issuer and active["token_type"] == "Bearer"

        async with oauth_client(harness, client) as owner:
            revoked = await owner.revoke_token(
                harness.url(paths.REVOKE), refreshed["access_token"], "access_token"
            )
            assert revoked.status_code == 200
        gone = (
            await api.introspect_token(harness.url(paths.INTROSPECT), refreshed["access_token"])
        ).json()
        assert gone == {"active": False}

    logout = await harness.browser(
        "GET",
        paths.END_SESSION,
        cookie=cookie,
        params={
            "id_token_hint": refreshed["id_token"],
            "post_logout_redirect_uri": fx.LOGGED_OUT,
            "state": "bye",
        },
    )
    assert logout.status_code == 302
    assert logout.headers["location"] == f"{fx.LOGGED_OUT}?state=bye"
    silent = await harness.authorize(
        {**fx.authorize_params(client), "prompt": "none"}, cookie=cookie
    )
    assert fx.query_of(silent.headers["location"])["error"] == "login_required"


async def test_refresh_replay_revokes_the_whole_family(harness: Harness, world: World) -> None:
    client = world.clients["post"]
    async with oauth_client(harness, client) as oauth:
        callback, _, _ = await sign_in_with(
            harness, oauth, world, scope="openid offline_access", pkce=False
        )
        first = await oauth.fetch_token(
            harness.url(paths.TOKEN), authorization_response=callback, redirect_uri=fx.WEB_CALLBACK
        )
        second = await oauth.refresh_token(harness.url(paths.TOKEN))
        with pytest.raises(OAuthError) as replay:
            await oauth.refresh_token(
                harness.url(paths.TOKEN), refresh_token=first["refresh_token"]
            )
        assert replay.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as after:
            await oauth.refresh_token(
                harness.url(paths.TOKEN), refresh_token=second["refresh_token"]
            )
        assert after.value.error == "invalid_grant"
    for access_token in (first["access_token"], second["access_token"]):
        response = await harness.http.get(
            paths.USERINFO, headers={"Authorization": f"Bearer {access_token}"}
        )
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


def _aud(world: World) -> list[str]:
    """The project and its apps' client ids, as ZITADEL adds them after the client's own."""
    others = [c.client_id for c in world.clients.values()]
    return [world.project.id, *sorted(others)]
