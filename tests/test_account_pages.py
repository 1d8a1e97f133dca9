"""The account pages at /ui/console/users/me, driven as a browser without JavaScript drives
them: real forms with their CSRF tokens, codes read from the mail the outbox writes and from a
real HTTP SMS provider, a second browser whose session ends from the first, and the login
flow's password page when a change needs a recent sign-in."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx2
import pyotp
import pytest

from tests import oidc_fixtures as fx
from tests import test_core_sms as sms_tests
from tests.oidc_fixtures import Harness, World
from tests.self_service import Mailbox
from tests.test_core_access import browser as app_browser
from tests.test_core_access import refresh
from tests.test_core_sms import SmsProvider, http_settings
from tests.test_login_pages import Form, main_text, read
from zitui.core.context import RequestMeta
from zitui.core.sessions import new_browser_cookie
from zitui.core.user_profile import ProfileChange
from zitui.errors import NotFound
from zitui.i18n import lookup
from zitui.records import Event, User
from zitui.server import paths
from zitui.server.browser import cookie_name
from zitui.store import EventFilter

clock, harness, world = fx.clock, fx.harness, fx.world
provider = sms_tests.provider  # a real HTTP server on 127.0.0.1 standing in for the provider

PAGES = [
    paths.ACCOUNT,
    paths.ACCOUNT_PASSWORD,
    paths.ACCOUNT_SECURITY,
    paths.ACCOUNT_CONNECTIONS,
    paths.ACCOUNT_SESSIONS,
    paths.ACCOUNT_DELETE,
]
NEW_PASSWORD = "Quite-New-Pass-7?"
PHONE = "+41 79 123 45 67"
SMS_CODE = re.compile(r"\b([A-Z0-9]{6})\b")
TOTP_SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')


# --- browsers and forms ----------------------------------------------------------------------


async def open_browser(
    harness: Harness, user: User, *, user_agent: str = "pytest-browser"
) -> httpx2.AsyncClient:
    """A browser where `user` proved the password just now (as the login's password page
    does), with its own cookie and user agent."""
    cookie = new_browser_cookie()
    meta = RequestMeta(origin="login", ip="192.0.2.7", user_agent=user_agent)
    await harness.services.sessions.check_password(cookie, user.username, fx.PASSWORD, meta)
    name = cookie_name(secure=harness.issuer.startswith("https://"))
    return httpx2.AsyncClient(
        transport=harness.transport,
        base_url=harness.issuer,
        cookies={name: cookie},
        headers={"user-agent": user_agent, "accept": "text/html"},
    )


@pytest.fixture
async def alice(harness: Harness, world: World) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser where alice has just signed in."""
    async with await open_browser(harness, world.alice) as browser:
        yield browser


def forms_to(html: str, action: str) -> list[Form]:
    return [found for found in read(html).forms if found.action == action]


def one_form(html: str, action: str) -> Form:
    found = forms_to(html, action)
    assert len(found) == 1, [f.action for f in read(html).forms]
    return found[0]


async def post(
    browser: httpx2.AsyncClient, page: httpx2.Response, action: str, **values: str
) -> httpx2.Response:
    """Submit the page's one form to `action` with `values` typed in."""
    return await send(browser, one_form(page.text, action), **values)


async def send(browser: httpx2.AsyncClient, form: Form, **values: str) -> httpx2.Response:
    assert form.method == "post"
    return await browser.post(form.action, data=form.values | values)


async def back_to(browser: httpx2.AsyncClient, response: httpx2.Response) -> httpx2.Response:
    """The page a change went back to (303 with its notice)."""
    assert response.status_code == 303, response.text
    page = await browser.get(response.headers["location"])
    assert page.status_code == 200, page.text
    return page


def text_of(page: httpx2.Response, element_id: str) -> str:
    return read(page.text).ids.get(element_id, "")


def field_error(page: httpx2.Response, name: str) -> str:
    return text_of(page, f"{name}-error")


async def user_events(harness: Harness, event_type: str, user_id: str) -> list[Event]:
    async with harness.services.store.reader() as tx:
        found, _ = await tx.events.list(EventFilter(), offset=0, limit=500)
    return [e for e in found if e.event_type == event_type and e.aggregate_id == user_id]


