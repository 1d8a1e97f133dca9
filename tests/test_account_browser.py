"""The account pages at /ui/console/users/me in a real browser (Debian's chromium) against
uvicorn at http://localhost (WebAuthn refuses an IP address as its RP id): the profile and the
password with the keyboard alone, an email change verified with the code aiosmtpd received, a
phone number verified with the code an HTTP SMS sink received, factors added through the
login's set-up pages (an authenticator app, a passkey on Chromium's virtual authenticator),
the password asked again when the sign-in is old, a session ended from another browser, and
the account deleted.

Each test has a user of its own; the server, the mail server, the SMS sink and the browser are
the module's. What the store holds is read from the SQLite file itself (tests/dbfile.py). No
page may throw or log an error to the console; a page answered with 4xx (a refused form) logs
its status, which each test checks instead.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
)

from tests.conftest import make_settings
from tests.dbfile import rows
from tests.live_server import chromium, serving
from tests.mail_fixtures import MailServer, mailed_code, use_smtp
from tests.processes import free_port
from tests.sms_sink import SmsSink
from tests.test_login_factors_browser import (
    NO_AUTOFILL,
    PASSKEY_HOLDER,
    Core,
    with_authenticator,
)
from tests.test_server_browser import CHROMIUM
from zitui.config import Settings
from zitui.core.sms import SmsSettings
from zitui.core.users import NewHumanUser
from zitui.server import paths

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")

PASSWORD = "Account-Pass-12!"
NEW_PASSWORD = "Quite-New-Pass-7?"
PHONE, PHONE_E164 = "+41 79 123 45 67", "+41791234567"
SMS_CODE = re.compile(r"\b([A-Z0-9]{6})\b")
REFUSED_LOAD = "Failed to load resource: the server responded with a status of 4"
REAUTH_WINDOW = timedelta(minutes=10)  # Settings.reauth_window_s's default
STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how the SQLite store writes a UTC timestamp
NO_PROMPT = {
    "mfa_init_skip_lifetime_s": 0,  # no prompt to set up a second factor after the password
    "second_factors": ("otp", "u2f", "otp_email", "otp_sms"),
}


@dataclass
class Live:
    url: str
    settings: Settings
    core: Core
    mail: MailServer
    sms: SmsSink
    leavers_org_id: str  # an organisation whose login policy lets users delete themselves

    def add_user(self, username: str, org_id: str = "", **extra: Any) -> tuple[str, str]:
        """A user with PASSWORD in the default organisation (or `org_id`): (id, login name)."""

        async def create() -> tuple[str, str]:
            services, admin = self.core.services, self.core.admin
            org = org_id or (await services.instance.get_instance(admin)).default_org_id
            new = NewHumanUser(
                username=username, first_name=username.title(), last_name="A", password=PASSWORD
            )
            user = await services.users.create_human_user(admin, org, replace(new, **extra))
            return user.id, user.login_name

        return self.core.run(create())

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        return rows(self.settings.data_dir, sql, *params)

    def user(self, user_id: str, *columns: str) -> tuple[object, ...] | None:
        found = self.rows(f"SELECT {', '.join(columns)} FROM users WHERE id = ?", user_id)
        return found[0] if found else None

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

    def live_sessions(self, user_id: str) -> list[tuple[object, ...]]:
        """The user's sessions not ended: (id, password_checked_at, multi_factor_checked_at)."""
        return self.rows(
            "SELECT id, password_checked_at, multi_factor_checked_at FROM sessions"
            " WHERE user_id = ? AND terminated_at IS NULL ORDER BY created_at",
            user_id,
        )

    def events(self, event_type: str, user_id: str) -> list[tuple[object, ...]]:
        """(actor id, payload) of each event of `event_type` on the user, oldest first."""
        sql = (
            "SELECT actor_id, payload FROM events WHERE event_type = ? AND aggregate_id = ?"
            " ORDER BY created_at"
        )
        return self.rows(sql, event_type, user_id)

    def age_first_factor(self, user_id: str, by: timedelta) -> datetime:
        """Move the password check of the user's one session `by` into the past, as if it had
        been made that long ago; the new time."""
        [(session_id, checked, _)] = self.live_sessions(user_id)
        aged = datetime.fromisoformat(str(checked)) - by
        with sqlite3.connect(self.settings.data_dir / "zitui.db") as conn:
            conn.execute(
                "UPDATE sessions SET password_checked_at = ? WHERE id = ?",
                (aged.strftime(STORED_TIME), session_id),
            )
        conn.close()
        return aged


