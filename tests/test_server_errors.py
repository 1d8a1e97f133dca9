"""Error pages: localised HTML for people, JSON for programs, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.server_fixtures import BROWSER_ACCEPT, add_routes
from zitui.config import Settings
from zitui.errors import PreconditionFailed
from zitui.server import paths
from zitui.server.app import MAX_BODY_SIZE, create_app
from zitui.server.headers import CONTENT_SECURITY_POLICY

SECRET_DETAIL = "disk /srv/secret-volume exploded"


async def precondition(request: Request) -> PlainTextResponse:
    raise PreconditionFailed("test.widget_not_ready", "the widget is not ready yet")


async def explode(request: Request) -> PlainTextResponse:
    raise RuntimeError(SECRET_DETAIL)


async def echo_form(request: Request) -> PlainTextResponse:
    form = await request.form()
    return PlainTextResponse(f"{len(form)} fields")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = add_routes(
        create_app(settings),
        Route("/test/precondition", precondition),
        Route("/test/explode", explode),
        Route("/test/form", echo_form, methods=["POST"]),
    )
    # Starlette re-raises unhandled errors after answering, for the server to log; a browser
    # only sees the answer, so the tests look at that.
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_unknown_page_is_a_friendly_404(client: TestClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in response.text
    assert f'href="{paths.HOME}"' in response.text


def test_404_page_speaks_german_to_a_german_browser(client: TestClient) -> None:
    headers = {"Accept": BROWSER_ACCEPT, "Accept-Language": "de-CH,de;q=0.9,en;q=0.5"}
    response = client.get("/no/such/page", headers=headers)
    assert response.status_code == 404
    assert '<html lang="de">' in response.text
    assert "<h1>Seite nicht gefunden</h1>" in response.text
    assert "Fehler 404" in response.text
    assert "Zurück zur Startseite" in response.text


def test_programs_asking_for_json_get_a_json_error(client: TestClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "error_description": "There is no page at this address. "
        "Check the address or go back to the start page.",
    }


def test_protocol_paths_answer_json_even_to_browsers(client: TestClient) -> None:
    # An OIDC path zitui does not serve (yet): the token endpoint itself now answers 405.
    response = client.get(paths.DEVICE_AUTHORIZATION, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_wrong_method_keeps_the_allow_header(client: TestClient) -> None:
    response = client.post(paths.HOME, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert "<h1>Method not allowed</h1>" in response.text


def test_domain_error_shows_its_message_with_the_mapped_status(client: TestClient) -> None:
    page = client.get("/test/precondition", headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 412
    assert "the widget is not ready yet" in page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    api = client.get("/test/precondition", headers={"Accept": "application/json"})
    assert api.status_code == 412
    assert api.json() == {
        "error": "test.widget_not_ready",
        "error_description": "the widget is not ready yet",
    }


def test_unexpected_error_is_a_generic_500_page_and_a_logged_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="zitui.server"):
        response = client.get("/test/explode", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 500
    assert "<h1>Internal error</h1>" in response.text
    assert SECRET_DETAIL not in response.text
    assert "Traceback" not in response.text and "RuntimeError" not in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-store"
    [record] = [r for r in caplog.records if r.name == "zitui.server"]
    assert record.exc_info is not None and SECRET_DETAIL in str(record.exc_info[1])


def test_unexpected_error_on_a_protocol_path_is_json(client: TestClient) -> None:
    response = client.get("/test/explode", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert SECRET_DETAIL not in response.text


def test_malformed_multipart_form_is_a_400_not_a_crash(client: TestClient) -> None:
    response = client.post(
        "/test/form",
        content=b"--x\r\nContent-Disposition: garbage\r\n\r\n",
        headers={"Content-Type": "multipart/form-data", "Accept": BROWSER_ACCEPT},
    )
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in response.text


def test_oversized_form_is_refused_with_413(client: TestClient) -> None:
    response = client.post(
        "/test/form",
        content=b"a=" + b"x" * (MAX_BODY_SIZE + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": BROWSER_ACCEPT},
    )
    assert response.status_code == 413
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_oversized_streamed_form_gets_the_413_page(client: TestClient) -> None:
    chunks = (b"x" * 65536 for _ in range(MAX_BODY_SIZE // 65536 + 1))
    response = client.post(
        "/test/form",
        content=chunks,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": BROWSER_ACCEPT},
    )
    assert response.status_code == 413
    assert "<h1>Request too large</h1>" in response.text


def test_garbled_negotiation_headers_fall_back_to_english_html(client: TestClient) -> None:
    headers = {"Accept": "text/html;q=banana, application/json;q=nan", "Accept-Language": ";;,q="}
    response = client.get("/no/such/page", headers=headers)
    assert response.status_code == 404
    assert '<html lang="en">' in response.text
