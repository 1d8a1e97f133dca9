"""Second factors through the hosted pages as a browser without JavaScript drives them: codes
by email (a real SMTP server) and by SMS (a real HTTP provider), "another way" between a user's
factors, recovery codes typed into the code field, twenty concurrent wrong codes against a live
server, and the edges of the WebAuthn posts and of the prompt's and verify page's choices."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import httpx2
import pytest

from tests import mail_fixtures
from tests import oidc_fixtures as fx
from tests import test_core_sms as sms_tests
from tests.mail_fixtures import MailServer, text_of, use_smtp
from tests.oidc_fixtures import Harness, World
from tests.test_core_sms import SmsProvider, http_settings
from tests.test_login_mfa_pages import (
    RECOVERY,
    client_of,
    exchange,
    password_pages,
    prompt_after_skip_lifetime,
    set_up_totp,
    totp_now,
)
from tests.test_oidc_login_pages import follow, form
from zitui.core.context import Context
from zitui.core.factors import FactorKind
from zitui.records import User
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world
mail_server = mail_fixtures.mail_server
provider = sms_tests.provider  # a real HTTP server on 127.0.0.1 standing in for the provider

PHONE = "+41 79 123 45 67"
# The code stands alone on an indented line of the mail's text; eight digits in the SMS.
MAIL_CODE = re.compile(r"^ {4}([0-9]{8})$", re.MULTILINE)
SMS_CODE = re.compile(r"\b([0-9]{8})\b")
SENT_TO = re.compile(r'<p id="sent-to">(.*?)</p>', re.DOTALL)
HINT = re.compile(r'<p class="other" id="recovery-hint">(.*?)</p>', re.DOTALL)


# --- where the codes arrive ----------------------------------------------------------------


@pytest.fixture
async def mailbox(harness: Harness, world: World, mail_server: MailServer) -> MailServer:
    """The instance's mail goes to a real SMTP server on 127.0.0.1."""
    mail_server.start()
    await use_smtp(harness.services, world.admin, mail_server)
    return mail_server


@pytest.fixture
async def sms(harness: Harness, world: World, provider: SmsProvider) -> SmsProvider:
    """The instance's text messages go to a real HTTP provider on 127.0.0.1."""
    await harness.services.sms.set_sms(world.admin, http_settings(provider))
    return provider


async def mailed(harness: Harness, server: MailServer, to: str) -> list[str]:
    """The codes of every mail `to` got so far, oldest first. One pass of the sender hands the
    outbox over; aiosmtpd keeps a message before it answers, so it is there on return."""
    await harness.services.sender.deliver_due()
    found = []
    for _, recipients, message in server.inbox.received:
        if recipients == [to]:
            [code] = MAIL_CODE.findall(text_of(message))
            found.append(code)
    return found


async def texted(harness: Harness, provider: SmsProvider, to: str) -> list[str]:
    """The codes of every text message to the number `to` (as sent: digits only), oldest first."""
    await harness.services.sender.deliver_due()
    found = []
    for request in provider.received:
        body = json.loads(request.body)
        if body["to"] == to:
            [code] = SMS_CODE.findall(body["text"])
            found.append(code)
    return found


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 10**8:08d}"


# --- the pages -------------------------------------------------------------------------------


async def sign_in_pages(harness: Harness, world: World, browser: httpx2.AsyncClient, user: User):
    """An application's request, the login name and the password: the page that follows."""
    params = fx.authorize_params(world.clients["basic"])
    return await password_pages(browser, params, user.login_name)


async def choose(browser: httpx2.AsyncClient, prompt: httpx2.Response, **choice: str):
    """A button of the set-up prompt (`kind=…` or `skip=1`)."""
    fields = form(prompt.text, paths.LOGIN_MFA_PROMPT)
    return await browser.post(paths.LOGIN_MFA_PROMPT, data={**fields, **choice})


async def enter(browser: httpx2.AsyncClient, page: httpx2.Response, code: str) -> httpx2.Response:
    """A code typed into the verify page's field."""
    fields = form(page.text, paths.LOGIN_MFA_VERIFY)
    return await browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "code": code})


async def use(browser: httpx2.AsyncClient, page: httpx2.Response, kind: str) -> httpx2.Response:
    """ "Another way" (or "send a new code") on the verify page."""
    fields = form(page.text, paths.LOGIN_MFA_VERIFY)
    return await browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "use": kind})


def sent_to(page: httpx2.Response) -> str:
    [shown] = SENT_TO.findall(page.text)
    return html.unescape(shown)


def recovery_hint(page: httpx2.Response) -> str:
    [shown] = HINT.findall(page.text)
    return html.unescape(shown)