async def add_totp(harness: Harness, world: World, user: User, name: str = "") -> str:
    """An authenticator app for `user`, set up by a manager; its secret."""
    factors = harness.services.factors
    async with harness.services.store.transaction() as tx:
        setup = await factors.start_totp(tx, world.admin, user, issuer="zitui")
    async with harness.services.store.transaction() as tx:
        code = pyotp.TOTP(setup.secret).at(harness.services.clock.now())
        assert await factors.confirm_totp(tx, world.admin, user, setup.factor_id, code)
    return setup.secret


async def through_the_pages(
    harness: Harness, user: User, secret: str = ""
) -> tuple[httpx2.AsyncClient, httpx2.Response]:
    """A new browser that signs `user` in on the hosted login pages: the login name, the
    password, and (given the app's `secret`) a code of the authenticator app. The browser and
    the page it ends on."""
    browser = httpx2.AsyncClient(
        transport=harness.transport, base_url=harness.issuer, headers={"accept": "text/html"}
    )
    page = await browser.get(paths.LOGIN)
    page = await post(browser, page, paths.LOGIN_NAME, login_name=user.username)
    page = await post(browser, page, paths.LOGIN_PASSWORD, password=fx.PASSWORD)
    if secret:
        [code_form] = [f for f in forms_to(page.text, paths.LOGIN_MFA_VERIFY) if "code" in f.inputs]
        code = pyotp.TOTP(secret).at(harness.services.clock.now())
        page = await send(browser, code_form, code=code)
    return browser, page