async def prepare(core: Core, mail: MailServer, sms: SmsSink) -> str:
    """Mail to `mail`, SMS to `sms`, no set-up prompt after the password, every second factor,
    and an organisation whose users may delete themselves: its id."""
    services, admin = core.services, core.admin
    await use_smtp(services, admin, mail)
    await services.sms.set_sms(admin, SmsSettings(kind="http", url=sms.url, token=None))
    await services.policies.set(admin, "login", NO_PROMPT)
    leavers = await services.orgs.create_org(admin, "Leavers")
    # Without registration, its domain discovers no sign-up for an unknown name.
    leaving = {**NO_PROMPT, "allow_self_delete": True, "allow_register": False}
    await services.policies.set(admin, "login", leaving, leavers.id)
    return leavers.id


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
    leavers_org_id = core.run(prepare(core, mail, sms))
    try:
        with serving(settings):
            yield Live(settings.issuer, settings, core, mail, sms, leavers_org_id)
    finally:
        core.close()
        sms.stop()
        mail.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def profiles(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """New browser profiles in English; none of their pages may throw or log an error."""
    opened: list[BrowserContext] = []
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(REFUSED_LOAD):
            problems.append(message.text)

    def watch(page: Page) -> None:
        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(str(error)))

    def new_profile() -> BrowserContext:
        context = browser.new_context(locale="en-US")
        context.set_default_timeout(10_000)
        context.on("page", watch)
        opened.append(context)
        return context

    yield new_profile
    for context in opened:
        context.close()
    assert problems == []


@pytest.fixture
def page(profiles: Callable[[], BrowserContext]) -> Page:
    return profiles().new_page()


# --- the pages, as a user goes through them ---------------------------------------------------


def heading(page: Page) -> str:
    return page.locator("h1").inner_text()


def text(page: Page, element_id: str) -> str:
    return page.locator(f"#{element_id}").inner_text()


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id"))


def press_enter(page: Page) -> int:
    """Enter on the focused element, which submits its form: the answer's status."""
    with page.expect_navigation() as answered:
        page.keyboard.press("Enter")
    response = answered.value
    assert response is not None
    return response.status


def press(page: Page, button: str) -> int:
    """Press the button named `button` and wait for the page it leads to: its status."""
    with page.expect_navigation() as answered:
        page.get_by_role("button", name=button, exact=True).click()
    response = answered.value
    assert response is not None
    return response.status


def click(page: Page, selector: str) -> int:
    with page.expect_navigation() as answered:
        page.click(selector)
    response = answered.value
    assert response is not None
    return response.status


def tab_to(page: Page, element_id: str, *, back: bool = False) -> None:
    """Tab (or Shift+Tab) until the element `element_id` has the focus."""
    tab_until(page, f"document.activeElement.id === {element_id!r}", back=back)


def tab_until(page: Page, focused: str, *, back: bool = False) -> None:
    """Tab (or Shift+Tab) until the expression `focused` holds of the focused element."""
    for _ in range(40):
        if page.evaluate(focused):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    pytest.fail(f"{focused} never holds while tabbing through the page")


def retype(page: Page, text: str) -> None:
    """Replace what the focused field holds with `text`, typed."""
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def type_into(page: Page, element_id: str, text: str) -> int:
    """Wait for the page's autofocus to reach `element_id`, type `text` and press Enter."""
    # Playwright's own matcher: a string predicate would be evaluated with eval, which the
    # pages' Content-Security-Policy refuses whenever the first check fails.
    expect(page.locator(f"#{element_id}")).to_be_focused(timeout=5000)
    page.keyboard.type(text)
    return press_enter(page)