def asks_for_code(page: httpx2.Response) -> bool:
    return f'action="{paths.LOGIN_MFA_VERIFY}"' in page.text and 'id="code-form"' in page.text


async def go_on(browser: httpx2.AsyncClient, codes_page: httpx2.Response) -> httpx2.Response:
    """ "Continue" below the recovery codes, followed to the application."""
    fields = form(codes_page.text, paths.LOGIN_MFA_RECOVERY_CODES)
    return await follow(browser, await browser.post(paths.LOGIN_MFA_RECOVERY_CODES, data=fields))


async def code_policy(harness: Harness, world: World, *second_factors: str) -> None:
    """The organisation's policy: the set-up prompt on, with these second factors."""
    await prompt_after_skip_lifetime(harness, world, second_factors=list(second_factors))


async def add_code_factor(harness: Harness, admin: Context, user: User, kind: FactorKind) -> None:
    async with harness.services.store.transaction() as tx:
        await harness.services.otp_factors.add(tx, admin, user, kind)


# --- codes by email and by SMS ---------------------------------------------------------------


async def test_a_code_by_email_from_the_prompt_then_at_every_sign_in(
    harness: Harness, world: World, mailbox: MailServer
) -> None:
    await code_policy(harness, world, "otp", "otp_email")
    alice = world.alice
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, alice)
        assert 'id="choose-otp_email"' in prompt.text and "Code by email" in prompt.text
        # No verified phone number: no codes by SMS, even where the policy allows them.
        assert 'id="choose-otp_sms"' not in prompt.text and "Code by SMS" not in prompt.text
        assert await mailed(harness, mailbox, alice.email) == []

        verify = await choose(browser, prompt, kind="otp_email")
        assert verify.status_code == 200, verify.text
        assert sent_to(verify) == "We sent a code to a•••@example.com. Enter it here."
        assert 'autocomplete="one-time-code"' in verify.text
        [code] = await mailed(harness, mailbox, alice.email)
        codes_page = await enter(browser, verify, code)
        # The first factor brings the recovery codes, before the application gets its answer.
        assert codes_page.status_code == 200, codes_page.text
        assert len(set(RECOVERY.findall(codes_page.text))) == 10
        claims = await exchange(harness, world, await go_on(browser, codes_page))
        assert claims["amr"] == ["pwd", "otp", "mfa"]

    async with client_of(harness) as browser:
        # The next sign-in sends a code as soon as the password is right.
        verify = await sign_in_pages(harness, world, browser, alice)
        assert asks_for_code(verify) and sent_to(verify).endswith(
            "a•••@example.com. Enter it here."
        )
        _, sent = await mailed(harness, mailbox, alice.email)  # the set-up's, this sign-in's
        assert 'id="resend"' in verify.text
        again = await use(browser, verify, "otp_email")  # "Send a new code"
        assert again.status_code == 200 and asks_for_code(again)
        *_, resent = await mailed(harness, mailbox, alice.email)
        assert len(await mailed(harness, mailbox, alice.email)) == 3
        if resent != sent:  # one chance in 10^8 that the new code is the old one
            stale = await enter(browser, again, sent)
            assert stale.status_code == 400 and 'id="code-error"' in stale.text
        wrong = await enter(browser, again, other_than(resent))
        assert wrong.status_code == 400, wrong.text
        assert "This code is wrong" in wrong.text and 'id="code-error"' in wrong.text
        assert asks_for_code(wrong) and sent_to(wrong).endswith("a•••@example.com. Enter it here.")
        back = await follow(browser, await enter(browser, wrong, resent))
        claims = await exchange(harness, world, back)
        assert claims["amr"] == ["pwd", "otp", "mfa"]


