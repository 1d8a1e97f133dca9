"""zitui's server on a thread of the test process, and Debian's Chromium, for the modules
that drive the hosted pages in a real browser."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from playwright.sync_api import Browser, sync_playwright

from tests.test_server_browser import CHROMIUM, CHROMIUM_ARGS
from zitui.config import Settings
from zitui.runner import bind_socket, make_server

START_TIMEOUT_S = 20


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[None]:
    """The server (uvicorn) listening on `settings.listen` until the block ends."""
    server = make_server(settings, None)
    sock = bind_socket(settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        started = threading.Event()
        while not server.started:  # uvicorn offers no event to wait on
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            started.wait(0.02)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless (never a downloaded browser)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