@pytest.fixture
async def alice_app(
    harness: Harness, world: World, clock: fx.OffsetClock
) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser where alice, who has an authenticator app, signed in with it."""
    secret = await add_totp(harness, world, world.alice)
    clock.advance(timedelta(seconds=30))  # the code of the set-up is not taken twice
    browser, signed = await through_the_pages(harness, world.alice, secret)
    assert signed.status_code == 303, signed.text
    try:
        yield browser
    finally:
        await browser.aclose()


# --- every page -------------------------------------------------------------------------------


async def test_every_page_shows_the_signed_in_user(alice: httpx2.AsyncClient, world: World) -> None:
    for path in PAGES:
        page = await alice.get(path)
        assert page.status_code == 200, (path, page.text)
        assert world.alice.login_name in text_of(page, "account-who"), path
        links = re.findall(r'<a href="([^"?]+)[^"]*"(?: aria-current="page")?>', page.text)
        assert {paths.ACCOUNT, paths.ACCOUNT_SECURITY, paths.ACCOUNT_SESSIONS} <= set(links)
        assert 'aria-current="page"' in page.text
        # Sign out of this account, or of every account of the browser, from each page.
        assert len(forms_to(page.text, paths.LOGOUT)) == 2
        assert "<script" not in page.text


async def test_the_pages_wear_the_users_organisation_branding_and_language(
    harness: Harness, world: World
) -> None:
    services = harness.services
    await services.branding.set(world.admin, {"primary_color": "#c2185b"}, world.org_id)
    await services.texts.set(world.admin, "fr", "account.profile.title", "Mon profil", world.org_id)
    change = ProfileChange(preferred_language="fr")
    await services.users.update_profile(world.admin, world.alice.id, change)
    async with await open_browser(harness, world.alice) as browser:
        page = await browser.get(paths.ACCOUNT, headers={"accept-language": "de"})
    assert '<html lang="fr">' in page.text
    assert f'href="{paths.LOGIN_BRANDING}/{world.org_id}/style.css?v=' in page.text
    assert "<h1>Mon profil</h1>" in page.text  # the organisation's own text
    assert text_of(page, "email-heading") == "Adresse e-mail"


async def test_without_a_signed_in_account_each_page_sends_to_the_login(
    harness: Harness,
) -> None:
    async with httpx2.AsyncClient(transport=harness.transport, base_url=harness.issuer) as nobody:
        for path in PAGES:
            response = await nobody.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == paths.LOGIN


async def test_a_form_without_its_csrf_token_changes_nothing(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    page = await alice.get(paths.ACCOUNT)
    values = one_form(page.text, paths.ACCOUNT_PROFILE).values | {"first_name": "Mallory"}
    del values["csrf_token"]
    response = await alice.post(paths.ACCOUNT_PROFILE, data=values)
    assert response.status_code == 403
    user = await harness.services.users.get_user(world.admin, world.alice.id)
    assert user.first_name == "Alice"


async def test_the_signed_in_page_links_to_each_accounts_pages(
    alice: httpx2.AsyncClient, world: World
) -> None:
    page = await alice.get(paths.LOGIN_SIGNED_IN)
    [link] = re.findall(r'<a href="([^"]+)" id="account-1">', page.text)
    account = await alice.get(link.replace("&amp;", "&"))
    assert account.status_code == 200
    assert world.alice.login_name in text_of(account, "account-who")


async def test_with_two_accounts_the_page_shows_the_one_chosen(
    harness: Harness, world: World, alice: httpx2.AsyncClient
) -> None:
    name = cookie_name(secure=harness.issuer.startswith("https://"))
    cookie = alice.cookies[name]
    bob = await harness.services.sessions.check_password(
        cookie, world.bob.username, fx.PASSWORD, RequestMeta(origin="login")
    )
    latest = await alice.get(paths.ACCOUNT)
    assert world.bob.login_name in text_of(latest, "account-who")
    sessions = await harness.services.sessions.list_browser_sessions(cookie)
    [alices] = [s.id for s in sessions if s.user_id == world.alice.id]
    chosen = await alice.get(paths.ACCOUNT, params={"account": alices})
    assert world.alice.login_name in text_of(chosen, "account-who")
    assert f'name="account" value="{alices}"' in chosen.text
    assert bob.id != alices


async def test_a_sign_in_left_at_the_second_factor_opens_no_account_page(
    harness: Harness, world: World
) -> None:
    await add_totp(harness, world, world.alice)
    browser, page = await through_the_pages(harness, world.alice)
    try:
        assert forms_to(page.text, paths.LOGIN_MFA_VERIFY)  # the code is asked, not given
        for path in PAGES:
            response = await browser.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == paths.LOGIN
    finally:
        await browser.aclose()


async def test_a_password_that_must_be_changed_opens_no_account_page(
    harness: Harness, world: World
) -> None:
    await harness.services.users.set_password(world.admin, world.alice.id, fx.PASSWORD)
    async with await open_browser(harness, world.alice) as browser:
        response = await browser.get(paths.ACCOUNT)
    assert response.status_code == 303 and response.headers["location"] == paths.LOGIN


# --- profile, email, phone -------------------------------------------------------------------


async def test_a_profile_change_is_saved_and_audited_with_the_user_as_actor(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    page = await alice.get(paths.ACCOUNT)
    labels = read(page.text).labels
    assert labels["first_name"] and labels["last_name"] and labels["nickname"]
    assert 'autocomplete="given-name"' in page.text and 'autocomplete="family-name"' in page.text
    done = await post(
        alice,
        page,
        paths.ACCOUNT_PROFILE,
        first_name="Alicia",
        nickname="Ali",
        gender="female",
        preferred_language="de",
    )
    saved = await back_to(alice, done)
    assert text_of(saved, "notice") == "Ihr Profil wurde gespeichert."  # now in her language
    user = await harness.services.users.get_user(world.admin, world.alice.id)
    assert (user.first_name, user.nickname, user.gender, user.preferred_language) == (
        "Alicia",
        "Ali",
        "female",
        "de",
    )
    [event] = await user_events(harness, "user.human.profile.changed", world.alice.id)
    assert event.actor_id == world.alice.id
    assert event.payload["first_name"] == "Alicia"


async def test_a_bad_profile_value_is_shown_on_its_field(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    page = await alice.get(paths.ACCOUNT)
    refused = await post(alice, page, paths.ACCOUNT_PROFILE, first_name="", nickname="Kept")
    assert refused.status_code == 400
    assert field_error(refused, "first_name")
    assert 'value="Kept"' in refused.text  # what was typed stays
    user = await harness.services.users.get_user(world.admin, world.alice.id)
    assert user.first_name == "Alice"


async def test_an_email_change_is_verified_with_the_code_mailed_to_the_new_address(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    mailbox = Mailbox(harness.services)
    await mailbox.new()
    page = await alice.get(paths.ACCOUNT)
    sent = await back_to(
        alice, await post(alice, page, paths.ACCOUNT_EMAIL, email="alice@new.example")
    )
    assert "alice@new.example" in text_of(sent, "email-sent")
    assert "not verified" in text_of(sent, "email-state")
    wrong = await post(alice, sent, paths.ACCOUNT_EMAIL_VERIFY, email_code="ZZZZZZ")
    assert wrong.status_code == 400 and field_error(wrong, "email_code")
    resent = await back_to(alice, await post(alice, sent, paths.ACCOUNT_EMAIL_RESEND))
    mails = await mailbox.new()
    assert [m.recipient for m in mails] == ["alice@new.example"] * 2
    verified = await back_to(
        alice, await post(alice, resent, paths.ACCOUNT_EMAIL_VERIFY, email_code=mails[-1].code)
    )
    assert text_of(verified, "email-state") == "alice@new.example · verified"
    user = await harness.services.users.get_user(world.admin, world.alice.id)
    assert (user.email, user.email_verified) == ("alice@new.example", True)


@pytest.fixture
async def sms(harness: Harness, world: World, provider: SmsProvider) -> SmsProvider:
    """The instance's text messages go to a real HTTP provider on 127.0.0.1."""
    await harness.services.sms.set_sms(world.admin, http_settings(provider))
    return provider


