"""The pages in a real browser (Debian's chromium) against uvicorn on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.conftest import make_settings
from tests.processes import free_port
from zitui.runner import bind_socket, make_server
from zitui.server import paths

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    settings = make_settings(tmp_path_factory.mktemp("data"), listen=f"127.0.0.1:{port}")
    # The production server set-up (zitui.runner), on a socket bound the same way.
    server = make_server(settings, None)
    sock = bind_socket(settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: Browser, url: str, locale: str) -> tuple[Page, list[str], int]:
    page = browser.new_context(locale=locale).new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A 404 page logs its own status as a failed load; anything else is a real problem.
        if message.type == "error" and "404" not in message.text:
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    response = page.goto(url)
    assert response is not None
    return page, problems, response.status


def assert_styled(page: Page) -> None:
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "system-ui" in font
    assert page.locator("h1").count() == 1


def test_landing_page_renders_styled_without_csp_errors(browser: Browser, live_url: str) -> None:
    page, problems, status = open_page(browser, live_url + paths.HOME, "en-US")
    assert status == 200
    assert page.locator("h1").inner_text() == "zitui is running"
    assert page.locator("html").get_attribute("lang") == "en"
    assert_styled(page)
    assert problems == []


def test_missing_page_renders_styled_in_german(browser: Browser, live_url: str) -> None:
    page, problems, status = open_page(browser, live_url + "/no/such/page", "de-DE")
    assert status == 404
    assert page.locator("h1").inner_text() == "Seite nicht gefunden"
    assert_styled(page)
    assert problems == []


def test_skip_link_moves_focus_to_the_main_content(browser: Browser, live_url: str) -> None:
    page, _, _ = open_page(browser, live_url + paths.HOME, "en-US")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_huge_headers_are_refused_with_400_not_a_crash(live_url: str) -> None:
    host, port = live_url.removeprefix("http://").split(":")
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Big: {'a' * 200_000}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        try:
            sock.sendall(request)
            answer = sock.recv(200)
        except ConnectionResetError:  # the server may hang up before reading it all
            answer = b"HTTP/1.1 400 (connection reset)"
    assert answer.startswith(b"HTTP/1.1 400")
    assert httpx2.get(live_url + paths.HEALTHZ).status_code == 200
