"""RP-Initiated Logout 1.0 at `/oidc/v1/end_session`, case by case as the conformance
suite's RP-initiated logout plan and openid-client use it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, OffsetClock, World
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world


async def signed_in(harness: Harness, world: World) -> tuple[str, str]:
    """A browser cookie with alice signed in, and the ID token the app got."""
    client = world.clients["basic"]
    result = await harness.code_flow(client, world.alice)
    response = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "authorization_code", "code": result["code"]},
        auth=(client.client_id, client.secret or ""),
    )
    return result["_cookie"], response.json()["id_token"]


async def end_session(harness: Harness, cookie: str, **params: str) -> Any:
    return await harness.browser("GET", paths.END_SESSION, cookie=cookie, params=params)


async def still_signed_in(harness: Harness, world: World, cookie: str) -> bool:
    params = {**fx.authorize_params(world.clients["basic"]), "prompt": "none"}
    response = await harness.authorize(params, cookie=cookie)
    return "code" in fx.query_of(response.headers["location"])


def assert_page(response: Any) -> None:
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


async def test_logout_returns_to_the_registered_uri_with_state(
    harness: Harness, world: World
) -> None:
    cookie, id_token = await signed_in(harness, world)
    state = "".join(chr(c) for c in range(0x21, 0x53))
    response = await end_session(
        harness,
        cookie,
        id_token_hint=id_token,
        post_logout_redirect_uri=fx.LOGGED_OUT,
        state=state,
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(fx.LOGGED_OUT + "?")
    assert fx.query_of(location) == {"state": state}
    assert "zitui_browser=" in response.headers["set-cookie"]  # cleared
    assert not await still_signed_in(harness, world, cookie)


async def test_logout_without_state_sends_none(harness: Harness, world: World) -> None:
    cookie, id_token = await signed_in(harness, world)
    response = await end_session(
        harness, cookie, id_token_hint=id_token, post_logout_redirect_uri=fx.LOGGED_OUT
    )
    assert response.headers["location"] == fx.LOGGED_OUT


async def test_openid_client_sends_client_id_instead_of_a_hint(
    harness: Harness, world: World
) -> None:
    cookie, _ = await signed_in(harness, world)
    page = await end_session(
        harness,
        cookie,
        client_id=world.clients["basic"].client_id,
        post_logout_redirect_uri=fx.LOGGED_OUT,
        state="s",
    )
    # No hint: a bare link must not sign anyone out, so the user confirms first.
    assert await still_signed_in(harness, world, cookie)
    response = await harness.confirm_logout(page, cookie=cookie)
    assert response.headers["location"] == f"{fx.LOGGED_OUT}?state=s"
    assert not await still_signed_in(harness, world, cookie)


async def test_without_a_place_to_return_the_logged_out_page(
    harness: Harness, world: World
) -> None:
    for params in ({}, {"state": "only"}):
        cookie, id_token = await signed_in(harness, world)
        page = await end_session(harness, cookie, **params)
        assert await still_signed_in(harness, world, cookie)
        response = await harness.confirm_logout(page, cookie=cookie)
        assert response.status_code == 302
        assert response.headers["location"] == paths.LOGOUT_DONE
        assert not await still_signed_in(harness, world, cookie)
    cookie, id_token = await signed_in(harness, world)
    response = await end_session(harness, cookie, id_token_hint=id_token, state="x")
    assert response.headers["location"] == paths.LOGOUT_DONE


async def test_a_bare_link_cannot_sign_anyone_out(harness: Harness, world: World) -> None:
    """Logout CSRF: a page elsewhere embeds the end_session URL, or forges the confirmation
    without our form's token."""
    cookie, _ = await signed_in(harness, world)
    page = await end_session(harness, cookie)
    assert page.status_code == 200 and "Sign out?" in page.text
    assert await still_signed_in(harness, world, cookie)
    forged = await harness.browser(
        "POST", paths.END_SESSION, cookie=cookie, data={"confirm": "yes"}
    )
    assert forged.status_code == 403
    other_browser = await harness.browser(
        "POST",
        paths.END_SESSION,
        cookie=cookie,
        data={"confirm": "yes", "csrf_token": "x" * 43},
    )
    assert other_browser.status_code == 403
    assert await still_signed_in(harness, world, cookie)


async def test_unregistered_uris_are_never_redirected_to(harness: Harness, world: World) -> None:
    cookie, id_token = await signed_in(harness, world)
    for uri in (
        "https://app.example/bad_post_logout_redirect_uri",
        fx.LOGGED_OUT + "?foo=bar",
    ):
        response = await end_session(
            harness, cookie, id_token_hint=id_token, post_logout_redirect_uri=uri, state="s"
        )
        assert_page(response)
    response = await end_session(harness, cookie, post_logout_redirect_uri=fx.LOGGED_OUT, state="s")
    assert_page(response)  # no hint and no client_id: no client to trust the URI for
    assert await still_signed_in(harness, world, cookie)


async def test_hints_not_signed_by_this_provider_are_refused(
    harness: Harness, world: World
) -> None:
    cookie, id_token = await signed_in(harness, world)
    header, payload, _ = id_token.split(".")
    unsigned = "eyJhbGciOiJub25lIn0." + payload + "."
    forged_key = RSAKey.generate_key(2048)
    claims = {"iss": world.clients["basic"].client_id, "aud": harness.issuer, "sub": "x"}
    forged = jwt.encode({"alg": "RS256", "kid": "x"}, claims, forged_key)
    for hint in (unsigned, forged):
        response = await end_session(
            harness, cookie, id_token_hint=hint, post_logout_redirect_uri=fx.LOGGED_OUT
        )
        assert_page(response)
    mismatch = await end_session(
        harness,
        cookie,
        id_token_hint=id_token,
        client_id=world.clients["post"].client_id,
        post_logout_redirect_uri=fx.LOGGED_OUT,
    )
    assert_page(mismatch)


async def test_an_expired_hint_still_identifies_the_client(
    harness: Harness, world: World, clock: OffsetClock
) -> None:
    cookie, id_token = await signed_in(harness, world)
    clock.advance(timedelta(hours=13))
    response = await harness.browser(
        "POST",
        paths.END_SESSION,
        cookie=cookie,
        data={"id_token_hint": id_token, "post_logout_redirect_uri": fx.LOGGED_OUT},
    )
    assert response.headers["location"] == fx.LOGGED_OUT
