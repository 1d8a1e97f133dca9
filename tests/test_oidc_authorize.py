"""The authorization endpoint: what is redirected, what is never redirected, and how."""

from __future__ import annotations

import re

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, Pkce, World
from tests.server_fixtures import BROWSER_ACCEPT
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world


def assert_error_redirect(response: object, params: dict[str, str], error: str) -> dict[str, str]:
    assert response.status_code == 302  # type: ignore[attr-defined]
    location = response.headers["location"]  # type: ignore[attr-defined]
    assert location.startswith(params["redirect_uri"] + "?")
    found = fx.query_of(location)
    assert found["error"] == error, found
    assert found["state"] == params["state"]
    assert found["iss"] == "http://127.0.0.1:8080"
    assert "code" not in found
    assert set(found) <= {"error", "error_description", "state", "iss"}
    return found


async def test_unknown_client_gets_a_page_not_a_redirect(harness: Harness, world: World) -> None:
    params = {**fx.authorize_params(world.clients["basic"]), "client_id": "nobody@nowhere"}
    response = await harness.authorize(params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "unknown" in response.text


async def test_unregistered_redirect_uri_gets_a_page(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    for wrong in (
        fx.WEB_CALLBACK + "/other",
        fx.WEB_CALLBACK + "?tenant=2",
        fx.WEB_CALLBACK.upper(),
        "",
    ):
        params = {**fx.authorize_params(client), "redirect_uri": wrong}
        response = await harness.authorize(params)
        assert response.status_code == 400, wrong
        assert "location" not in response.headers


async def test_registered_query_in_the_redirect_uri_is_kept(harness: Harness, world: World) -> None:
    result = await harness.code_flow(
        world.clients["basic"], world.alice, redirect_uri=fx.WEB_CALLBACK + "?tenant=1"
    )
    assert result["tenant"] == "1" and result["code"]


async def test_public_client_without_pkce_gets_invalid_request(
    harness: Harness, world: World
) -> None:
    params = fx.authorize_params(world.clients["spa"])
    found = assert_error_redirect(await harness.authorize(params), params, "invalid_request")
    assert "PKCE" in found["error_description"]


async def test_plain_pkce_is_refused(harness: Harness, world: World) -> None:
    params = fx.authorize_params(world.clients["spa"], pkce=Pkce())
    params["code_challenge_method"] = "plain"
    assert_error_redirect(await harness.authorize(params), params, "invalid_request")


async def test_request_objects_are_refused_with_their_own_errors(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    params = {**fx.authorize_params(client), "request": "eyJhbGciOiJub25lIn0.e30."}
    assert_error_redirect(await harness.authorize(params), params, "request_not_supported")
    params = {**fx.authorize_params(client), "request_uri": "https://rp.example/request.jwt"}
    assert_error_redirect(await harness.authorize(params), params, "request_uri_not_supported")


async def test_request_object_with_a_bad_outer_redirect_uri_gets_a_page(
    harness: Harness, world: World
) -> None:
    params = {
        **fx.authorize_params(world.clients["basic"]),
        "redirect_uri": fx.WEB_CALLBACK + "_invalid",
        "request": "eyJhbGciOiJub25lIn0.e30.",
    }
    response = await harness.authorize(params)
    assert response.status_code == 400 and "location" not in response.headers


async def test_response_type_is_checked(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    params = fx.authorize_params(client)
    del params["response_type"]
    assert_error_redirect(await harness.authorize(params), params, "invalid_request")
    params = {**fx.authorize_params(client), "response_type": "id_token"}
    assert_error_redirect(await harness.authorize(params), params, "unsupported_response_type")


async def test_scope_must_include_openid(harness: Harness, world: World) -> None:
    params = fx.authorize_params(world.clients["basic"], scope="profile")
    assert_error_redirect(await harness.authorize(params), params, "invalid_scope")


async def test_prompt_none_without_a_session_is_login_required(
    harness: Harness, world: World
) -> None:
    params = {**fx.authorize_params(world.clients["basic"]), "prompt": "none"}
    params["state"] = "x" * 124 + "-._~"
    assert_error_redirect(await harness.authorize(params), params, "login_required")


async def test_prompt_none_with_a_session_answers_silently(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    cookie, _ = await harness.sign_in(world.alice)
    params = {**fx.authorize_params(client), "prompt": "none", "max_age": "3600"}
    response = await harness.authorize(params, cookie=cookie)
    assert response.status_code == 302
    found = fx.query_of(response.headers["location"])
    assert found["code"] and found["state"] == params["state"]
    assert found["iss"] == harness.issuer


async def test_prompt_none_with_two_accounts_needs_interaction(
    harness: Harness, world: World
) -> None:
    cookie, _ = await harness.sign_in(world.alice)
    await harness.sign_in(world.bob, cookie=cookie)
    params = {**fx.authorize_params(world.clients["basic"]), "prompt": "none"}
    response = await harness.authorize(params, cookie=cookie)
    assert_error_redirect(response, params, "interaction_required")


async def test_prompt_none_picks_the_id_token_hints_user(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    first = await harness.code_flow(client, world.alice)
    token = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "authorization_code", "code": first["code"]},
        auth=(client.client_id, client.secret or ""),
    )
    cookie = first["_cookie"]
    await harness.sign_in(world.bob, cookie=cookie)
    params = {
        **fx.authorize_params(client),
        "prompt": "none",
        "id_token_hint": token.json()["id_token"],
    }
    response = await harness.authorize(params, cookie=cookie)
    assert fx.query_of(response.headers["location"])["code"]


async def test_a_forged_id_token_hint_is_login_required(harness: Harness, world: World) -> None:
    params = {
        **fx.authorize_params(world.clients["basic"]),
        "id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    }
    assert_error_redirect(await harness.authorize(params), params, "login_required")


async def test_prompt_none_and_max_age_exceeded_is_login_required(
    harness: Harness, world: World, clock: fx.OffsetClock
) -> None:
    from datetime import timedelta

    cookie, _ = await harness.sign_in(world.alice)
    clock.advance(timedelta(seconds=30))
    params = {**fx.authorize_params(world.clients["basic"]), "prompt": "none", "max_age": "10"}
    assert_error_redirect(await harness.authorize(params, cookie=cookie), params, "login_required")


async def test_authorize_by_post_and_unknown_parameters(harness: Harness, world: World) -> None:
    params = {
        **fx.authorize_params(world.clients["basic"]),
        "extra": "foobar",
        "display": "popup",
        "claims_locales": "se",
        "ui_locales": "de en",
        "login_hint": "alice",
        "acr_values": "1 2",
    }
    response = await harness.authorize(params, method="POST")
    auth_request_id = fx.login_redirect_id(response)
    request = await harness.services.auth_requests.get_auth_request(auth_request_id)
    assert request.client_id == world.clients["basic"].client_id
    assert request.app_name == "basic"
    assert request.ui_locales == ("de", "en")
    assert request.login_hint == "alice"
    assert request.scopes == ("openid", "profile", "email")


async def test_a_parameter_given_twice_is_invalid_request(harness: Harness, world: World) -> None:
    params = fx.authorize_params(world.clients["basic"])
    query = [*params.items(), ("scope", "openid")]
    response = await harness.browser("GET", paths.AUTHORIZE, params=query)
    assert_error_redirect(response, params, "invalid_request")


async def test_form_post_answers_with_a_self_submitting_form(
    harness: Harness, world: World
) -> None:
    client = world.clients["basic"]
    params = {**fx.authorize_params(client), "response_mode": "form_post"}
    auth_request_id = fx.login_redirect_id(await harness.authorize(params))
    cookie, session = await harness.sign_in(world.alice)
    await harness.services.auth_requests.link_session(auth_request_id, session.id)
    page = await harness.callback(auth_request_id, cookie=cookie)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in csp and "'unsafe-inline'" not in csp
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert f'<form method="post" action="{fx.WEB_CALLBACK}">' in html
    assert f'name="state" value="{params["state"]}"' in html
    assert f'name="iss" value="{harness.issuer}"' in html
    assert re.search(r'name="code" value="[A-Za-z0-9_-]{43}"', html)
    assert "<noscript><button" in html


async def test_form_post_errors_are_posted_too(harness: Harness, world: World) -> None:
    params = {**fx.authorize_params(world.clients["basic"]), "response_mode": "form_post"}
    params["prompt"] = "none"
    page = await harness.authorize(params)
    assert page.status_code == 200
    assert 'name="error" value="login_required"' in page.text


async def test_callback_from_another_browser_gets_a_page(harness: Harness, world: World) -> None:
    params = fx.authorize_params(world.clients["basic"])
    auth_request_id = fx.login_redirect_id(await harness.authorize(params))
    _, session = await harness.sign_in(world.alice)
    await harness.services.auth_requests.link_session(auth_request_id, session.id)
    other, _ = await harness.sign_in(world.bob)
    response = await harness.callback(auth_request_id, cookie=other)
    assert response.status_code == 403 and "location" not in response.headers


async def test_callback_without_a_sign_in_is_access_denied(harness: Harness, world: World) -> None:
    params = fx.authorize_params(world.clients["basic"])
    auth_request_id = fx.login_redirect_id(await harness.authorize(params))
    response = await harness.callback(auth_request_id, cookie="")
    assert_error_redirect(response, params, "access_denied")


async def test_a_used_auth_request_cannot_give_a_second_code(
    harness: Harness, world: World
) -> None:
    params = fx.authorize_params(world.clients["basic"])
    auth_request_id = fx.login_redirect_id(await harness.authorize(params))
    cookie, session = await harness.sign_in(world.alice)
    await harness.services.auth_requests.link_session(auth_request_id, session.id)
    assert (await harness.callback(auth_request_id, cookie=cookie)).status_code == 302
    again = await harness.callback(auth_request_id, cookie=cookie)
    assert again.status_code == 410
    assert "location" not in again.headers


async def test_error_pages_are_html_for_browsers(harness: Harness, world: World) -> None:
    response = await harness.browser(
        "GET",
        paths.AUTHORIZE,
        params={"client_id": "unknown"},
        headers={"Accept": BROWSER_ACCEPT},
    )
    assert response.status_code == 400
    assert "<h1>" in response.text
