"""The server shell: lifespan, landing page, health check and security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import make_settings
from tests.server_fixtures import BROWSER_ACCEPT
from zitui.config import Settings
from zitui.core.services import open_services
from zitui.core.setup import SetupResult
from zitui.server import paths
from zitui.server.app import create_app
from zitui.server.headers import CONTENT_SECURITY_POLICY


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def assert_security_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "form-action" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cross-origin-opener-policy"] == "same-origin"


def test_healthz_answers_ok_once_the_store_is_open(client: TestClient) -> None:
    response = client.get(paths.HEALTHZ)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.head(paths.HEALTHZ).status_code == 200


def test_healthz_answers_503_when_the_database_file_is_destroyed(
    client: TestClient, settings: Settings
) -> None:
    services = client.app_state["services"]
    # Drop the pooled connections, then replace the database with garbage, as a failed disk
    # or an operator's mistake would: the next connection finds no database.
    assert client.portal is not None
    client.portal.call(services.store.close)
    for leftover in settings.data_dir.glob("zitui.db-*"):
        leftover.unlink()
    (settings.data_dir / "zitui.db").write_bytes(b"this is not a database" * 100)

    response = client.get(paths.HEALTHZ)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert client.head(paths.HEALTHZ).status_code == 503


def test_landing_page_says_the_instance_runs_and_links_discovery(client: TestClient) -> None:
    response = client.get(paths.HOME, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert '<html lang="en">' in page
    assert "<h1>zitui is running</h1>" in page
    assert f'href="{paths.DISCOVERY}"' in page
    assert "http://127.0.0.1:8080" in page
    assert f'href="{paths.STYLESHEET}"' in page
    assert "<script" not in page and "style=" not in page


def test_ui_locales_wins_over_accept_language(client: TestClient) -> None:
    response = client.get(
        paths.HOME, params={"ui_locales": "ja de"}, headers={"Accept-Language": "en"}
    )
    assert '<html lang="de">' in response.text
    assert "<h1>zitui läuft</h1>" in response.text


def test_stylesheet_is_served_from_the_package(client: TestClient) -> None:
    response = client.get(paths.STYLESHEET)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "font-family" in response.text
    assert_security_headers(response)


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        (paths.HOME, BROWSER_ACCEPT),
        (paths.HEALTHZ, "application/json"),
        ("/no/such/page", BROWSER_ACCEPT),
        ("/no/such/page", "application/json"),
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, path: str, accept: str
) -> None:
    response = client.get(path, headers={"Accept": accept})
    assert_security_headers(response)
    assert "strict-transport-security" not in response.headers


def test_https_issuer_adds_strict_transport_security(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, external_url="https://id.example.com")
    with TestClient(create_app(settings)) as client:
        response = client.get(paths.HEALTHZ)
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_first_run_result_reaches_the_caller(tmp_path: Path) -> None:
    results: list[SetupResult] = []
    settings = make_settings(tmp_path, admin_password="")
    with TestClient(create_app(settings, on_setup=results.append)):
        pass
    assert results[0].created
    assert results[0].generated_password


async def test_shared_services_are_used_and_left_open(settings: Settings) -> None:
    services, _ = await open_services(settings)
    try:
        app = create_app(settings, services)
        async with app.router.lifespan_context(app) as state:
            assert state is not None
            assert state["services"] is services
        await services.instance.check_ready()
    finally:
        await services.close()