def sign_in(page: Page, live: Live, login_name: str, password: str = PASSWORD) -> None:
    """The login name and the password on the hosted login, with the keyboard."""
    page.goto(live.url + paths.LOGIN)
    assert heading(page) == "Welcome back!"
    type_into(page, "login_name", login_name)
    assert heading(page) == "Enter your password"
    type_into(page, "password", password)
    assert page.url == live.url + paths.LOGIN_SIGNED_IN
    assert login_name in page.locator(".account-login").all_inner_texts()


def open_account(page: Page, live: Live) -> None:
    """From the signed-in page, its link to the account, with the keyboard."""
    assert heading(page) == "You are signed in"
    tab_to(page, "account-1")
    press_enter(page)
    assert page.url.startswith(live.url + paths.ACCOUNT + "?account=")
    assert heading(page) == "Your profile"


def go_to(page: Page, live: Live, path: str) -> None:
    response = page.goto(live.url + path)
    assert response is not None and response.status == 200


def codes_on(page: Page) -> list[str]:
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert heading(page) == "Your recovery codes"
    assert len(codes) == 10 and len(set(codes)) == 10
    return codes


def sign_out_everywhere(page: Page, live: Live) -> None:
    press(page, "Sign out of every account on this browser")
    assert page.url == live.url + paths.LOGOUT_DONE


# --- the journeys ---------------------------------------------------------------------------


def test_the_profile_is_changed_with_the_keyboard_and_speaks_the_new_language(
    page: Page, live: Live
) -> None:
    user_id, login_name = live.add_user("paula")
    sign_in(page, live, login_name)
    open_account(page, live)
    assert text(page, "account-who") == f"Signed in as Paula A ({login_name})"

    tab_to(page, "first_name")
    retype(page, "Paola")
    tab_to(page, "display_name")
    retype(page, "Paola from Bern")
    tab_to(page, "preferred_language")
    page.keyboard.type("Deutsch")  # the select's type-ahead
    assert page.locator("#preferred_language").input_value() == "de"
    tab_to(page, "save-profile")
    assert press_enter(page) == 200

    assert text(page, "notice") == "Ihr Profil wurde gespeichert."
    assert page.locator("html").get_attribute("lang") == "de"
    assert heading(page) == "Ihr Profil"
    assert "Paola from Bern" in text(page, "account-who")
    assert page.locator("#first_name").input_value() == "Paola"
    assert live.user(user_id, "first_name", "display_name", "preferred_language") == (
        "Paola",
        "Paola from Bern",
        "de",
    )
    [(actor, payload)] = live.events("user.human.profile.changed", user_id)
    assert actor == user_id and json.loads(str(payload))["first_name"] == "Paola"


def test_a_new_email_address_is_verified_with_the_mailed_code(page: Page, live: Live) -> None:
    user_id, login_name = live.add_user("erin", email="erin@example.org", email_verified=True)
    sign_in(page, live, login_name)
    go_to(page, live, paths.ACCOUNT)
    assert text(page, "email-state") == "erin@example.org · verified"

    page.locator("#email").fill("erin@new.example")
    press(page, "Change email address")
    assert text(page, "notice") == "We sent a code to your new email address."
    assert text(page, "email-state") == "erin@new.example · not verified"
    assert "erin@new.example" in text(page, "email-sent")
    code = mailed_code(live.mail.inbox.wait_for_mail_to("erin@new.example")).code
    assert live.user(user_id, "email", "email_verified") == ("erin@new.example", 0)

    wrong = "ZZZZZ9" if code != "ZZZZZ9" else "ZZZZZ8"
    page.locator("#email_code").fill(wrong)
    assert click(page, "#verify-email") == 400
    assert text(page, "email_code-error")
    assert focused_id(page) == "email_code"  # back on the field that needs fixing
    assert text(page, "email-state") == "erin@new.example · not verified"

    retype(page, code)
    assert press_enter(page) == 200
    assert text(page, "notice") == "Your email address is verified."
    assert text(page, "email-state") == "erin@new.example · verified"
    assert page.locator("#email_code").count() == 0
    assert live.user(user_id, "email", "email_verified") == ("erin@new.example", 1)
    assert len(live.events("user.human.email.verified", user_id)) == 1


