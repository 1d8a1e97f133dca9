"""Every second factor and passkeys through the hosted login in a real browser (Debian's
chromium) against uvicorn at http://localhost (WebAuthn refuses an IP address as its RP id):
TOTP with its replay refused, codes by email (aiosmtpd) and by SMS (an HTTP sink), a security
key and passkeys on Chromium's virtual authenticators (the button and the autofill of the
login-name field), recovery codes, forced MFA that gives the application no code without a
factor, and a cancelled ceremony the page explains. The ID tokens are read by authlib's client.

Each test has a user of its own; the server, the mail server, the SMS sink and the browser
are the module's. What the store holds is read from the SQLite file itself (tests/dbfile.py).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx2
import pyotp
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.dbfile import rows
from tests.live_server import chromium, serving
from tests.mail_fixtures import MailServer, text_of, use_smtp
from tests.processes import free_port
from tests.sms_sink import SmsSink
from tests.test_server_browser import CHROMIUM
from zitui.config import Settings
from zitui.core.apps import NewOidcApp
from zitui.core.context import Context, RequestMeta
from zitui.core.services import Services, open_services
from zitui.core.sms import SmsSettings
from zitui.core.users import NewHumanUser
from zitui.records import AppType, AuthMethod
from zitui.server import paths

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")

T = TypeVar("T")
PASSWORD = "Factor-Pass-12!"
REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"  # nothing listens: see the request
PHONE = "+41 79 123 45 67"
MAIL_CODE = re.compile(r"^ {4}([0-9]{8})$", re.MULTILINE)
SMS_CODE = re.compile(r"\b([0-9]{8})\b")
TOTP_STEP_S = 30
WRONG_CODE = "This code is wrong or was used already"
CANCELLED = "The security key or passkey was not used, or the time ran out. Try again."
FORCED = "A second factor must be set up to sign in here."

SECURITY_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": False,
    "automaticPresenceSimulation": True,
}
PASSKEY_HOLDER = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
# Headless Chromium has no autofill UI to offer a passkey in; these tell the page whether it
# has one, so a test decides whether the login-name page starts a conditional request.
AUTOFILL_AVAILABLE = (
    "if (window.PublicKeyCredential) {"
    " PublicKeyCredential.isConditionalMediationAvailable = async () => true; }"
)
NO_AUTOFILL = (
    "if (window.PublicKeyCredential) {"
    " PublicKeyCredential.isConditionalMediationAvailable = async () => false; }"
)


class Core:
    """Services of their own on the server's data directory, on an event loop in a thread of
    their own, as the console in another process would hold them."""

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.services: Services = self.run(open_services(settings))[0]
        login = self.run(self.services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta()))
        self.admin: Context = login.context

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=60)

    def close(self) -> None:
        self.run(self.services.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@dataclass
class Live:
    url: str
    settings: Settings
    core: Core
    mail: MailServer
    sms: SmsSink
    client_id: str
    client_secret: str
    strict_org_id: str  # an organisation whose login policy forces MFA

    def add_user(self, username: str, org_id: str = "", **extra: Any) -> tuple[str, str]:
        """A user with PASSWORD in the default organisation (or `org_id`): (id, login name)."""

        async def create() -> tuple[str, str]:
            services, admin = self.core.services, self.core.admin
            org = org_id or (await services.instance.get_instance(admin)).default_org_id
            new = NewHumanUser(
                username=username, first_name=username.title(), last_name="F", password=PASSWORD
            )
            user = await services.users.create_human_user(admin, org, replace(new, **extra))
            return user.id, user.login_name

        return self.core.run(create())

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        return rows(self.settings.data_dir, sql, *params)

    def factors(self, user_id: str) -> list[tuple[object, ...]]:
        """The user's factors: (kind, state, name, transports), oldest first."""
        return self.rows(
            "SELECT kind, state, name, transports FROM user_factors WHERE user_id = ?"
            " ORDER BY created_at",
            user_id,
        )

    def recovery_codes_left(self, user_id: str) -> int:
        sql = "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL"
        return int(str(self.rows(sql, user_id)[0][0]))

    def sessions(self, user_id: str) -> list[dict[str, object]]:
        """The user's live sessions: what each checked, newest first."""
        columns = (
            "password_checked_at",
            "second_factor_checked_at",
            "multi_factor_checked_at",
            "second_factor_kind",
        )
        found = self.rows(
            f"SELECT {', '.join(columns)} FROM sessions"
            " WHERE user_id = ? AND terminated_at IS NULL ORDER BY created_at DESC",
            user_id,
        )
        return [dict(zip(columns, row, strict=True)) for row in found]

    def events(self, event_type: str, user_id: str) -> int:
        sql = "SELECT count(*) FROM events WHERE event_type = ? AND aggregate_id = ?"
        return int(str(self.rows(sql, event_type, user_id)[0][0]))


