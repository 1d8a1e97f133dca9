"""Registration and a forgotten password in a real browser (Debian's chromium) against uvicorn,
with the mail delivered by the server's own sender to a real SMTP server (aiosmtpd), and an
application (authlib's OAuth 2.0 client) that exchanges the code it gets back for tokens.

The application's redirect URI is served by nothing (a closed port on this machine): the
test takes the URL the browser is sent to from the request the browser makes (a route cannot
catch it, since Playwright does not route the targets of redirects), and the browser's page
for a refused connection is all it shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, Page, expect

from tests import test_login_browser
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.live_server import serving
from tests.mail_fixtures import MailServer, mailed_code, use_smtp
from tests.processes import free_port
from tests.test_login_browser import focused_id, new_page
from tests.test_server_browser import CHROMIUM
from zitui.config import Settings
from zitui.core.apps import NewOidcApp
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.core.users import NewHumanUser
from zitui.records import AppType, AuthMethod
from zitui.server import paths

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")

browser = test_login_browser.browser
REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"
ALICE_PASSWORD = "Alice-Pass-1!"
NEW_PASSWORD = "Rosa-Pass-7?"


@dataclass(frozen=True)
class Live:
    url: str
    client_id: str
    client_secret: str
    alice_id: str
    mail: MailServer


async def prepare(settings: Settings, mail: MailServer) -> tuple[str, str, str]:
    """Before the server starts: SMTP to `mail`, a web application, and a user with an
    address. The application's client id and secret and the user's id."""
    services, _ = await open_services(settings)
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        await use_smtp(services, admin, mail)
        org_id = (await services.instance.get_instance(admin)).default_org_id
        project = await services.projects.create_project(admin, org_id, "Portal")
        new = NewOidcApp(
            name="Portal",
            app_type=AppType.WEB,
            auth_method=AuthMethod.BASIC,
            redirect_uris=[REDIRECT_URI],
            id_token_userinfo_assertion=True,
            dev_mode=True,
        )
        app, secret = await services.apps.create_oidc_app(admin, project.id, new)
        assert secret is not None
        alice = NewHumanUser(
            username="alice",
            first_name="Alice",
            last_name="Liddell",
            email="alice@example.org",
            email_verified=True,
            password=ALICE_PASSWORD,
        )
        user = await services.users.create_human_user(admin, org_id, alice)
        return app.client_id, secret, user.id
    finally:
        await services.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    port = free_port()
    # The server's sender looks every second, so a mail goes out soon after it is queued.
    settings = make_settings(
        tmp_path_factory.mktemp("data"), listen=f"127.0.0.1:{port}", outbox_interval_s=1
    )
    mail = MailServer()
    mail.start()
    # In a thread of its own: playwright's sync API may hold this thread's event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        client_id, secret, alice_id = pool.submit(asyncio.run, prepare(settings, mail)).result()
    try:
        with serving(settings):
            yield Live(f"http://127.0.0.1:{port}", client_id, secret, alice_id, mail)
    finally:
        mail.stop()


class Application:
    """The application's side: authlib's client."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.oauth = OAuth2Client(
            client_id=live.client_id,
            client_secret=live.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            code_challenge_method="S256",
        )
        self.verifier = generate_token(48)
        self.nonce = generate_token(16)
        self.state = ""

    def authorization_url(self) -> str:
        url, self.state = self.oauth.create_authorization_url(
            self.live.url + paths.AUTHORIZE,
            redirect_uri=REDIRECT_URI,
            scope="openid profile email",
            nonce=self.nonce,
            code_verifier=self.verifier,
        )
        return str(url)

    def tokens_for(self, callback_url: str) -> dict[str, Any]:
        """Exchange the code the browser brought back; the ID token's claims."""
        token = self.oauth.fetch_token(
            self.live.url + paths.TOKEN,
            authorization_response=callback_url,
            redirect_uri=REDIRECT_URI,
            code_verifier=self.verifier,
            state=self.state,  # authlib refuses a callback with another state
        )
        keys = KeySet.import_key_set(httpx2.get(self.live.url + paths.KEYS).json())
        claims = dict(jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims)
        assert claims["iss"] == self.live.url and claims["nonce"] == self.nonce
        assert self.live.client_id in claims["aud"]
        return claims

    def close(self) -> None:
        self.oauth.close()


def tab_to(page: Page, text: str) -> None:
    """Press Tab until the focused element reads `text`."""
    for _ in range(25):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == text:
            return
    pytest.fail(f"{text!r} is not reachable with Tab")