async def texted(harness: Harness, provider: SmsProvider) -> list[str]:
    await harness.services.sender.deliver_due()
    return [SMS_CODE.findall(json.loads(r.body)["text"])[0] for r in provider.received]


async def test_a_phone_number_is_verified_by_sms_and_removed(
    alice: httpx2.AsyncClient, harness: Harness, world: World, sms: SmsProvider
) -> None:
    page = await alice.get(paths.ACCOUNT)
    assert 'autocomplete="tel"' in page.text
    sent = await back_to(alice, await post(alice, page, paths.ACCOUNT_PHONE, phone=PHONE))
    assert text_of(sent, "phone-sent")
    [code] = await texted(harness, sms)
    verified = await back_to(
        alice, await post(alice, sent, paths.ACCOUNT_PHONE_VERIFY, phone_code=code)
    )
    assert text_of(verified, "phone-state").endswith("· verified")
    user = await harness.services.users.get_user(world.admin, world.alice.id)
    assert user.phone and user.phone_verified
    removed = await back_to(alice, await post(alice, verified, paths.ACCOUNT_PHONE_REMOVE))
    assert text_of(removed, "phone-state") == "No phone number yet."
    user = await harness.services.users.get_user(world.admin, world.alice.id)
    assert user.phone == ""


# --- password and re-authentication ---------------------------------------------------------


