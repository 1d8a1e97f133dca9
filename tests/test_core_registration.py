"""Registration and email verification in the core login flow: the form's rules in order,
the new user, its verification code by mail, and what a right, wrong, expired, replaced or
throttled code does."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests import test_core_sessions as session_tests
from tests.conftest import make_settings
from tests.dbfile import rows
from tests.self_service import (
    META,
    RITA,
    RITA_PASSWORD,
    Mailbox,
    events_of,
    open_registration,
    register,
    user_row,
)
from tests.test_core_login_flow import auth_request, portal
from tests.test_core_sessions import set_policy
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.login.steps import (
    AskLoginName,
    AskPassword,
    Done,
    EmailVerified,
    NotAllowed,
    Register,
    Registration,
    VerifyEmail,
)
from zitui.core.policies import LockoutPolicy, LoginPolicy
from zitui.core.services import Services, open_services
from zitui.core.sessions import new_browser_cookie
from zitui.core.user_codes import VERIFY_EMAIL_PATH, Purpose
from zitui.errors import RateLimited
from zitui.records import Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests


@pytest.fixture
def mailbox(services: Services) -> Mailbox:
    return Mailbox(services)


def users_with_email(services: Services, email: str) -> list[str]:
    found = rows(
        services.settings.data_dir, "SELECT id FROM users WHERE lower(email) = ?", email.lower()
    )
    return [str(r[0]) for r in found]


def registered_id(services: Services, email: str = RITA.email) -> str:
    [user_id] = users_with_email(services, email)
    return user_id


async def default_org_id(services: Services) -> str:
    async with services.store.reader() as tx:
        instance = await tx.instances.find()
    assert instance is not None
    return instance.default_org_id


def outbox_of(services: Services, user_id: str) -> list[tuple[object, ...]]:
    sql = "SELECT kind, recipient FROM outbox WHERE user_id = ? ORDER BY created_at, id"
    return rows(services.settings.data_dir, sql, user_id)


async def registered(
    services: Services, mailbox: Mailbox, *, auth_request_id: str = ""
) -> tuple[str, str, str, str]:
    """Rita registers; (browser, flow id, user id, the code from her mail)."""
    browser = new_browser_cookie()
    outcome = await register(services.login, browser, auth_request_id=auth_request_id)
    assert isinstance(outcome.step, VerifyEmail), outcome.step
    mail = await mailbox.one(RITA.email)
    return browser, outcome.step.flow.id, registered_id(services), mail.code


# --- the form ---------------------------------------------------------------------


# The form's rules in the order of its fields: the password and repeat typed, the code and
# field of the first broken rule, and the values that mend it for the next row.
FORM_ORDER: list[tuple[str, str, str, str, dict[str, object]]] = [
    (RITA_PASSWORD, RITA_PASSWORD, "given_name.required", "given_name",
     {"given_name": RITA.given_name}),
    (RITA_PASSWORD, RITA_PASSWORD, "family_name.required", "family_name",
     {"family_name": RITA.family_name}),
    (RITA_PASSWORD, RITA_PASSWORD, "email.invalid", "email", {"email": RITA.email}),
    (RITA_PASSWORD, RITA_PASSWORD, "username.invalid", "username", {"username": RITA.username}),
    (RITA_PASSWORD, RITA_PASSWORD, "preferred_language.invalid", "language",
     {"language": RITA.language}),
    ("Sh0rt-!", "Sh0rt-!", "password.too_short", "password", {}),
    ("Password1!", "Password1!", "password.common", "password", {}),
    (RITA_PASSWORD, RITA_PASSWORD + "x", "password.mismatch", "password_repeat", {}),
    (RITA_PASSWORD, RITA_PASSWORD, "registration.terms_required", "terms",
     {"accepted_terms": True}),
]  # fmt: skip


async def test_the_form_is_checked_in_the_order_of_its_fields(
    services: Services, mailbox: Mailbox
) -> None:
    """Every field broken at once, then mended one by one: each answer names the first
    broken field of the form, and gives back what was typed."""
    browser = new_browser_cookie()
    flow_id = await open_registration(services.login, browser)
    typed = Registration(
        given_name=" ",
        family_name="",
        email="nope",
        username="no way",
        language="not a tag",
        accepted_terms=False,
    )
    for password, repeat, code, field, mend in FORM_ORDER:
        outcome = await services.login.register(browser, flow_id, typed, password, repeat, META)
        step = outcome.step
        assert isinstance(step, Register), step
        assert step.error is not None
        assert (step.error.code, step.error.field) == (code, field)
        assert step.values == replace(typed, given_name=typed.given_name.strip())
        assert outcome.browser_cookie is None
        typed = replace(typed, **mend)  # type: ignore[arg-type]
    assert typed == RITA
    assert users_with_email(services, RITA.email) == []
    assert await mailbox.new() == []
    assert rows(services.settings.data_dir, "SELECT count(*) FROM user_codes") == [(0,)]
    done = await services.login.register(
        browser, flow_id, typed, RITA_PASSWORD, RITA_PASSWORD, META
    )
    assert isinstance(done.step, VerifyEmail)


async def test_typed_values_come_back_trimmed_and_the_username_defaults_to_the_email(
    services: Services,
) -> None:
    browser = new_browser_cookie()
    flow_id = await open_registration(services.login, browser)
    typed = replace(RITA, given_name="  Rita ", email=" rita@example.net ", username="")
    refused = await services.login.register(browser, flow_id, typed, "weak", "weak", META)
    assert isinstance(refused.step, Register)
    assert refused.step.values == replace(RITA, username="")
    done = await services.login.register(
        browser, flow_id, typed, RITA_PASSWORD, RITA_PASSWORD, META
    )
    assert isinstance(done.step, VerifyEmail)
    async with services.store.reader() as tx:
        user = await tx.users.find(registered_id(services))
    assert user is not None
    assert (user.username, user.first_name, user.email) == (RITA.email, "Rita", RITA.email)


async def test_an_email_is_taken_in_any_case_and_any_organisation(
    services: Services, alice: User, mailbox: Mailbox
) -> None:
    await mailbox.new()
    browser = new_browser_cookie()
    flow_id = await open_registration(services.login, browser)  # the default organisation
    typed = replace(RITA, email="ALICE@Example.COM", username="alice2")
    refused = await services.login.register(
        browser, flow_id, typed, RITA_PASSWORD, RITA_PASSWORD, META
    )
    assert isinstance(refused.step, Register) and refused.step.error is not None
    assert (refused.step.error.code, refused.step.error.field) == ("user.email.taken", "email")
    assert refused.step.values == typed
    assert users_with_email(services, "alice@example.com") == [alice.id]
    assert await mailbox.new() == []


async def test_a_username_is_taken_only_within_its_organisation(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    scope = f"openid urn:zitadel:iam:org:id:{acme.id}"
    in_acme = await auth_request(services, await portal(services, admin, acme.id), scope=scope)
    browser = new_browser_cookie()
    taken = replace(RITA, username="ALICE")
    refused = await register(services.login, browser, taken, auth_request_id=in_acme)
    assert isinstance(refused.step, Register) and refused.step.error is not None
    error = refused.step.error
    assert (error.code, error.field) == ("user.username.taken", "username")
    assert users_with_email(services, RITA.email) == []
    # The same name in the default organisation is free.
    elsewhere = await register(
        services.login, new_browser_cookie(), replace(RITA, username="alice")
    )
    assert isinstance(elsewhere.step, VerifyEmail)
    async with services.store.reader() as tx:
        user = await tx.users.find(registered_id(services))
    assert user is not None
    assert (user.username, user.org_id) == ("alice", await default_org_id(services))


# --- the new user -----------------------------------------------------------------


async def test_a_registration_creates_an_initial_user_and_mails_a_code(
    services: Services, clock: FixedClock, mailbox: Mailbox
) -> None:
    browser = new_browser_cookie()
    outcome = await register(services.login, browser)
    step = outcome.step
    assert isinstance(step, VerifyEmail), step
    assert step.delivery.recipient == RITA.email and step.delivery.state == "queued"
    assert outcome.browser_cookie is None  # nobody is signed in before the code
    user_id = registered_id(services)
    row = user_row(services, user_id)
    assert (row["state"], row["email"], row["email_verified"]) == ("initial", RITA.email, 0)
    assert str(row["terms_accepted_at"]).startswith(clock.now().strftime("%Y-%m-%d %H:%M:%S"))
    async with services.store.reader() as tx:
        user = await tx.users.find(user_id)
    assert user is not None
    assert (user.org_id, user.preferred_language) == (await default_org_id(services), "de")
    assert outbox_of(services, user_id) == [("email.verify", RITA.email)]

    [event] = await events_of(services, "user.human.selfregistered", user_id)
    assert event.actor_id == user_id
    assert event.payload["email"] == RITA.email
    assert event.payload["terms_accepted_at"] == clock.now().isoformat()
    assert RITA_PASSWORD not in str(event.payload)
    [added] = await events_of(services, "user.human.email.code.added", user_id)
    assert added.actor_id == user_id

    mail = await mailbox.one(RITA.email)
    assert mail.path == VERIFY_EMAIL_PATH
    assert mail.query == {"userID": user_id, "code": mail.code, "flow": step.flow.id}
    assert mail.code not in str(added.payload)
    shown = await services.login.show(browser, step.flow.id)
    assert isinstance(shown.step, VerifyEmail) and shown.step.delivery.state == "sent"


async def test_a_failed_mail_leaves_no_user_behind(services: Services) -> None:
    """The user, its event, its code and its mail are one transaction: the outbox refusing
    the mail undoes the rest."""
    data_dir: Path = services.settings.data_dir
    with sqlite3.connect(data_dir / "zitui.db") as conn:
        conn.execute(
            "CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox"
            " BEGIN SELECT RAISE(ABORT, 'the outbox is full'); END"
        )
    browser = new_browser_cookie()
    flow_id = await open_registration(services.login, browser)
    with pytest.raises(Exception, match="the outbox is full"):
        await services.login.register(browser, flow_id, RITA, RITA_PASSWORD, RITA_PASSWORD, META)
    assert users_with_email(services, RITA.email) == []
    assert rows(data_dir, "SELECT count(*) FROM user_codes") == [(0,)]
    assert rows(data_dir, "SELECT count(*) FROM outbox") == [(0,)]
    selfregistered = "SELECT count(*) FROM events WHERE event_type = 'user.human.selfregistered'"
    assert rows(data_dir, selfregistered) == [(0,)]
    with sqlite3.connect(data_dir / "zitui.db") as conn:
        conn.execute("DROP TRIGGER refuse_mail")
    # The flow is still at the form, and the same values now register.
    again = await services.login.register(
        browser, flow_id, RITA, RITA_PASSWORD, RITA_PASSWORD, META
    )
    assert isinstance(again.step, VerifyEmail)
    assert len(users_with_email(services, RITA.email)) == 1


async def test_the_organisation_is_the_requests_scope(
    services: Services, admin: Context, acme: Organization
) -> None:
    client_id = await portal(services, admin, acme.id)
    scoped = await auth_request(
        services, client_id, scope=f"openid urn:zitadel:iam:org:id:{acme.id}"
    )
    outcome = await register(services.login, new_browser_cookie(), auth_request_id=scoped)
    assert isinstance(outcome.step, VerifyEmail)
    assert outcome.step.flow.org_id == acme.id
    async with services.store.reader() as tx:
        user = await tx.users.find(registered_id(services))
    assert user is not None and user.org_id == acme.id
    # A request without an organisation scope registers into the default organisation.
    unscoped = await auth_request(services, client_id)
    bob = replace(RITA, email="bob@example.net", username="bob")
    other = await register(services.login, new_browser_cookie(), bob, auth_request_id=unscoped)
    assert isinstance(other.step, VerifyEmail)
    async with services.store.reader() as tx:
        user = await tx.users.find(registered_id(services, "bob@example.net"))
    assert user is not None and user.org_id == await default_org_id(services)


async def test_prompt_create_starts_at_the_form_and_the_policy_can_close_it(
    services: Services, admin: Context, acme: Organization
) -> None:
    client_id = await portal(services, admin, acme.id)
    scope = f"openid urn:zitadel:iam:org:id:{acme.id}"
    browser = new_browser_cookie()
    create = await auth_request(services, client_id, scope=scope, prompt="create")
    started = await services.login.start(browser, auth_request_id=create, request=META)
    assert isinstance(started.step, Register)
    plain = await auth_request(services, client_id, scope=scope)
    asked = await services.login.start(new_browser_cookie(), auth_request_id=plain, request=META)
    assert isinstance(asked.step, AskLoginName) and asked.step.may_register

    # Closed after the form was shown: the submission is refused too.
    await set_policy(services, "login", acme.id, LoginPolicy(allow_register=False))
    refused = await services.login.register(
        browser, started.step.flow.id, RITA, RITA_PASSWORD, RITA_PASSWORD, META
    )
    assert isinstance(refused.step, NotAllowed)
    assert refused.step.code == "registration.disabled"
    assert users_with_email(services, RITA.email) == []

    closed = await auth_request(services, client_id, scope=scope, prompt="create")
    other = new_browser_cookie()
    started = await services.login.start(other, auth_request_id=closed, request=META)
    assert isinstance(started.step, NotAllowed)
    assert started.step.code == "registration.disabled"
    again = await services.login.register(
        other, started.step.flow.id, RITA, RITA_PASSWORD, RITA_PASSWORD, META
    )
    assert isinstance(again.step, NotAllowed)
    plain = await auth_request(services, client_id, scope=scope)
    third = new_browser_cookie()
    asked = await services.login.start(third, auth_request_id=plain, request=META)
    assert isinstance(asked.step, AskLoginName) and not asked.step.may_register
    link = await services.login.ask_registration(third, asked.step.flow.id)
    assert isinstance(link.step, NotAllowed)
    assert users_with_email(services, RITA.email) == []


# --- the code -----------------------------------------------------------------------


async def test_the_right_code_verifies_signs_in_and_answers_the_application(
    services: Services, admin: Context, acme: Organization, mailbox: Mailbox
) -> None:
    request_id = await auth_request(services, await portal(services, admin, acme.id))
    browser, flow_id, user_id, code = await registered(
        services, mailbox, auth_request_id=request_id
    )
    outcome = await services.login.verify_email(browser, flow_id, code.lower(), META)
    assert isinstance(outcome.step, Done), outcome.step
    assert outcome.step.user_id == user_id
    cookie = outcome.browser_cookie
    assert cookie and cookie != browser
    [session] = await services.sessions.list_browser_sessions(cookie)
    assert session.user_id == user_id and session.password_checked_at is not None
    assert await services.sessions.list_browser_sessions(browser) == []
    back = await services.auth_requests.issue_code(
        services.system_context("test"), request_id, browser_cookie=cookie
    )
    assert "code=" in back.location
    row = user_row(services, user_id)
    assert (row["state"], row["email_verified"], row["failed_code_attempts"]) == ("active", 1, 0)
    [verified] = await events_of(services, "user.human.email.verified", user_id)
    assert verified.payload == {"email": RITA.email} and verified.actor_id == user_id
    # Spent: nothing is left to verify with.
    assert rows(services.settings.data_dir, "SELECT count(*) FROM user_codes") == [(0,)]


async def test_a_wrong_code_is_refused_and_counted(services: Services, mailbox: Mailbox) -> None:
    browser, flow_id, user_id, code = await registered(services, mailbox)
    wrong = "AAAAAA" if code != "AAAAAA" else "BBBBBB"
    outcome = await services.login.verify_email(browser, flow_id, wrong, META)
    step = outcome.step
    assert isinstance(step, VerifyEmail) and step.error is not None
    assert (step.error.code, step.error.field, step.code) == ("code.invalid", "code", wrong)
    assert outcome.browser_cookie is None
    row = user_row(services, user_id)
    assert (row["state"], row["email_verified"], row["failed_code_attempts"]) == ("initial", 0, 1)
    [failed] = await events_of(services, "user.human.code.check.failed", user_id)
    assert failed.payload == {"failures": 1}
    # The right code still works and clears the count.
    done = await services.login.verify_email(browser, flow_id, code, META)
    assert isinstance(done.step, Done)
    assert user_row(services, user_id)["failed_code_attempts"] == 0


@pytest.mark.parametrize("for_an_application", [False, True])
async def test_wrong_codes_lock_the_user_at_the_lockout_policys_limit(
    services: Services,
    admin: Context,
    acme: Organization,
    mailbox: Mailbox,
    for_an_application: bool,
) -> None:
    """Locked, the user's right code verifies nothing and signs nobody in, with or without
    an application waiting."""
    request_id = ""
    org_id = await default_org_id(services)
    if for_an_application:
        scope = f"openid urn:zitadel:iam:org:id:{acme.id}"
        client_id = await portal(services, admin, acme.id)
        request_id, org_id = await auth_request(services, client_id, scope=scope), acme.id
    await set_policy(services, "lockout", org_id, LockoutPolicy(max_otp_attempts=2))
    browser, flow_id, user_id, code = await registered(
        services, mailbox, auth_request_id=request_id
    )
    wrong = "AAAAAA" if code != "AAAAAA" else "BBBBBB"
    first = await services.login.verify_email(browser, flow_id, wrong, META)
    assert isinstance(first.step, VerifyEmail)
    assert user_row(services, user_id)["state"] == "initial"
    assert await events_of(services, "user.locked", user_id) == []
    second = await services.login.verify_email(browser, flow_id, wrong, META)
    assert isinstance(second.step, VerifyEmail)
    assert user_row(services, user_id)["state"] == "locked"
    [locked] = await events_of(services, "user.locked", user_id)
    assert locked.payload["reason"] == "code_attempts"

    late = await services.login.verify_email(browser, flow_id, code, META)
    assert isinstance(late.step, VerifyEmail) and late.step.error is not None
    assert late.step.error.code == "code.invalid" and late.browser_cookie is None
    row = user_row(services, user_id)
    assert (row["state"], row["email_verified"]) == ("locked", 0)
    assert await services.sessions.list_browser_sessions(browser) == []
    assert await events_of(services, "user.human.email.verified", user_id) == []


async def test_the_otp_throttle_answers_after_the_configured_attempts(
    tmp_path: Path, clock: FixedClock
) -> None:
    settings = make_settings(tmp_path / "throttled", throttle_name_attempts=3)
    services, _ = await open_services(settings, clock=clock)
    try:
        mailbox = Mailbox(services)
        browser, flow_id, user_id, code = await registered(services, mailbox)
        wrong = "AAAAAA" if code != "AAAAAA" else "BBBBBB"
        for _ in range(3):
            refused = await services.login.verify_email(browser, flow_id, wrong, META)
            assert isinstance(refused.step, VerifyEmail) and refused.step.error is not None
        with pytest.raises(RateLimited) as caught:
            await services.login.verify_email(browser, flow_id, code, META)
        assert caught.value.retry_after > 0
        assert user_row(services, user_id)["email_verified"] == 0
        assert user_row(services, user_id)["failed_code_attempts"] == 3  # the refusal costs none
        clock.advance(timedelta(seconds=caught.value.retry_after))
        done = await services.login.verify_email(browser, flow_id, code, META)
        assert isinstance(done.step, Done)
    finally:
        await services.close()


async def test_an_expired_code_fails(
    services: Services, clock: FixedClock, mailbox: Mailbox
) -> None:
    _, flow_id, user_id, code = await registered(services, mailbox)
    clock.advance(timedelta(minutes=59))
    other = new_browser_cookie()  # the mail's link, opened late
    opened = await services.login.open_code_link(
        other, Purpose.EMAIL, user_id, code, flow_id=flow_id, request=META
    )
    assert isinstance(opened.step, VerifyEmail) and opened.step.code == code
    clock.advance(timedelta(minutes=1, seconds=1))
    late = await services.login.verify_email(other, opened.step.flow.id, code, META)
    assert isinstance(late.step, VerifyEmail) and late.step.error is not None
    assert late.step.error.code == "code.invalid"
    assert user_row(services, user_id)["email_verified"] == 0
    # A new code in that flow works: the old one failed only by its age.
    await services.login.resend_code(other, opened.step.flow.id, META)
    fresh = await mailbox.one(RITA.email)
    verified = await services.login.verify_email(other, opened.step.flow.id, fresh.code, META)
    assert isinstance(verified.step, EmailVerified)


async def test_a_resent_code_replaces_the_old_one(services: Services, mailbox: Mailbox) -> None:
    browser, flow_id, user_id, old = await registered(services, mailbox)
    resent = await services.login.resend_code(browser, flow_id, META)
    assert isinstance(resent.step, VerifyEmail) and resent.step.resent
    new = (await mailbox.one(RITA.email)).code
    assert outbox_of(services, user_id) == [("email.verify", RITA.email)] * 2
    assert len(await events_of(services, "user.human.email.code.added", user_id)) == 2
    if new != old:  # six random characters; the same twice is possible, and proves nothing
        stale = await services.login.verify_email(browser, flow_id, old, META)
        assert isinstance(stale.step, VerifyEmail) and stale.step.error is not None
    done = await services.login.verify_email(browser, flow_id, new, META)
    assert isinstance(done.step, Done)


async def test_resending_is_limited_per_window(
    services: Services, clock: FixedClock, mailbox: Mailbox
) -> None:
    browser, flow_id, user_id, _ = await registered(services, mailbox)
    for _ in range(5):
        await services.login.resend_code(browser, flow_id, META)
    with pytest.raises(RateLimited):
        await services.login.resend_code(browser, flow_id, META)
    assert len(outbox_of(services, user_id)) == 6  # the first mail and five more
    assert len(await mailbox.new()) == 5


async def test_a_code_sent_before_the_address_changed_no_longer_works(
    services: Services, admin: Context, mailbox: Mailbox
) -> None:
    browser, flow_id, user_id, old = await registered(services, mailbox)
    await services.users.change_email(admin, user_id, "rita@elsewhere.example", verified=False)
    new = (await mailbox.one("rita@elsewhere.example")).code
    if new != old:
        stale = await services.login.verify_email(browser, flow_id, old, META)
        assert isinstance(stale.step, VerifyEmail) and stale.step.error is not None
        assert stale.step.error.code == "code.invalid"
    done = await services.login.verify_email(browser, flow_id, new, META)
    assert isinstance(done.step, Done)
    row = user_row(services, user_id)
    assert (row["email"], row["email_verified"]) == ("rita@elsewhere.example", 1)


async def test_the_link_in_another_browser_verifies_without_signing_in(
    services: Services, admin: Context, acme: Organization, mailbox: Mailbox
) -> None:
    request_id = await auth_request(services, await portal(services, admin, acme.id))
    browser, flow_id, user_id, mail_code = await registered(
        services, mailbox, auth_request_id=request_id
    )
    phone = new_browser_cookie()
    opened = await services.login.open_code_link(
        phone, Purpose.EMAIL, user_id, mail_code, flow_id=flow_id, request=META
    )
    assert isinstance(opened.step, VerifyEmail) and opened.step.flow.id != flow_id
    assert opened.step.code == mail_code
    assert user_row(services, user_id)["email_verified"] == 0  # opening verifies nothing
    verified = await services.login.verify_email(phone, opened.step.flow.id, mail_code, META)
    assert isinstance(verified.step, EmailVerified)
    assert verified.browser_cookie is None
    assert await services.sessions.list_browser_sessions(phone) == []
    row = user_row(services, user_id)
    assert (row["state"], row["email_verified"]) == ("active", 1)

    # The browser that registered goes on without a code.
    shown = await services.login.open_code_link(
        browser, Purpose.EMAIL, user_id, mail_code, flow_id=flow_id, request=META
    )
    assert shown.step.flow.id == flow_id
    done = await services.login.verify_email(browser, flow_id, "", META)
    assert isinstance(done.step, Done) and done.browser_cookie
    back = await services.auth_requests.issue_code(
        services.system_context("test"), request_id, browser_cookie=done.browser_cookie
    )
    assert "code=" in back.location
    assert len(await events_of(services, "user.human.email.verified", user_id)) == 1


async def test_an_unverified_user_signing_in_later_gets_a_new_code(
    services: Services, mailbox: Mailbox
) -> None:
    _, _, user_id, first = await registered(services, mailbox)
    browser = new_browser_cookie()
    started = await services.login.start(browser, auth_request_id="", request=META)
    flow_id = started.step.flow.id
    named = await services.login.submit_login_name(browser, flow_id, RITA.username)
    assert isinstance(named.step, AskPassword)
    signed = await services.login.submit_password(browser, flow_id, RITA_PASSWORD, META)
    assert isinstance(signed.step, VerifyEmail), signed.step
    assert signed.step.delivery.recipient == RITA.email
    cookie = signed.browser_cookie
    assert cookie
    second = (await mailbox.one(RITA.email)).code
    assert len(await events_of(services, "user.human.email.code.added", user_id)) == 2
    if second != first:
        stale = await services.login.verify_email(cookie, flow_id, first, META)
        assert isinstance(stale.step, VerifyEmail) and stale.step.error is not None
    done = await services.login.verify_email(cookie, flow_id, second, META)
    assert isinstance(done.step, Done) and done.step.user_id == user_id
    assert user_row(services, user_id)["state"] == "active"
    # Verified: the next sign-in asks for no code.
    again = new_browser_cookie()
    started = await services.login.start(again, auth_request_id="", request=META)
    await services.login.submit_login_name(again, started.step.flow.id, RITA.username)
    plain = await services.login.submit_password(again, started.step.flow.id, RITA_PASSWORD, META)
    assert isinstance(plain.step, Done)
    assert await mailbox.new() == []