def wait_for_focus(page: Page, element_id: str) -> None:
    """Until the page's autofocus has put the cursor into `element_id` (typing before that
    would lose keys)."""
    # Playwright's own matcher: a string predicate would be evaluated with eval, which the
    # pages' Content-Security-Policy refuses whenever the first check fails.
    expect(page.locator(f"#{element_id}")).to_be_focused(timeout=5000)


def press_enter_and_wait(page: Page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_register_with_the_keyboard_and_the_mailed_code(browser: Browser, live: Live) -> None:
    context = browser.new_context(locale="en-US")
    page, problems = new_page(context)
    app = Application(live)
    page.goto(app.authorization_url())
    assert page.locator("h1").inner_text() == "Welcome back!"
    wait_for_focus(page, "login_name")
    tab_to(page, "Register")
    press_enter_and_wait(page)

    assert page.locator("h1").inner_text() == "Create your account"
    typed = [
        ("given_name", "Rosa"),
        ("family_name", "Parks"),
        ("email", "rosa@example.org"),
        ("username", ""),  # empty: the email is the username
        ("language", ""),  # as the page chose it
        ("password", NEW_PASSWORD),
        ("password_repeat", NEW_PASSWORD),
    ]
    wait_for_focus(page, "given_name")
    for position, (field_id, text) in enumerate(typed):
        if position:
            page.keyboard.press("Tab")
        assert focused_id(page) == field_id
        page.keyboard.type(text)
    assert page.locator("#language").input_value() == "en"
    page.keyboard.press("Tab")
    assert focused_id(page) == "terms"
    page.keyboard.press("Space")
    assert page.locator("#terms").is_checked()
    tab_to(page, "Register")
    press_enter_and_wait(page)

    assert page.locator("h1").inner_text() == "Verify your email address"
    assert "rosa@example.org" in page.locator("main").inner_text()
    assert page.locator("#delivery").inner_text() in {
        "The mail is on its way.",
        "The mail was sent. It can take a minute to arrive; look in the spam folder too.",
    }
    mailed = mailed_code(live.mail.inbox.wait_for_mail_to("rosa@example.org"))
    user_id = mailed.query["userID"]
    wait_for_focus(page, "code")
    page.keyboard.type(mailed.code)
    with page.expect_request(f"{REDIRECT_URI}?*") as reached:
        page.keyboard.press("Enter")

    claims = app.tokens_for(reached.value.url)
    assert claims["sub"] == user_id
    assert claims["email"] == "rosa@example.org" and claims["email_verified"] is True
    assert claims["name"] == "Rosa Parks"
    assert problems == []
    app.close()
    context.close()


def test_reset_a_forgotten_password_from_the_mail(browser: Browser, live: Live) -> None:
    context = browser.new_context(locale="en-US")
    page, problems = new_page(context)
    app = Application(live)
    page.goto(app.authorization_url())
    wait_for_focus(page, "login_name")
    page.keyboard.type("alice")
    press_enter_and_wait(page)
    assert page.locator("h1").inner_text() == "Enter your password"
    wait_for_focus(page, "password")
    tab_to(page, "Forgot your password?")
    press_enter_and_wait(page)

    assert page.locator("h1").inner_text() == "Reset your password"
    mailed = mailed_code(live.mail.inbox.wait_for_mail_to("alice@example.org"))
    assert mailed.query["userID"] == live.alice_id
    page.goto(mailed.link)  # the mail's link, in the browser that asked: the same sign-in
    assert page.locator("h1").inner_text() == "Reset your password"
    assert page.locator("#code").input_value() == mailed.code
    assert page.locator("#login_name").input_value() == "alice"
    wait_for_focus(page, "code")
    page.keyboard.press("Tab")
    assert focused_id(page) == "password"
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Tab")
    assert focused_id(page) == "password_repeat"
    page.keyboard.type(NEW_PASSWORD)
    with page.expect_request(f"{REDIRECT_URI}?*") as reached:
        page.keyboard.press("Enter")

    claims = app.tokens_for(reached.value.url)
    assert claims["sub"] == live.alice_id and claims["email_verified"] is True
    assert problems == []
    app.close()
    context.close()

    # The new password signs in elsewhere; the old one no longer does.
    fresh = browser.new_context(locale="en-US")
    again, _ = new_page(fresh)
    again.goto(live.url + paths.LOGIN)
    again.get_by_label("Login name").fill("alice")
    again.get_by_role("button", name="Next").click()
    again.get_by_label("Password", exact=True).fill(ALICE_PASSWORD)
    again.get_by_role("button", name="Sign in").click()
    assert again.locator("#password-error").count() == 1
    again.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    again.get_by_role("button", name="Sign in").click()
    assert again.url == live.url + paths.LOGIN_SIGNED_IN
    fresh.close()