async def test_the_password_changes_under_the_rules_shown(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    page = await alice.get(paths.ACCOUNT_PASSWORD)
    assert text_of(page, "password-rules").startswith("Your new password needs:")
    assert 'autocomplete="current-password"' in page.text
    assert page.text.count('autocomplete="new-password"') == 2
    weak = await post(
        alice,
        page,
        paths.ACCOUNT_PASSWORD,
        current_password=fx.PASSWORD,
        new_password="short",
        new_password_repeat="short",
    )
    assert weak.status_code == 400 and field_error(weak, "new_password")
    wrong = await post(
        alice,
        page,
        paths.ACCOUNT_PASSWORD,
        current_password="Not-Her-Pass-1!",
        new_password=NEW_PASSWORD,
        new_password_repeat=NEW_PASSWORD,
    )
    assert wrong.status_code in (400, 401) and field_error(wrong, "current_password")
    changed = await post(
        alice,
        page,
        paths.ACCOUNT_PASSWORD,
        current_password=fx.PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_repeat=NEW_PASSWORD,
    )
    done = await back_to(alice, changed)
    assert text_of(done, "notice").startswith("Your password was changed.")
    # This browser stays signed in; the new password signs in elsewhere.
    await harness.services.sessions.check_password(
        new_browser_cookie(), world.alice.username, NEW_PASSWORD, RequestMeta(origin="test")
    )


async def test_an_old_sign_in_proves_the_password_again_and_comes_back(
    alice: httpx2.AsyncClient, harness: Harness, world: World, clock: fx.OffsetClock
) -> None:
    page = await alice.get(paths.ACCOUNT)
    clock.advance(timedelta(minutes=11))
    asked = await post(alice, page, paths.ACCOUNT_EMAIL, email="alice@later.example")
    assert asked.status_code == 200, asked.text
    password_form = one_form(asked.text, paths.LOGIN_PASSWORD)
    proved = await send(alice, password_form, password=fx.PASSWORD)
    assert proved.status_code == 303
    assert proved.headers["location"].startswith(paths.ACCOUNT)
    again = await alice.get(proved.headers["location"])
    sent = await back_to(
        alice, await post(alice, again, paths.ACCOUNT_EMAIL, email="alice@later.example")
    )
    assert "alice@later.example" in text_of(sent, "email-sent")


# --- security ---------------------------------------------------------------------------------


async def test_factors_are_listed_renamed_and_removed(
    alice_app: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    alice = alice_app
    page = await alice.get(paths.ACCOUNT_SECURITY)
    assert "Authenticator app" in text_of(page, "factor-1")
    # Used for this very sign-in: when is shown.
    assert re.search(r"last used \d{4}-\d\d-\d\d \d\d:\d\d UTC", text_of(page, "factor-1"))
    renamed = await back_to(
        alice, await post(alice, page, paths.ACCOUNT_FACTOR_RENAME, name="Phone app")
    )
    assert "Phone app" in text_of(renamed, "factor-1")
    removed = await back_to(alice, await post(alice, renamed, paths.ACCOUNT_FACTOR_REMOVE))
    assert text_of(removed, "notice") == "The factor was removed."
    assert text_of(removed, "no-factors")
    assert await user_events(harness, "user.human.mfa.otp.removed", world.alice.id)


async def test_the_last_factor_under_forced_mfa_stays_with_the_reason(
    alice_app: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    alice = alice_app
    await harness.services.policies.set(world.admin, "login", {"force_mfa": True}, world.org_id)
    page = await alice.get(paths.ACCOUNT_SECURITY)
    assert text_of(page, "mfa-forced")
    refused = await post(alice, page, paths.ACCOUNT_FACTOR_REMOVE)
    assert refused.status_code == 412
    reason = lookup("en", "mfa.last_factor_forced")
    assert reason and text_of(refused, "form-alert") == reason
    assert "Authenticator app" in text_of(refused, "factor-1")


async def test_new_recovery_codes_are_shown_once(
    alice_app: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    alice = alice_app
    page = await alice.get(paths.ACCOUNT_SECURITY)
    shown = await post(alice, page, paths.ACCOUNT_RECOVERY_CODES)
    assert shown.status_code == 200, shown.text
    codes = re.findall(r"<li><code>([^<]+)</code></li>", shown.text)
    assert len(codes) >= 8 and len(set(codes)) == len(codes)
    assert 'download="recovery-codes.txt"' in shown.text
    later = await alice.get(paths.ACCOUNT_SECURITY)
    assert text_of(later, "codes-left").endswith(str(len(codes)))
    assert not any(code in later.text for code in codes)


async def test_an_app_added_through_the_login_set_up_pages_ends_back_here(
    alice: httpx2.AsyncClient, harness: Harness
) -> None:
    page = await alice.get(paths.ACCOUNT_SECURITY)
    prompt = await post(alice, page, paths.ACCOUNT_FACTOR_ADD)
    assert prompt.status_code == 200, prompt.text
    setup = await post(alice, prompt, paths.LOGIN_MFA_PROMPT, kind="totp")
    [secret] = TOTP_SECRET.findall(setup.text)
    code = pyotp.TOTP(secret).at(harness.services.clock.now())
    codes = await post(alice, setup, paths.LOGIN_MFA_TOTP, code=code)
    assert text_of(codes, "recovery-codes")  # the first factor brings recovery codes
    back = await post(alice, codes, paths.LOGIN_MFA_RECOVERY_CODES)
    assert back.status_code == 303 and back.headers["location"] == paths.ACCOUNT_SECURITY
    security = await alice.get(back.headers["location"])
    assert "Authenticator app" in text_of(security, "factor-1")


# --- sessions and applications ---------------------------------------------------------------


async def test_ending_another_browsers_session_signs_it_out(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    async with await open_browser(harness, world.alice, user_agent="Other/1.0") as other:
        assert (await other.get(paths.ACCOUNT)).status_code == 200
        page = await alice.get(paths.ACCOUNT_SESSIONS)
        assert "this browser" in main_text(page.text)
        [other_row] = [
            f for f in forms_to(page.text, paths.ACCOUNT_SESSION_END) if f.values["session"]
        ]
        ended = await back_to(alice, await send(alice, other_row))
        assert "Other/1.0" not in main_text(ended.text)
        gone = await other.get(paths.ACCOUNT)
        assert gone.status_code == 303 and gone.headers["location"] == paths.LOGIN
    assert (await alice.get(paths.ACCOUNT)).status_code == 200


async def test_ending_all_other_sessions_keeps_this_one(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    async with (
        await open_browser(harness, world.alice, user_agent="Second/1.0") as second,
        await open_browser(harness, world.alice, user_agent="Third/1.0") as third,
    ):
        page = await alice.get(paths.ACCOUNT_SESSIONS)
        assert len(read(page.text).ids.keys() & {"session-1", "session-2", "session-3"}) == 3
        ended = await back_to(alice, await post(alice, page, paths.ACCOUNT_SESSIONS_END_OTHERS))
        assert text_of(ended, "notice") == "Your other sessions were ended."
        assert "session-2" not in read(ended.text).ids
        for other in (second, third):
            assert (await other.get(paths.ACCOUNT)).status_code == 303


async def test_signing_out_of_this_account_from_an_account_page(
    alice: httpx2.AsyncClient,
) -> None:
    page = await alice.get(paths.ACCOUNT_PASSWORD)
    [this_account] = [f for f in forms_to(page.text, paths.LOGOUT) if f.values.get("sessionID")]
    out = await send(alice, this_account)
    assert out.status_code == 303 and out.headers["location"] == paths.LOGOUT_DONE
    assert (await alice.get(paths.ACCOUNT)).status_code == 303


async def test_an_applications_refresh_token_is_revoked(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    held = await app_browser(harness, world.clients["basic"], world.alice)
    page = await alice.get(paths.ACCOUNT_SESSIONS)
    assert text_of(page, "app-1")
    revoked = await back_to(alice, await post(alice, page, paths.ACCOUNT_APP_REVOKE))
    assert text_of(revoked, "no-apps")
    assert (await refresh(harness, world, held.refresh_token)).status_code == 400


# --- deletion ---------------------------------------------------------------------------------


async def test_deleting_the_account_is_refused_by_default(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    page = await alice.get(paths.ACCOUNT_DELETE)
    assert text_of(page, "delete-refused")
    assert not forms_to(page.text, paths.ACCOUNT_DELETE)
    nav = await alice.get(paths.ACCOUNT)
    assert f'href="{paths.ACCOUNT_DELETE}"' not in nav.text


async def test_a_policy_that_allows_it_lets_the_user_delete_the_account(
    alice: httpx2.AsyncClient, harness: Harness, world: World
) -> None:
    changes = {"allow_self_delete": True}
    await harness.services.policies.set(world.admin, "login", changes, world.org_id)
    page = await alice.get(paths.ACCOUNT_DELETE)
    wrong = await post(alice, page, paths.ACCOUNT_DELETE, password="Not-Her-Pass-1!")
    assert wrong.status_code in (400, 401) and field_error(wrong, "password")
    deleted = await post(alice, page, paths.ACCOUNT_DELETE, password=fx.PASSWORD)
    assert deleted.status_code == 303 and deleted.headers["location"] == paths.ACCOUNT_DELETED
    farewell = await alice.get(paths.ACCOUNT_DELETED)
    assert text_of(farewell, "deleted")
    with pytest.raises(NotFound):
        await harness.services.users.get_user(world.admin, world.alice.id)
    assert (await alice.get(paths.ACCOUNT)).status_code == 303
