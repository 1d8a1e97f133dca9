"""CSRF protection of hosted forms, through a form route that exists only in this test.

Tokens are bound to the browser id (the browser cookie) and to the flow a form continues.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import make_settings
from tests.server_fixtures import BROWSER_ACCEPT, add_routes
from zitui.config import Settings
from zitui.server.app import create_app
from zitui.server.browser import HOST_NAME
from zitui.server.browser import PLAIN_NAME as COOKIE_NAME
from zitui.server.csrf import FIELD_NAME, csrf_token, verify_csrf

FORM = "/test/form"


async def form_page(request: Request) -> Response:
    flow_id = request.query_params.get("flow", "")
    if request.method == "GET":
        token = csrf_token(request, flow_id)
        return HTMLResponse(
            f'<form method="post"><input type="hidden" name="{FIELD_NAME}" value="{token}">'
            "<button>Send</button></form>"
        )
    await verify_csrf(request, await request.form(), flow_id)
    return PlainTextResponse("accepted")


def app_with_form(settings: Settings) -> TestClient:
    app = add_routes(create_app(settings), Route(FORM, form_page, methods=["GET", "POST"]))
    return TestClient(app, headers={"Accept": BROWSER_ACCEPT})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with app_with_form(settings) as client:
        yield client


def open_form(client: TestClient) -> str:
    response = client.get(FORM)
    assert response.status_code == 200
    match = re.search(rf'name="{FIELD_NAME}" value="([^"]+)"', response.text)
    assert match is not None
    return match.group(1)


def test_form_page_sets_a_locked_down_cookie(client: TestClient) -> None:
    response = client.get(FORM)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=86400" in cookie
    assert "Secure" not in cookie  # the issuer is plain http here
    assert client.cookies.get(COOKIE_NAME)


def test_browser_keeps_its_cookie_and_token_across_pages(client: TestClient) -> None:
    first = open_form(client)
    second = client.get(FORM)
    assert "set-cookie" not in second.headers
    assert first in second.text


def test_form_with_its_token_is_accepted(client: TestClient) -> None:
    token = open_form(client)
    response = client.post(FORM, data={FIELD_NAME: token, "name": "Ada"})
    assert response.status_code == 200
    assert response.text == "accepted"


def test_form_without_token_is_refused_with_a_403_page(client: TestClient) -> None:
    open_form(client)
    response = client.post(FORM, data={"name": "Ada"})
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in response.text
    assert "Reload the page and try again." in response.text


def test_form_with_a_wrong_token_is_refused(client: TestClient) -> None:
    token = open_form(client)
    wrong = token[:-1] + ("B" if token.endswith("A") else "A")
    response = client.post(FORM, data={FIELD_NAME: wrong})
    assert response.status_code == 403


def test_token_from_another_browser_is_refused(client: TestClient) -> None:
    victim_token = open_form(client)
    client.cookies.clear()
    open_form(client)  # the attacker's own browser gets its own cookie
    response = client.post(FORM, data={FIELD_NAME: victim_token})
    assert response.status_code == 403


def test_token_without_the_cookie_is_refused(client: TestClient) -> None:
    token = open_form(client)
    client.cookies.clear()
    response = client.post(FORM, data={FIELD_NAME: token})
    assert response.status_code == 403


def test_a_tampered_cookie_is_replaced(client: TestClient) -> None:
    client.cookies.set(COOKIE_NAME, "not-ours")
    response = client.get(FORM)
    assert response.headers["set-cookie"].startswith(f"{COOKIE_NAME}=")
    assert "not-ours" not in response.headers["set-cookie"]


def test_refusal_speaks_the_users_language_and_json(client: TestClient) -> None:
    open_form(client)
    german = client.post(FORM, data={}, headers={"Accept-Language": "de"})
    assert "Laden Sie die Seite neu" in german.text
    api = client.post(FORM, data={}, headers={"Accept": "application/json"})
    assert api.status_code == 403
    assert api.json()["error"] == "csrf.invalid"


def test_a_token_of_one_flow_does_not_submit_another(client: TestClient) -> None:
    response = client.get(FORM, params={"flow": "flow-a"})
    token = response.text.split('value="')[1].split('"')[0]
    accepted = client.post(FORM, params={"flow": "flow-a"}, data={FIELD_NAME: token})
    assert accepted.status_code == 200
    other = client.post(FORM, params={"flow": "flow-b"}, data={FIELD_NAME: token})
    assert other.status_code == 403


def test_cookie_is_secure_and_host_only_under_an_https_issuer(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, external_url="https://id.example.com")
    with app_with_form(settings) as client:
        response = client.get(FORM)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{HOST_NAME}=")
    assert "; Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
