"""The login pages in a real browser (Debian's chromium): keyboard only, German, no JavaScript."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.live_server import chromium, serving
from tests.processes import free_port
from tests.test_server_browser import CHROMIUM
from zitui.server import paths
from zitui.server.browser import PLAIN_NAME as BROWSER_COOKIE

REFUSED_LOAD = "Failed to load resource: the server responded with a status of 4"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    settings = make_settings(tmp_path_factory.mktemp("data"), listen=f"127.0.0.1:{port}")
    # The production server set-up (zitui.runner), on a socket bound the same way.
    with serving(settings):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def new_page(context: BrowserContext) -> tuple[Page, list[str]]:
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A page answered with 4xx (a wrong password is 401) logs that status; not a problem.
        if message.type == "error" and not message.text.startswith(REFUSED_LOAD):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page, problems


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id"))


def test_sign_in_and_out_with_the_keyboard_only(browser: Browser, live_url: str) -> None:
    context = browser.new_context(locale="en-US")
    page, problems = new_page(context)
    page.goto(live_url + paths.LOGIN)
    assert page.locator("h1").inner_text() == "Welcome back!"
    name = page.locator("#login_name")
    assert name.get_attribute("autocomplete") == "username webauthn"
    assert focused_id(page) == "login_name"
    page.keyboard.type("admin")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.locator("h1").inner_text() == "Enter your password"
    assert page.locator("#login_name").get_attribute("autocomplete") == "username"
    assert page.locator("#login_name").input_value() == "admin"
    assert page.locator("#password").get_attribute("autocomplete") == "current-password"
    assert page.locator("#password").get_attribute("type") == "password"
    assert focused_id(page) == "password"
    page.keyboard.type("not the password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.title().startswith("Error: ")
    assert focused_id(page) == "password"  # back on the field that needs fixing
    assert (
        page.locator("#password-error")
        .inner_text()
        .endswith("The login name or password is wrong.")
    )
    page.keyboard.type(ADMIN_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url == live_url + paths.LOGIN_SIGNED_IN
    assert page.locator("h1").inner_text() == "You are signed in"
    cookie = next(c for c in context.cookies() if c["name"] == BROWSER_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # Tab to "Sign out of all accounts" and press it.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Sign out of all accounts":
            break
    else:
        pytest.fail("the sign-out button is not reachable with Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == live_url + paths.LOGOUT_DONE
    assert page.locator("h1").inner_text() == "You are signed out"
    assert problems == []
    context.close()


def test_the_pages_speak_german_to_a_german_browser(browser: Browser, live_url: str) -> None:
    context = browser.new_context(locale="de-DE")
    page, problems = new_page(context)
    page.goto(live_url + paths.LOGIN)
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "Willkommen zurück!"
    assert page.get_by_label("Anmeldename").count() == 1
    page.get_by_label("Anmeldename").fill("admin")
    page.get_by_role("button", name="Weiter").click()
    assert page.locator("h1").inner_text() == "Passwort eingeben"
    page.get_by_label("Passwort", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    assert page.locator("h1").inner_text() == "Sie sind angemeldet"
    assert problems == []
    context.close()


def test_the_pages_work_without_javascript(browser: Browser, live_url: str) -> None:
    context = browser.new_context(locale="en-US", java_script_enabled=False)
    page, _ = new_page(context)
    page.goto(live_url + paths.LOGIN)
    page.get_by_label("Login name").fill("admin")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url == live_url + paths.LOGIN_SIGNED_IN
    assert "admin@" in page.locator(".account-login").inner_text()

    # A second visit to the entry page offers the account instead of asking again.
    page.goto(live_url + paths.LOGIN)
    assert page.locator("h1").inner_text() == "Choose an account"
    page.locator("button.account").click()
    assert page.url == live_url + paths.LOGIN_SIGNED_IN
    page.get_by_role("button", name="Sign out admin@").click()
    assert page.url == live_url + paths.LOGOUT_DONE
    context.close()


def test_the_form_fits_a_narrow_screen(browser: Browser, live_url: str) -> None:
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page, _ = new_page(context)
    page.goto(live_url + paths.LOGIN)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320
    box = page.locator("#login_name").bounding_box()
    assert box is not None and box["width"] > 200
    context.close()