def test_a_phone_number_is_added_verified_by_sms_and_removed(page: Page, live: Live) -> None:
    user_id, login_name = live.add_user("phil")
    sign_in(page, live, login_name)
    go_to(page, live, paths.ACCOUNT)
    assert text(page, "phone-state") == "No phone number yet."

    page.locator("#phone").fill(PHONE)
    press(page, "Change phone number")
    assert text(page, "notice") == "We sent a code by SMS to your new phone number."
    assert text(page, "phone-state").endswith("· not verified")
    page.locator("#phone_code").fill(live.sms.code_number(1, PHONE_E164))
    assert click(page, "#verify-phone") == 200
    assert text(page, "notice") == "Your phone number is verified."
    assert text(page, "phone-state") == f"{PHONE_E164} · verified"
    assert live.user(user_id, "phone", "phone_verified") == (PHONE_E164, 1)

    press(page, "Remove phone number")
    assert text(page, "notice") == "Your phone number was removed."
    assert text(page, "phone-state") == "No phone number yet."
    assert page.locator("#remove-phone").count() == 0
    assert live.user(user_id, "phone", "phone_verified") == ("", 0)


def test_the_password_is_changed_with_the_keyboard_under_the_rules_shown(
    profiles: Callable[[], BrowserContext], live: Live
) -> None:
    user_id, login_name = live.add_user("pat")
    page = profiles().new_page()
    sign_in(page, live, login_name)
    open_account(page, live)
    tab_until(page, "document.activeElement.textContent === 'Password'")
    press_enter(page)
    assert heading(page) == "Change your password"
    rules = text(page, "password-rules")
    assert rules.startswith("Your new password needs:") and "8" in rules

    tab_to(page, "current_password")
    page.keyboard.type(PASSWORD)
    tab_to(page, "new_password")
    page.keyboard.type("weak")
    tab_to(page, "new_password_repeat")
    page.keyboard.type("weak")
    assert press_enter(page) == 400
    assert text(page, "new_password-error")
    assert text(page, "password-rules") == rules  # the rules stay listed beside the field
    assert focused_id(page) == "new_password"
    hash_before = live.user(user_id, "password_hash")

    page.keyboard.type(NEW_PASSWORD)
    tab_to(page, "new_password_repeat")
    page.keyboard.type(NEW_PASSWORD)
    tab_to(page, "current_password", back=True)
    page.keyboard.type(PASSWORD)
    assert press_enter(page) == 200
    assert text(page, "notice").startswith("Your password was changed.")
    assert live.user(user_id, "password_hash") != hash_before
    [(actor, _)] = live.events("user.human.password.changed", user_id)
    assert actor == user_id

    tab_to(page, "sign-out-all")
    press_enter(page)
    assert page.url == live.url + paths.LOGOUT_DONE

    # Elsewhere: the old password no longer signs in; the new one does.
    page = profiles().new_page()
    page.goto(live.url + paths.LOGIN)
    type_into(page, "login_name", login_name)
    assert type_into(page, "password", PASSWORD) == 401
    assert text(page, "password-error").endswith("The login name or password is wrong.")
    assert focused_id(page) == "password"
    page.keyboard.type(NEW_PASSWORD)
    press_enter(page)
    assert page.url == live.url + paths.LOGIN_SIGNED_IN


def add_through_the_prompt(page: Page, kind: str) -> None:
    """ "Add" on the security page, then `kind` on the login's set-up prompt."""
    press(page, "Add a second factor or passkey")
    assert heading(page) == "Set up a second factor"
    press(page, kind)