async def test_a_code_by_sms_from_the_prompt_then_at_every_sign_in(
    harness: Harness, world: World, sms: SmsProvider
) -> None:
    await code_policy(harness, world, "otp", "otp_sms")
    bob = await harness.services.users.change_phone(world.admin, world.bob.id, PHONE, verified=True)
    number = "+41791234567"
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, bob)
        assert 'id="choose-otp_sms"' in prompt.text and "Code by SMS" in prompt.text
        assert 'id="choose-otp_email"' not in prompt.text  # not allowed by the policy
        verify = await choose(browser, prompt, kind="otp_sms")
        assert verify.status_code == 200, verify.text
        assert sent_to(verify) == "We sent a code by SMS to +41 •• ••• •• 67. Enter it here."
        assert "123 45" not in verify.text
        [code] = await texted(harness, sms, number)
        codes_page = await enter(browser, verify, code)
        assert codes_page.status_code == 200 and len(RECOVERY.findall(codes_page.text)) == 10
        claims = await exchange(harness, world, await go_on(browser, codes_page))
        assert claims["amr"] == ["pwd", "otp", "mfa"]

    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, bob)
        assert asks_for_code(verify) and "+41 •• ••• •• 67" in sent_to(verify)
        _, sent = await texted(harness, sms, number)
        again = await use(browser, verify, "otp_sms")
        assert again.status_code == 200 and asks_for_code(again)
        *_, resent = await texted(harness, sms, number)
        assert len(await texted(harness, sms, number)) == 3
        if resent != sent:
            stale = await enter(browser, again, sent)
            assert stale.status_code == 400 and 'id="code-error"' in stale.text
        wrong = await enter(browser, again, other_than(resent))
        assert wrong.status_code == 400 and "This code is wrong" in wrong.text
        assert asks_for_code(wrong) and "+41 •• ••• •• 67" in sent_to(wrong)
        back = await follow(browser, await enter(browser, wrong, resent))
        assert (await exchange(harness, world, back))["amr"] == ["pwd", "otp", "mfa"]


# --- another way ---------------------------------------------------------------------------


async def test_another_way_offers_the_users_factors_last_used_first(
    harness: Harness, world: World, mailbox: MailServer
) -> None:
    await code_policy(harness, world, "otp", "otp_email")
    alice = world.alice
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, alice)
        secret, codes_page = await set_up_totp(harness, browser, prompt)
        await exchange(harness, world, await go_on(browser, codes_page))

    async def next_day() -> None:
        harness.services.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]

    await next_day()
    async with client_of(harness) as browser:  # the app signs in once: it was used last
        verify = await sign_in_pages(harness, world, browser, alice)
        assert 'id="use-otp_email"' not in verify.text and 'id="other-ways"' not in verify.text
        back = await follow(browser, await enter(browser, verify, totp_now(harness, secret)))
        await exchange(harness, world, back)
    await add_code_factor(harness, world.admin, alice, FactorKind.OTP_EMAIL)

    # The app was used last: its code is asked for, and a code by email is the other way.
    await next_day()
    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, alice)
        assert "authenticator app" in verify.text and 'id="sent-to"' not in verify.text
        assert 'id="use-otp_email"' in verify.text and 'id="use-totp"' not in verify.text
        assert await mailed(harness, mailbox, alice.email) == []
        by_mail = await use(browser, verify, "otp_email")
        assert by_mail.status_code == 200 and "a•••@example.com" in sent_to(by_mail)
        assert 'id="use-totp"' in by_mail.text and 'id="resend"' in by_mail.text
        [code] = await mailed(harness, mailbox, alice.email)
        await exchange(harness, world, await follow(browser, await enter(browser, by_mail, code)))

    # Now the mail was used last: its code goes out at once, and the app is the other way.
    await next_day()
    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, alice)
        assert "a•••@example.com" in sent_to(verify) and 'id="use-totp"' in verify.text
        assert len(await mailed(harness, mailbox, alice.email)) == 2
        by_app = await use(browser, verify, "totp")
        assert 'id="sent-to"' not in by_app.text and 'id="use-otp_email"' in by_app.text
        back = await follow(browser, await enter(browser, by_app, totp_now(harness, secret)))
        await exchange(harness, world, back)

    await next_day()
    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, alice)
        assert 'id="sent-to"' not in verify.text and 'id="use-otp_email"' in verify.text
        assert len(await mailed(harness, mailbox, alice.email)) == 2  # no mail this time


# --- recovery codes ----------------------------------------------------------------------


async def test_a_recovery_code_in_the_code_field_works_once(
    harness: Harness, world: World, mailbox: MailServer
) -> None:
    await code_policy(harness, world, "otp_email")
    alice = world.alice
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, alice)
        verify = await choose(browser, prompt, kind="otp_email")
        [code] = await mailed(harness, mailbox, alice.email)
        codes_page = await enter(browser, verify, code)
        recovery = RECOVERY.findall(codes_page.text)
        await exchange(harness, world, await go_on(browser, codes_page))

    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, alice)
        assert "(10 left)" in recovery_hint(verify)
        back = await follow(browser, await enter(browser, verify, recovery[3]))
        assert (await exchange(harness, world, back))["amr"] == ["pwd", "otp", "mfa"]

    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, alice)
        assert "(9 left)" in recovery_hint(verify)
        again = await enter(browser, verify, recovery[3])
        assert again.status_code == 400 and "This code is wrong" in again.text
        assert "(9 left)" in recovery_hint(again)
        back = await follow(browser, await enter(browser, again, recovery[4]))
        await exchange(harness, world, back)
