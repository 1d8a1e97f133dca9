"""Policies in a real browser (Debian's chromium): another process's change to a policy shows
on the next page the server renders, with nothing cached in between."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.live_server import chromium, serving
from tests.processes import free_port
from tests.test_server_browser import CHROMIUM
from zitui.config import Settings
from zitui.core.context import RequestMeta
from zitui.core.services import Services, open_services
from zitui.core.users import NewHumanUser
from zitui.server import paths

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")

T = TypeVar("T")
PASSWORD = "Dora-Pass-12!"
WRONG = "Wrong-Pass-12!"


@dataclass
class Live:
    url: str
    settings: Settings

    def core(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Run `work` on services of their own on the same data directory, as the console
        in another process would, in a thread of its own (the browser's loop is this one's)."""
        outcome: dict[str, Any] = {}

        async def run() -> None:
            services, _ = await open_services(self.settings)
            try:
                outcome["result"] = await work(services)
            finally:
                await services.close()

        def thread_main() -> None:
            try:
                asyncio.run(run())
            except BaseException as exc:  # handed to the test's thread below
                outcome["error"] = exc

        thread = threading.Thread(target=thread_main)
        thread.start()
        thread.join(timeout=60)
        if "error" in outcome:
            raise outcome["error"]
        assert "result" in outcome, "the core call did not finish"
        return outcome["result"]  # type: ignore[no-any-return]

    def set_policy(self, kind: str, changes: dict[str, Any]) -> None:
        async def change(services: Services) -> None:
            admin = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
            await services.policies.set(admin.context, kind, changes)

        self.core(change)

    def add_user(self, username: str, **extra: Any) -> None:
        async def create(services: Services) -> None:
            admin = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
            org_id = (await services.instance.get_instance(admin.context)).default_org_id
            new = NewHumanUser(
                username=username, first_name="Dora", last_name="D", password=PASSWORD, **extra
            )
            await services.users.create_human_user(admin.context, org_id, new)

        self.core(create)


@pytest.fixture
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    port = free_port()
    settings = make_settings(tmp_path_factory.mktemp("data"), listen=f"127.0.0.1:{port}")
    with serving(settings):
        yield Live(f"http://127.0.0.1:{port}", settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def name_step(page: Page, live: Live, login_name: str) -> None:
    page.goto(live.url + paths.LOGIN)
    page.get_by_label("Login name").fill(login_name)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def password_step(page: Page, password: str) -> str:
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    error = page.locator("#password-error")
    return error.inner_text() if error.count() else ""


def test_lockout_and_the_reset_link_follow_the_policy(browser: Browser, live: Live) -> None:
    live.add_user("dora")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    name_step(page, live, "dora")
    assert page.get_by_role("button", name="Forgot your password?").count() == 1
    live.set_policy("login", {"hide_password_reset": True})
    live.set_policy("lockout", {"max_password_attempts": 2})
    name_step(page, live, "dora")
    assert page.get_by_role("button", name="Forgot your password?").count() == 0
    assert password_step(page, WRONG).endswith("The login name or password is wrong.")
    assert "the account is now locked" in password_step(page, WRONG)
    assert password_step(page, PASSWORD).endswith("The login name or password is wrong.")
    context.close()


def test_email_login_and_the_default_redirect_follow_the_policy(
    browser: Browser, live: Live
) -> None:
    live.add_user("erin", email="erin@example.com", email_verified=True)
    live.set_policy("login", {"default_redirect_uri": live.url + paths.LOGOUT_DONE})
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    name_step(page, live, "erin@example.com")
    assert password_step(page, PASSWORD) == ""
    assert page.url == live.url + paths.LOGOUT_DONE  # not the signed-in page
    live.set_policy("login", {"disable_login_with_email": True})
    context.clear_cookies()
    name_step(page, live, "erin@example.com")
    assert password_step(page, PASSWORD).endswith("The login name or password is wrong.")
    context.close()


def test_registration_and_the_password_rules_follow_the_policy(
    browser: Browser, live: Live
) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(live.url + paths.LOGIN)
    register = page.get_by_role("link", name="Register")
    assert register.count() == 1
    with page.expect_navigation():
        register.click()
    # A stricter rule than the default is listed on the form and enforced with its reason.
    live.set_policy("password_complexity", {"min_length": 16})
    page.reload()
    assert "at least 16 characters" in page.locator("#password-rules").inner_text()
    page.get_by_label("Given name").fill("Rita")
    page.get_by_label("Family name").fill("Rules")
    page.get_by_label("Email address").fill("rita@example.com")
    page.get_by_label("New password", exact=True).fill("Short-Pass-1!")
    page.get_by_label("Repeat the new password", exact=True).fill("Short-Pass-1!")
    page.locator("#terms").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Register").click()
    assert "The password is too short." in page.locator("#password-error").inner_text()
    assert "at least 16 characters" in page.locator("#password-rules").inner_text()
    assert page.get_by_label("Email address").input_value() == "rita@example.com"
    # Registration switched off: no link, and the form refuses on the next page.
    live.set_policy("login", {"allow_register": False})
    page.reload()
    assert "Registration is not open here" in page.locator("#form-alert").inner_text()
    context.clear_cookies()
    page.goto(live.url + paths.LOGIN)
    assert page.get_by_role("link", name="Register").count() == 0
    context.close()


def test_forced_mfa_cannot_be_skipped(browser: Browser, live: Live) -> None:
    live.add_user("fay")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    live.set_policy("login", {"force_mfa": True})
    name_step(page, live, "fay")
    assert password_step(page, PASSWORD) == ""
    # The set-up prompt offers the authenticator app and no way around it.
    assert page.locator("h1").inner_text() == "Set up a second factor"
    assert page.get_by_role("button", name="Skip").count() == 0
    context.close()