def listed_factors(page: Page) -> list[str]:
    """What the security page lists: "kind · name" of each factor."""
    return page.locator("li.factor .factor-what").all_inner_texts()


def test_factors_are_added_renamed_used_and_removed_from_the_security_page(
    page: Page, live: Live
) -> None:
    user_id, login_name = live.add_user("sec")
    page.add_init_script(NO_AUTOFILL)  # only the button signs in with a passkey here
    with_authenticator(page, PASSKEY_HOLDER)
    sign_in(page, live, login_name)
    go_to(page, live, paths.ACCOUNT_SECURITY)
    assert text(page, "no-factors") == "You have no second factor or passkey yet."

    # An authenticator app; the first factor brings the recovery codes.
    add_through_the_prompt(page, "Authenticator app")
    assert heading(page) == "Set up your authenticator app"
    secret = page.locator("#totp-secret").inner_text()
    type_into(page, "code", pyotp.TOTP(secret).now())
    first_codes = codes_on(page)
    press(page, "Continue")
    assert page.url == live.url + paths.ACCOUNT_SECURITY
    assert "Authenticator app" in text(page, "factor-1")
    assert live.factors(user_id) == [("totp", "ready", "Authenticator app", None)]
    assert text(page, "codes-left") == "Recovery codes left: 10"

    page.locator("#name-1").fill("Phone app")
    press(page, "Rename Authenticator app Authenticator app")
    assert text(page, "notice") == "The name was saved."
    assert page.locator("#factor-1 .factor-name").inner_text() == "Phone app"
    assert live.factors(user_id) == [("totp", "ready", "Phone app", None)]

    # A passkey on the device's own authenticator.
    add_through_the_prompt(page, "Passkey")
    assert heading(page) == "Create a passkey"
    press(page, "Create passkey")
    assert page.url == live.url + paths.ACCOUNT_SECURITY
    assert sorted(listed_factors(page)) == ["Authenticator app · Phone app", "Passkey · Passkey"]
    assert live.factors(user_id)[1] == ("passkey", "ready", "Passkey", '["internal"]')

    # Signed out, the passkey alone signs in from the login-name page.
    sign_out_everywhere(page, live)
    page.goto(live.url + paths.LOGIN)
    assert heading(page) == "Welcome back!"
    press(page, "Sign in with a passkey")
    assert page.url == live.url + paths.LOGIN_SIGNED_IN
    [(_, password_checked, multi_checked)] = live.live_sessions(user_id)
    assert password_checked is None and multi_checked is not None

    go_to(page, live, paths.ACCOUNT_SECURITY)
    passkey = page.locator("li.factor", has_text="Passkey · Passkey")
    assert "last used never" not in passkey.inner_text()  # it signed this session in
    press(page, "Remove Passkey Passkey")
    assert text(page, "notice") == "The factor was removed."
    assert listed_factors(page) == ["Authenticator app · Phone app"]
    assert [kind for kind, *_ in live.factors(user_id)] == ["totp"]
    assert len(live.events("user.human.passwordless.token.removed", user_id)) == 1

    # New recovery codes, shown once; the old ones stop working.
    press(page, "Generate new codes")
    new_codes = codes_on(page)
    assert not set(new_codes) & set(first_codes)
    assert live.recovery_codes_left(user_id) == 10
    click(page, "#codes-done")
    assert page.url == live.url + paths.ACCOUNT_SECURITY
    assert text(page, "codes-left") == "Recovery codes left: 10"
    shown = page.locator("main").inner_text()
    assert not any(code in shown for code in new_codes)