async def prepare(core: Core, mail: MailServer, sms: SmsSink) -> tuple[str, str, str]:
    """Mail to `mail`, SMS to `sms`, the MFA prompt on with every second factor, a web
    application, and an organisation that forces MFA: (client id, secret, its id)."""
    services, admin = core.services, core.admin
    await use_smtp(services, admin, mail)
    await services.sms.set_sms(admin, SmsSettings(kind="http", url=sms.url, token=None))
    factors = {
        "mfa_init_skip_lifetime_s": 720 * 3600,
        "second_factors": ("otp", "u2f", "otp_email", "otp_sms"),
    }
    await services.policies.set(admin, "login", factors)
    strict = await services.orgs.create_org(admin, "Strict")
    await services.policies.set(admin, "login", {"force_mfa": True}, strict.id)
    org_id = (await services.instance.get_instance(admin)).default_org_id
    project = await services.projects.create_project(admin, org_id, "Portal")
    new = NewOidcApp(
        name="Portal",
        app_type=AppType.WEB,
        auth_method=AuthMethod.BASIC,
        redirect_uris=[REDIRECT_URI],
        dev_mode=True,
    )
    app, secret = await services.apps.create_oidc_app(admin, project.id, new)
    assert secret is not None
    return app.client_id, secret, strict.id


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        listen=f"127.0.0.1:{port}",
        external_url=f"http://localhost:{port}",
        outbox_interval_s=1,  # the server's sender looks every second
    )
    mail, sms = MailServer(), SmsSink(SMS_CODE)
    mail.start()
    core = Core(settings)
    client_id, secret, strict_org_id = core.run(prepare(core, mail, sms))
    try:
        with serving(settings):
            yield Live(settings.issuer, settings, core, mail, sms, client_id, secret, strict_org_id)
    finally:
        core.close()
        sms.stop()
        mail.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def profile(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile in English; no page of it may throw (webauthn.js included)."""
    context = browser.new_context(locale="en-US")
    thrown: list[str] = []
    context.on("page", lambda page: page.on("pageerror", lambda error: thrown.append(str(error))))
    yield context
    context.close()
    assert thrown == []


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    yield from profile(browser)


@pytest.fixture
def other(browser: Browser) -> Iterator[BrowserContext]:
    """A second browser: a sign-in elsewhere, with no session of the first."""
    yield from profile(browser)


class Application:
    """The application's side: authlib's OAuth 2.0 client, and the ID token it gets."""

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
            scope="openid profile",
            nonce=self.nonce,
            code_verifier=self.verifier,
        )
        return str(url)

    def claims_for(self, callback_url: str) -> dict[str, Any]:
        """The code the browser brought back, exchanged: the ID token's claims."""
        token = self.oauth.fetch_token(
            self.live.url + paths.TOKEN,
            authorization_response=callback_url,
            redirect_uri=REDIRECT_URI,
            code_verifier=self.verifier,
            state=self.state,
        )
        keys = KeySet.import_key_set(httpx2.get(self.live.url + paths.KEYS).json())
        claims = dict(jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims)
        assert claims["iss"] == self.live.url and claims["nonce"] == self.nonce
        return claims

    def close(self) -> None:
        self.oauth.close()


@pytest.fixture
def app(live: Live) -> Iterator[Application]:
    application = Application(live)
    yield application
    application.close()


# --- the pages, as a user goes through them ---------------------------------------------------


def heading(page: Page) -> str:
    return page.locator("h1").inner_text()


def press_enter(page: Page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def click(page: Page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def press(page: Page, button: str) -> None:
    """Press the button named `button` and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def type_into(page: Page, element_id: str, text: str) -> None:
    """Wait for the page's autofocus to reach `element_id`, type `text` and press Enter."""
    # Playwright's own matcher: a string predicate would be evaluated with eval, which the
    # pages' Content-Security-Policy refuses whenever the first check fails.
    expect(page.locator(f"#{element_id}")).to_be_focused(timeout=5000)
    page.keyboard.type(text)
    press_enter(page)


def sign_in_with_password(page: Page, start: str, login_name: str) -> None:
    """From `start` (the login page or an application's authorization URL): the login name
    and the password, with the keyboard."""
    page.goto(start)
    assert heading(page) == "Welcome back!"
    type_into(page, "login_name", login_name)
    assert heading(page) == "Enter your password"
    type_into(page, "password", PASSWORD)


def field_error(page: Page) -> str:
    return page.locator("#code-error").inner_text()


def alert(page: Page) -> str:
    return page.locator(".alert").first.inner_text()


def recovery_codes(page: Page) -> list[str]:
    """The codes shown once after the first factor; then "Continue"."""
    assert heading(page) == "Your recovery codes"
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    press(page, "Continue")
    return codes


def assert_signed_in(page: Page, live: Live, login_name: str) -> None:
    assert page.url == live.url + paths.LOGIN_SIGNED_IN
    assert heading(page) == "You are signed in"
    assert login_name in page.locator(".account-login").all_inner_texts()


def sign_out(page: Page, live: Live) -> None:
    press(page, "Sign out of all accounts")
    assert page.url == live.url + paths.LOGOUT_DONE


def back_to_application(page: Page, app: Application, button: str) -> dict[str, Any]:
    """Press the button named `button` on a page whose answer sends the browser back to the
    application: the ID token's claims."""
    with page.expect_request(f"{REDIRECT_URI}?*") as reached:
        page.get_by_role("button", name=button, exact=True).click()
    return app.claims_for(reached.value.url)


def with_authenticator(page: Page, options: dict[str, Any]) -> Callable[[bool], None]:
    """Chromium's virtual authenticator with `options`, for the page's WebAuthn requests: a
    function that sets whether it verifies its user from now on."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})

    def user_verified(verified: bool) -> None:
        who = {"authenticatorId": added["authenticatorId"], "isUserVerified": verified}
        cdp.send("WebAuthn.setUserVerified", who)

    return user_verified


def totp_code(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret).generate_otp(step))


def set_up_totp(page: Page) -> tuple[str, int]:
    """From the prompt: the authenticator app, its secret read from the page, and the code of
    now's time step typed in: (secret, the step that code belongs to)."""
    assert heading(page) == "Set up a second factor"
    press(page, "Authenticator app")
    assert heading(page) == "Set up your authenticator app"
    secret = page.locator("#totp-secret").inner_text()
    step = int(time.time()) // TOTP_STEP_S
    type_into(page, "code", totp_code(secret, step))
    return secret, step


def mailed_code(live: Live, email: str, count: int) -> str:
    """The code of the `count`-th mail (from 1) to `email`, once it has arrived."""
    text = text_of(live.mail.inbox.wait_for_mail_to(email, count))
    [code] = MAIL_CODE.findall(text)
    return str(code)


# --- the journeys ---------------------------------------------------------------------------


def test_totp_set_up_at_the_prompt_signs_in_again_and_refuses_a_replayed_code(
    context: BrowserContext, other: BrowserContext, live: Live
) -> None:
    user_id, login_name = live.add_user("tara")
    page = context.new_page()
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    assert page.locator("#skip").count() == 1
    secret, step = set_up_totp(page)
    recovery_codes(page)
    assert_signed_in(page, live, login_name)
    assert live.factors(user_id) == [("totp", "ready", "Authenticator app", None)]
    assert live.rows("SELECT last_step FROM user_factors WHERE user_id = ?", user_id) == [(step,)]
    assert live.recovery_codes_left(user_id) == 10
    sign_out(page, live)

    # Again: the password, then the app's code. The set-up spent `step`; the code of the step
    # after it is taken while the server's clock is within a step of that (up to a minute
    # after the set-up), so the boundaries of the real clock cannot make this fail.
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    assert heading(page) == "Confirm it is you"
    assert page.locator("#skip").count() == 0
    code = totp_code(secret, step + 1)
    type_into(page, "code", code)
    assert_signed_in(page, live, login_name)
    [session] = live.sessions(user_id)
    assert session["second_factor_kind"] == "totp" and session["password_checked_at"]

    # The same code in another browser is refused: its time step was taken.
    elsewhere = other.new_page()
    sign_in_with_password(elsewhere, live.url + paths.LOGIN, login_name)
    failures = live.events("user.human.mfa.otp.check.failed", user_id)
    type_into(elsewhere, "code", code)
    assert heading(elsewhere) == "Confirm it is you"
    assert WRONG_CODE in field_error(elsewhere)
    assert live.events("user.human.mfa.otp.check.failed", user_id) == failures + 1
    assert live.rows("SELECT last_step FROM user_factors WHERE user_id = ?", user_id) == [
        (step + 1,)
    ]


def test_a_code_by_email_is_set_up_asked_again_and_resent(
    context: BrowserContext, other: BrowserContext, live: Live
) -> None:
    email = "emma@example.org"
    user_id, login_name = live.add_user("emma", email=email, email_verified=True)
    page = context.new_page()
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    press(page, "Code by email")
    assert heading(page) == "Confirm it is you"
    assert "e•••@example.org" in page.locator("#sent-to").inner_text()
    type_into(page, "code", mailed_code(live, email, 1))
    recovery_codes(page)
    assert_signed_in(page, live, login_name)
    assert live.factors(user_id) == [("otp_email", "ready", "Email", None)]

    # Another browser: the code is mailed as soon as the password is right.
    page = other.new_page()
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    assert heading(page) == "Confirm it is you"
    first = mailed_code(live, email, 2)
    press(page, "Send a new code")
    second = mailed_code(live, email, 3)
    assert second != first
    type_into(page, "code", first)
    assert WRONG_CODE in field_error(page)
    page.locator("#code").fill(second)
    press_enter(page)
    assert_signed_in(page, live, login_name)
    assert live.sessions(user_id)[0]["second_factor_kind"] == "otp_email"


def test_a_code_by_sms_is_set_up_from_the_prompt(context: BrowserContext, live: Live) -> None:
    user_id, login_name = live.add_user("sam", phone=PHONE, phone_verified=True)
    page = context.new_page()
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    press(page, "Code by SMS")
    assert heading(page) == "Confirm it is you"
    assert "+41" in page.locator("#sent-to").inner_text()
    assert "67" in page.locator("#sent-to").inner_text()
    type_into(page, "code", live.sms.code_number(1, "+41791234567"))
    recovery_codes(page)
    assert_signed_in(page, live, login_name)
    assert live.factors(user_id) == [("otp_sms", "ready", "SMS", None)]
    assert live.sessions(user_id)[0]["second_factor_kind"] == "otp_sms"


def test_a_security_key_is_registered_then_signs_in_after_the_password(
    context: BrowserContext, live: Live, app: Application
) -> None:
    user_id, login_name = live.add_user("kim")
    page = context.new_page()
    with_authenticator(page, SECURITY_KEY)
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    press(page, "Security key")
    assert heading(page) == "Register your security key"
    page.get_by_label("Name (optional)").fill("Blue key")
    press(page, "Register security key")
    recovery_codes(page)
    assert_signed_in(page, live, login_name)
    assert live.factors(user_id) == [("u2f", "ready", "Blue key", '["usb"]')]
    sign_out(page, live)

    # The application asks; the password, then the key.
    sign_in_with_password(page, app.authorization_url(), login_name)
    assert heading(page) == "Confirm it is you"
    assert page.locator("#sent-to").count() == 0
    claims = back_to_application(page, app, "Use security key")
    assert claims["sub"] == user_id
    assert {"pwd", "hwk", "mfa"} <= set(claims["amr"]) and "otp" not in claims["amr"]
    assert live.sessions(user_id)[0]["second_factor_kind"] == "u2f"


def register_passkey_at_the_prompt(page: Page, live: Live, login_name: str) -> None:
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    press(page, "Passkey")
    assert heading(page) == "Create a passkey"
    press(page, "Create passkey")
    recovery_codes(page)
    assert_signed_in(page, live, login_name)
    sign_out(page, live)


def test_a_passkey_from_the_prompt_signs_in_without_a_password(
    context: BrowserContext, live: Live, app: Application
) -> None:
    user_id, login_name = live.add_user("pia")
    page = context.new_page()
    page.add_init_script(NO_AUTOFILL)  # only the button signs in here
    with_authenticator(page, PASSKEY_HOLDER)
    register_passkey_at_the_prompt(page, live, login_name)
    assert live.factors(user_id) == [("passkey", "ready", "Passkey", '["internal"]')]

    page.goto(app.authorization_url())
    assert heading(page) == "Welcome back!"
    claims = back_to_application(page, app, "Sign in with a passkey")
    assert claims["sub"] == user_id
    assert {"user", "hwk", "mfa"} <= set(claims["amr"]) and "pwd" not in claims["amr"]
    session = live.sessions(user_id)[0]
    assert session["multi_factor_checked_at"] and session["password_checked_at"] is None


def test_a_passkey_offered_by_autofill_signs_in(context: BrowserContext, live: Live) -> None:
    user_id, login_name = live.add_user("ada")
    page = context.new_page()
    page.add_init_script(NO_AUTOFILL)
    with_authenticator(page, PASSKEY_HOLDER)
    register_passkey_at_the_prompt(page, live, login_name)

    # The page asks for a passkey as soon as it loads; the authenticator answers at once.
    page.add_init_script(AUTOFILL_AVAILABLE)
    # Only the first response is waited for: the sign-in may post before the page's load.
    page.goto(live.url + paths.LOGIN, wait_until="commit")
    page.wait_for_url(live.url + paths.LOGIN_SIGNED_IN)
    assert_signed_in(page, live, login_name)
    session = live.sessions(user_id)[0]
    assert session["multi_factor_checked_at"] and session["password_checked_at"] is None


def test_a_recovery_code_stands_in_for_the_app_once(
    context: BrowserContext, other: BrowserContext, live: Live
) -> None:
    user_id, login_name = live.add_user("rex")
    page = context.new_page()
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    set_up_totp(page)
    [code, *_] = recovery_codes(page)
    sign_out(page, live)

    # The phone is lost: the code field takes a recovery code.
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    assert "Lost your device?" in page.locator("#recovery-hint").inner_text()
    assert "(10 left)" in page.locator("#recovery-hint").inner_text()
    type_into(page, "code", code)
    assert_signed_in(page, live, login_name)
    assert live.recovery_codes_left(user_id) == 9
    assert live.sessions(user_id)[0]["second_factor_kind"] == "recovery"

    elsewhere = other.new_page()
    sign_in_with_password(elsewhere, live.url + paths.LOGIN, login_name)
    assert "(9 left)" in elsewhere.locator("#recovery-hint").inner_text()
    type_into(elsewhere, "code", code)
    assert heading(elsewhere) == "Confirm it is you"
    assert WRONG_CODE in field_error(elsewhere)
    assert live.recovery_codes_left(user_id) == 9


def latest_auth_request(live: Live) -> tuple[str, str]:
    """The application's newest authorization request: (id, status)."""
    [(request_id, status)] = live.rows(
        "SELECT id, status FROM auth_requests WHERE client_id = ? ORDER BY created_at DESC LIMIT 1",
        live.client_id,
    )
    return str(request_id), str(status)


def codes_issued(live: Live, auth_request_id: str) -> int:
    sql = "SELECT count(*) FROM auth_codes WHERE auth_request_id = ?"
    return int(str(live.rows(sql, auth_request_id)[0][0]))


def test_forced_mfa_gives_the_application_no_code_without_a_factor(
    context: BrowserContext, live: Live, app: Application
) -> None:
    user_id, login_name = live.add_user("fox", org_id=live.strict_org_id)
    page = context.new_page()
    reached: list[str] = []
    page.on("request", lambda r: reached.append(r.url) if r.url.startswith(REDIRECT_URI) else None)
    sign_in_with_password(page, app.authorization_url(), login_name)
    assert heading(page) == "Set up a second factor"
    assert "This organisation requires a second factor." in page.locator("main").inner_text()
    assert page.locator("#skip").count() == 0
    auth_request_id, _ = latest_auth_request(live)

    # A skip posted all the same (a button added to the form) is refused on the prompt.
    page.evaluate(
        """() => {
          const skip = document.createElement("button");
          skip.name = "skip"; skip.value = "1"; skip.id = "forged-skip"; skip.textContent = "x";
          document.querySelector('form[action$="/mfa/prompt"]').appendChild(skip);
        }"""
    )
    with page.expect_navigation() as refused:
        page.click("#forged-skip")
    response = refused.value
    assert response is not None and response.status == 412
    assert FORCED in alert(page)
    assert reached == [] and codes_issued(live, auth_request_id) == 0
    # The login's hand-back, asked for with the browser's cookie: the application would learn
    # that the user did not sign in, and get no code.
    callback = f"{live.url}{paths.AUTHORIZE_CALLBACK}?id={auth_request_id}"
    denied = page.request.get(callback, max_redirects=0)
    assert denied.status in (302, 303) and denied.headers["location"].startswith(REDIRECT_URI)
    answer = parse_qs(urlsplit(denied.headers["location"]).query)
    assert answer["error"] == ["access_denied"] and "code" not in answer
    assert codes_issued(live, auth_request_id) == 0
    assert live.rows("SELECT status FROM auth_requests WHERE id = ?", auth_request_id) == [
        ("pending",)
    ]

    # Asked again, with a factor set up now, the application gets its code.
    page.goto(app.authorization_url())
    assert heading(page) == "Choose an account"
    click(page, "button.account")
    assert page.locator("#skip").count() == 0
    set_up_totp(page)
    assert heading(page) == "Your recovery codes"
    claims = back_to_application(page, app, "Continue")
    assert claims["sub"] == user_id and {"pwd", "otp", "mfa"} <= set(claims["amr"])


def test_a_cancelled_ceremony_is_explained_and_another_way_works(
    context: BrowserContext, live: Live
) -> None:
    user_id, login_name = live.add_user("cal")
    page = context.new_page()
    # The device cannot verify its user, so a passkey (which needs that) is not created.
    with_authenticator(page, {**PASSKEY_HOLDER, "isUserVerified": False})
    sign_in_with_password(page, live.url + paths.LOGIN, login_name)
    press(page, "Passkey")
    press(page, "Create passkey")
    assert heading(page) == "Create a passkey"
    assert CANCELLED in alert(page)
    assert live.factors(user_id) == []

    press(page, "Choose another way")
    set_up_totp(page)
    recovery_codes(page)
    assert_signed_in(page, live, login_name)
    assert [kind for kind, *_ in live.factors(user_id)] == ["totp"]


def test_a_refused_passkey_sign_in_is_explained_and_the_password_path_goes_on(
    context: BrowserContext, live: Live
) -> None:
    user_id, login_name = live.add_user("liv")
    page = context.new_page()
    page.add_init_script(NO_AUTOFILL)
    user_verified = with_authenticator(page, PASSKEY_HOLDER)
    register_passkey_at_the_prompt(page, live, login_name)

    # The device does not verify its user now: the passkey sign-in is refused and says why.
    user_verified(False)
    page.goto(live.url + paths.LOGIN)
    press(page, "Sign in with a passkey")
    assert heading(page) == "Welcome back!"
    assert CANCELLED in alert(page)
    assert live.sessions(user_id) == []

    # The login name and the password instead; then the passkey as the second factor.
    page.get_by_label("Login name").fill(login_name)
    press(page, "Next")
    assert heading(page) == "Enter your password"
    type_into(page, "password", PASSWORD)
    assert heading(page) == "Confirm it is you"
    user_verified(True)
    press(page, "Use passkey")
    assert_signed_in(page, live, login_name)
    [session] = live.sessions(user_id)
    assert session["password_checked_at"] and session["multi_factor_checked_at"]