def test_an_old_sign_in_proves_the_password_again_and_comes_back(page: Page, live: Live) -> None:
    user_id, login_name = live.add_user("rita", email="rita@example.org", email_verified=True)
    sign_in(page, live, login_name)
    go_to(page, live, paths.ACCOUNT)
    aged = live.age_first_factor(user_id, REAUTH_WINDOW + timedelta(minutes=1))

    page.locator("#email").fill("rita@new.example")
    press(page, "Change email address")
    assert heading(page) == "Enter your password"
    assert live.user(user_id, "email") == ("rita@example.org",)
    type_into(page, "password", PASSWORD)
    assert page.url == live.url + paths.ACCOUNT
    assert heading(page) == "Your profile"
    [(_, checked, _)] = live.live_sessions(user_id)
    assert datetime.fromisoformat(str(checked)) > aged + REAUTH_WINDOW

    page.locator("#email").fill("rita@new.example")
    press(page, "Change email address")
    assert text(page, "notice") == "We sent a code to your new email address."
    assert live.user(user_id, "email", "email_verified") == ("rita@new.example", 0)


def test_sessions_of_other_browsers_are_ended_from_this_one(
    profiles: Callable[[], BrowserContext], live: Live
) -> None:
    user_id, login_name = live.add_user("sue")
    here, there = profiles().new_page(), profiles().new_page()
    sign_in(here, live, login_name)
    sign_in(there, live, login_name)
    go_to(here, live, paths.ACCOUNT_SESSIONS)
    assert here.locator("li.account-row[id^=session-]").count() == 2
    assert here.locator("#this-browser").count() == 1
    [(here_id, *_), (there_id, *_)] = live.live_sessions(user_id)

    click(here, "button[id^=end-session-]")  # the one session that is not this browser's
    assert text(here, "notice") == "The session was ended."
    assert here.locator("li.account-row[id^=session-]").count() == 1
    assert [s for s, *_ in live.live_sessions(user_id)] == [here_id]
    there.goto(live.url + paths.ACCOUNT)
    assert there.url == live.url + paths.LOGIN
    assert heading(there) == "Welcome back!"

    # Signed in there again, then every other session ends at once.
    sign_in(there, live, login_name)
    assert len(live.live_sessions(user_id)) == 2
    go_to(here, live, paths.ACCOUNT_SESSIONS)
    press(here, "End all other sessions")
    assert text(here, "notice") == "Your other sessions were ended."
    assert here.locator("#end-others").count() == 0
    assert [s for s, *_ in live.live_sessions(user_id)] == [here_id]
    assert there_id != here_id
    there.goto(live.url + paths.ACCOUNT_SECURITY)
    assert there.url == live.url + paths.LOGIN
    assert heading(there) == "Welcome back!"
    go_to(here, live, paths.ACCOUNT)
    assert heading(here) == "Your profile"


def test_the_account_is_deleted_with_the_password(page: Page, live: Live) -> None:
    user_id, login_name = live.add_user("dora", org_id=live.leavers_org_id)
    sign_in(page, live, login_name)
    go_to(page, live, paths.ACCOUNT)
    page.get_by_role("link", name="Delete account", exact=True).click()
    page.wait_for_url(live.url + paths.ACCOUNT_DELETE)
    assert heading(page) == "Delete your account"

    page.locator("#password").fill("Not-Her-Pass-1!")
    assert press(page, "Delete my account") == 400
    assert text(page, "password-error")
    assert live.user(user_id, "id") == (user_id,)

    page.locator("#password").fill(PASSWORD)
    assert press(page, "Delete my account") == 200
    assert page.url == live.url + paths.ACCOUNT_DELETED
    assert heading(page) == "Your account was deleted"
    assert live.user(user_id, "id") is None
    assert live.live_sessions(user_id) == []
    [(actor, payload)] = live.events("user.removed", user_id)
    assert actor == user_id and json.loads(str(payload))["by_self"] is True

    # The same login name and password sign in no more.
    page.goto(live.url + paths.LOGIN)
    type_into(page, "login_name", login_name)
    assert heading(page) == "Enter your password"
    assert type_into(page, "password", PASSWORD) == 401
    assert text(page, "password-error").endswith("The login name or password is wrong.")
    assert live.live_sessions(user_id) == []
