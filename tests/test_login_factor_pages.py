"""Second factors through the hosted pages as a browser without JavaScript drives them: codes
by email (a real SMTP server) and by SMS (a real HTTP provider), "another way" between a user's
factors, recovery codes typed into the code field, twenty concurrent wrong codes against a live
server, and the edges of the WebAuthn posts and of the prompt's and verify page's choices."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx2
import pyotp
import pytest

from tests import mail_fixtures
from tests import oidc_fixtures as fx
from tests import test_core_sms as sms_tests
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.dbfile import rows
from tests.live_server import serving
from tests.mail_fixtures import MailServer, free_port, text_of, use_smtp
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
from tests.test_oidc_login_pages import Forms, follow, form
from zitui.config import Settings
from zitui.core.context import Context, RequestMeta
from zitui.core.factors import FactorKind
from zitui.core.services import open_services
from zitui.core.users import NewHumanUser
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


async def sign_in_pages(
    harness: Harness, world: World, browser: httpx2.AsyncClient, user: User
) -> httpx2.Response:
    """An application's request, the login name and the password: the page that follows."""
    params = fx.authorize_params(world.clients["basic"])
    return await password_pages(browser, params, user.login_name)


async def choose(
    browser: httpx2.AsyncClient, prompt: httpx2.Response, **choice: str
) -> httpx2.Response:
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
        assert "Enter the latest code we sent" in wrong.text and 'id="code-error"' in wrong.text
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
        assert wrong.status_code == 400 and "Enter the latest code we sent" in wrong.text
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


# --- edges: what a tampered, stale or cancelled form gets ----------------------------------

CANCELLED = "The security key or passkey was not used, or the time ran out. Try again."
NOT_AN_ANSWER = "This is not an answer from a security key or passkey. Try again."
NOT_REGISTERED = "This security key or passkey is not registered for this account."
NOT_VERIFIED = "The security key or passkey could not be verified. Try again."
STEP_OVER = "This page is out of date"
FORM_ALERT = re.compile(r'<div class="alert" role="alert" id="form-alert"><p>(.*?)</p></div>')


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unknown_assertion() -> str:
    """A well-formed answer to a sign-in ceremony, from a credential nobody registered."""
    client_data = {"type": "webauthn.get", "challenge": b64(b"c" * 32), "origin": "http://x"}
    return json.dumps(
        {
            "id": b64(b"unknown-credential"),
            "rawId": b64(b"unknown-credential"),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(json.dumps(client_data).encode()),
                "authenticatorData": b64(b"\0" * 37),
                "signature": b64(b"\1" * 64),
            },
            "clientExtensionResults": {},
        }
    )


def unknown_attestation() -> str:
    """A well-formed-looking answer to a creation ceremony that no authenticator made."""
    client_data = {"type": "webauthn.create", "challenge": b64(b"c" * 32), "origin": "http://x"}
    return json.dumps(
        {
            "id": b64(b"new-credential"),
            "rawId": b64(b"new-credential"),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(json.dumps(client_data).encode()),
                "attestationObject": b64(b"\xa0"),
            },
            "clientExtensionResults": {},
        }
    )


# What a browser (or someone posting by hand) may send in place of a credential: nothing,
# garbage, 100 KB of JSON.
BAD_CREDENTIALS = ["", "{not json", json.dumps({"id": "x" * 100_000})]


def alert(page: httpx2.Response) -> str:
    """The message at the top of the form (or on its one field)."""
    found = FORM_ALERT.findall(page.text)
    return html.unescape(found[0]) if found else ""


def snapshot(harness: Harness) -> tuple[object, ...]:
    """What a refused post must leave alone: factors, sessions and their checks, events."""
    data = harness.services.settings.data_dir
    return (
        rows(data, "SELECT id, kind, state, last_used_at FROM user_factors ORDER BY id"),
        rows(data, "SELECT id, second_factor_checked_at, multi_factor_checked_at FROM sessions"),
        rows(data, "SELECT count(*) FROM events"),
    )


async def post_key(
    browser: httpx2.AsyncClient, page: httpx2.Response, action: str, **values: str
) -> httpx2.Response:
    """A WebAuthn form of `page` posted to `action` with `values` (the flow's hidden fields of
    whichever form the page has)."""
    forms = Forms()
    forms.feed(page.text)
    hidden = next(iter(forms.forms.values()))
    fields = {"flow": hidden.get("flow", ""), "csrf_token": hidden["csrf_token"]}
    return await browser.post(action, data={**fields, "credential": "", **values})


def assert_refused(
    response: httpx2.Response, message: str, *, status: int = 400, page_marker: str
) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert message in alert(response), response.text
    assert page_marker in response.text, response.text


async def test_passkey_sign_in_refuses_what_is_no_passkey_of_this_site(
    harness: Harness, world: World
) -> None:
    async with client_of(harness) as browser:
        params = fx.authorize_params(world.clients["basic"])
        page = await follow(browser, await browser.get(paths.AUTHORIZE, params=params))
        assert f'action="{paths.LOGIN_PASSKEY}"' in page.text
        login_name_form = f'action="{paths.LOGIN_NAME}"'
        before = snapshot(harness)
        # Whatever names no passkey known here is "not registered", the same for every user.
        for credential in [*BAD_CREDENTIALS, unknown_assertion()]:
            refused = await post_key(browser, page, paths.LOGIN_PASSKEY, credential=credential)
            assert_refused(refused, NOT_REGISTERED, page_marker=login_name_form)
            page = refused
        cancelled = await post_key(
            browser, page, paths.LOGIN_PASSKEY, client_error="NotAllowedError"
        )
        assert_refused(cancelled, CANCELLED, page_marker=login_name_form)
        assert snapshot(harness) == before
        # The page still signs in with the password.
        name_form = form(cancelled.text, paths.LOGIN_NAME)
        page = await browser.post(
            paths.LOGIN_NAME, data={**name_form, "login_name": world.alice.login_name}
        )
        assert f'action="{paths.LOGIN_PASSWORD}"' in page.text


async def test_without_passkeys_in_the_policy_there_is_no_passkey_sign_in(
    harness: Harness, world: World
) -> None:
    changes = {"passwordless_allowed": False}
    await harness.services.policies.set(world.admin, "login", changes, world.org_id)
    async with client_of(harness) as browser:
        # The request names the organisation, so its policy is the one the page follows.
        scope = f"openid urn:zitadel:iam:org:id:{world.org_id}"
        params = {**fx.authorize_params(world.clients["basic"]), "scope": scope}
        page = await follow(browser, await browser.get(paths.AUTHORIZE, params=params))
        assert f'action="{paths.LOGIN_NAME}"' in page.text
        assert paths.LOGIN_PASSKEY not in page.text and "webauthn" not in page.text
        before = snapshot(harness)
        refused = await post_key(browser, page, paths.LOGIN_PASSKEY, credential=unknown_assertion())
        assert refused.status_code == 400 and alert(refused), refused.text
        assert paths.LOGIN_PASSKEY not in refused.text
        assert snapshot(harness) == before


async def add_key(harness: Harness, user: User, kind: str = "u2f") -> str:
    """A ready security key (or passkey) of `user`; its credential id."""
    credential_id = b64(f"{kind}-of-{user.id}".encode())
    async with harness.services.store.transaction() as tx:
        added = await tx.factors.insert_credential(
            f"factor-{kind}-{user.id}",
            user.id,
            kind,
            name="Key",
            credential_id=credential_id,
            public_key=b64(b"not a real public key"),
            sign_count=0,
            transports=["usb"],
            at=harness.services.clock.now(),
        )
    assert added
    return credential_id


async def test_registering_a_key_refuses_bad_answers_and_keeps_the_page(
    harness: Harness, world: World
) -> None:
    await prompt_after_skip_lifetime(harness, world)  # TOTP and security keys
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, world.alice)
        # Out of its step: nothing is registered, and the page says it was stale.
        before = snapshot(harness)
        stale = await post_key(
            browser, prompt, paths.LOGIN_MFA_KEY, credential=unknown_attestation()
        )
        assert_refused(stale, STEP_OVER, status=412, page_marker='id="choose-u2f"')

        page = await choose(browser, stale, kind="u2f")
        assert page.status_code == 200 and f'action="{paths.LOGIN_MFA_KEY}"' in page.text
        key_form = 'id="register-key"'
        for credential, message in [
            *((c, NOT_AN_ANSWER) for c in BAD_CREDENTIALS),
            (unknown_attestation(), NOT_VERIFIED),
        ]:
            refused = await post_key(browser, page, paths.LOGIN_MFA_KEY, credential=credential)
            assert_refused(refused, message, page_marker=key_form)
            page = refused
        long_name = await post_key(
            browser, page, paths.LOGIN_MFA_KEY, credential=unknown_attestation(), name="n" * 300
        )
        assert long_name.status_code == 400 and alert(long_name), long_name.text
        cancelled = await post_key(
            browser, page, paths.LOGIN_MFA_KEY, client_error="NotAllowedError"
        )
        assert_refused(cancelled, CANCELLED, page_marker=key_form)
        odd = await post_key(browser, page, paths.LOGIN_MFA_KEY, client_error="<b>x</b>" * 1000)
        assert_refused(odd, "The browser could not use the security key", page_marker=key_form)
        assert snapshot(harness) == before
        # "Another way" still leads back to the prompt, and TOTP works from there.
        back = await choose(browser, odd, kind="")
        assert back.status_code == 200 and 'id="choose-totp"' in back.text
        _, codes_page = await set_up_totp(harness, browser, back)
        assert len(RECOVERY.findall(codes_page.text)) == 10


async def test_proving_a_key_refuses_bad_answers_and_keeps_the_page(
    harness: Harness, world: World
) -> None:
    await prompt_after_skip_lifetime(harness, world)
    await add_key(harness, world.alice)
    async with client_of(harness) as browser:
        page = await sign_in_pages(harness, world, browser, world.alice)
        assert f'action="{paths.LOGIN_MFA_VERIFY_KEY}"' in page.text
        key_form = 'id="use-key"'
        before = snapshot(harness)
        for credential, message in [
            *((c, NOT_AN_ANSWER) for c in BAD_CREDENTIALS),
            (unknown_assertion(), NOT_REGISTERED),
        ]:
            refused = await post_key(
                browser, page, paths.LOGIN_MFA_VERIFY_KEY, credential=credential
            )
            assert_refused(refused, message, page_marker=key_form)
            page = refused
        cancelled = await post_key(
            browser, page, paths.LOGIN_MFA_VERIFY_KEY, client_error="NotAllowedError"
        )
        assert_refused(cancelled, CANCELLED, page_marker=key_form)
        # A key's answer posted where the page set up another step.
        stale = await post_key(browser, page, paths.LOGIN_MFA_KEY, credential=unknown_attestation())
        assert_refused(stale, STEP_OVER, status=412, page_marker=key_form)
        assert snapshot(harness) == before


async def test_a_key_answer_out_of_its_step_changes_nothing(harness: Harness, world: World) -> None:
    await prompt_after_skip_lifetime(harness, world)
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, world.alice)
        _, codes_page = await set_up_totp(harness, browser, prompt)
        await exchange(harness, world, await go_on(browser, codes_page))
    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, world.alice)
        assert asks_for_code(verify) and paths.LOGIN_MFA_VERIFY_KEY not in verify.text
        before = snapshot(harness)
        stale = await post_key(
            browser, verify, paths.LOGIN_MFA_VERIFY_KEY, credential=unknown_assertion()
        )
        assert_refused(stale, STEP_OVER, status=412, page_marker='id="code-form"')
        # A passkey from a stale login-name page (another tab) once the password is proven.
        stale = await post_key(browser, verify, paths.LOGIN_PASSKEY, credential=unknown_assertion())
        assert_refused(stale, STEP_OVER, status=412, page_marker='id="code-form"')
        assert snapshot(harness) == before

    async with client_of(harness) as browser:  # before the password: the login-name page
        params = fx.authorize_params(world.clients["basic"])
        page = await follow(browser, await browser.get(paths.AUTHORIZE, params=params))
        before = snapshot(harness)
        for action in (paths.LOGIN_MFA_KEY, paths.LOGIN_MFA_VERIFY_KEY):
            stale = await post_key(browser, page, action, credential=unknown_assertion())
            marker = f'action="{paths.LOGIN_NAME}"'
            assert_refused(stale, STEP_OVER, status=412, page_marker=marker)
        assert snapshot(harness) == before


async def test_the_prompt_refuses_a_kind_it_does_not_offer(
    harness: Harness, world: World, mailbox: MailServer
) -> None:
    await code_policy(harness, world, "otp", "otp_email")
    changes = {"passwordless_allowed": False}
    await harness.services.policies.set(world.admin, "login", changes, world.org_id)
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, world.alice)
        assert 'id="choose-u2f"' not in prompt.text and 'id="choose-passkey"' not in prompt.text
        before = snapshot(harness)
        # Unknown, not in the policy, no verified number, passkeys off.
        for kind in ("sms", "u2f", "otp_sms", "passkey", "x" * 5000):
            refused = await choose(browser, prompt, kind=kind)
            assert_refused(refused, "cannot be set up here", page_marker='id="choose-totp"')
        assert snapshot(harness) == before
        assert await mailed(harness, mailbox, world.alice.email) == []


async def test_the_verify_page_refuses_a_way_the_user_has_not_got(
    harness: Harness, world: World, mailbox: MailServer
) -> None:
    await code_policy(harness, world, "otp", "otp_email")
    async with client_of(harness) as browser:
        prompt = await sign_in_pages(harness, world, browser, world.alice)
        secret, codes_page = await set_up_totp(harness, browser, prompt)
        await exchange(harness, world, await go_on(browser, codes_page))
    harness.services.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    async with client_of(harness) as browser:
        verify = await sign_in_pages(harness, world, browser, world.alice)
        before = snapshot(harness)
        for kind in ("otp_email", "otp_sms", "u2f", "recovery", "x" * 5000):
            refused = await use(browser, verify, kind)
            assert_refused(refused, "not available for your account", page_marker='id="code-form"')
            assert 'id="sent-to"' not in refused.text
        assert snapshot(harness) == before
        assert await mailed(harness, mailbox, world.alice.email) == []
        back = await follow(browser, await enter(browser, verify, totp_now(harness, secret)))
        await exchange(harness, world, back)


# --- twenty wrong codes at once, against a live server --------------------------------------

CAROL_PASSWORD = "Carol-Pass-3!"
MAX_OTP_ATTEMPTS = 5
BROWSERS = 20


@dataclass(frozen=True)
class Live:
    url: str
    data_dir: Path
    user_id: str
    secret: str


async def prepare(settings: Settings) -> tuple[str, str]:
    """carol, with an authenticator app, in an organisation that locks after five wrong codes;
    her id and the app's secret."""
    services, _ = await open_services(settings)
    try:
        signed_in = await services.auth.login_operator(
            "admin", ADMIN_PASSWORD, RequestMeta(origin="test")
        )
        admin = signed_in.context
        assert admin.actor is not None
        org_id = admin.actor.org_id
        lockout = {"max_otp_attempts": MAX_OTP_ATTEMPTS}
        await services.policies.set(admin, "lockout", lockout, org_id)
        new = NewHumanUser("carol", "Carol", "Danvers", password=CAROL_PASSWORD)
        carol = await services.users.create_human_user(admin, org_id, new)
        async with services.store.transaction() as tx:
            setup = await services.factors.start_totp(tx, admin, carol, issuer="zitui")
        # Confirmed with the previous time step's code, so the current one stays unused.
        earlier = services.clock.now() - timedelta(seconds=30)
        async with services.store.transaction() as tx:
            code = pyotp.TOTP(setup.secret).at(earlier)
            assert await services.factors.confirm_totp(tx, admin, carol, setup.factor_id, code)
        return carol.id, setup.secret
    finally:
        await services.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The production server set-up (zitui.runner) on 127.0.0.1, in its own thread and loop.
    The throttle allows more than the lockout, so what stops the guesses is the lock."""
    port = free_port()
    settings = make_settings(
        tmp_path / "data",
        listen=f"127.0.0.1:{port}",
        throttle_name_attempts=1000,
        throttle_ip_attempts=1000,
    )
    user_id, secret = asyncio.run(prepare(settings))
    with serving(settings):
        yield Live(f"http://127.0.0.1:{port}", settings.data_dir, user_id, secret)


async def at_the_code_page(live: Live, browser: httpx2.AsyncClient) -> dict[str, str]:
    """carol's login name and password on the live pages; the verify page's form."""
    page = await follow(browser, await browser.get(paths.LOGIN))
    name_form = form(page.text, paths.LOGIN_NAME)
    page = await browser.post(paths.LOGIN_NAME, data={**name_form, "login_name": "carol"})
    password_form = form(page.text, paths.LOGIN_PASSWORD)
    page = await follow(
        browser,
        await browser.post(
            paths.LOGIN_PASSWORD, data={**password_form, "password": CAROL_PASSWORD}
        ),
    )
    assert page.status_code == 200 and asks_for_code(page), page.text
    return form(page.text, paths.LOGIN_MFA_VERIFY)


def wrong_totp_codes(secret: str, count: int) -> list[str]:
    """Six-digit codes that no time step near now produces."""
    now = int(time.time()) // 30
    near = {pyotp.TOTP(secret).generate_otp(step) for step in range(now - 4, now + 5)}
    candidates = (f"{n:06d}" for n in range(100_000, 1_000_000, 7919))
    return [code for code in candidates if code not in near][:count]


async def test_twenty_concurrent_wrong_codes_lock_the_user_at_max_otp_attempts(
    live: Live,
) -> None:
    """The lock counts per user, not per flow: twenty browsers past carol's password each send
    a wrong code at the same moment."""
    browsers = [httpx2.AsyncClient(base_url=live.url) for _ in range(BROWSERS)]
    try:
        forms = [await at_the_code_page(live, browser) for browser in browsers]
        codes = wrong_totp_codes(live.secret, BROWSERS)
        answers = await asyncio.gather(
            *(
                browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "code": code})
                for browser, fields, code in zip(browsers, forms, codes, strict=True)
            )
        )
        statuses = [a.status_code for a in answers]
        # A wrong code (counted, or refused once locked), or a sign-in the lock has ended.
        assert set(statuses) <= {400, 410}, statuses
        assert statuses.count(400) >= MAX_OTP_ATTEMPTS, statuses
        assert all('id="code-error"' in a.text for a in answers if a.status_code == 400)

        def failures() -> int:
            [(count,)] = rows(
                live.data_dir,
                "SELECT count(*) FROM events WHERE aggregate_id = ? AND event_type = ?",
                live.user_id,
                "user.human.mfa.otp.check.failed",
            )
            return int(str(count))

        def user() -> tuple[object, ...]:
            sql = "SELECT state, failed_code_attempts FROM users WHERE id = ?"
            [found] = rows(live.data_dir, sql, live.user_id)
            return found

        assert user() == ("locked", MAX_OTP_ATTEMPTS)
        assert failures() == MAX_OTP_ATTEMPTS
        locked = rows(
            live.data_dir,
            "SELECT count(*) FROM events WHERE aggregate_id = ? AND event_type = 'user.locked'",
            live.user_id,
        )
        assert locked == [(1,)]

        # Locked: the app's current code (never used) passes in none of the flows (the lock
        # ended their sessions), and nothing more counts.
        right = pyotp.TOTP(live.secret).now()
        for browser, fields in zip(browsers, forms, strict=True):
            refused = await browser.post(paths.LOGIN_MFA_VERIFY, data={**fields, "code": right})
            assert refused.status_code == 410, refused.text
            assert "This sign-in request has expired" in refused.text
        assert user() == ("locked", MAX_OTP_ATTEMPTS) and failures() == MAX_OTP_ATTEMPTS
        # Nor does a new sign-in get past the password to the code.
        async with httpx2.AsyncClient(base_url=live.url) as browser:
            page = await follow(browser, await browser.get(paths.LOGIN))
            name_form = form(page.text, paths.LOGIN_NAME)
            page = await browser.post(paths.LOGIN_NAME, data={**name_form, "login_name": "carol"})
            password_form = form(page.text, paths.LOGIN_PASSWORD)
            data = {**password_form, "password": CAROL_PASSWORD}
            refused = await browser.post(paths.LOGIN_PASSWORD, data=data)
            assert refused.status_code == 401, refused.text
            assert "The login name or password is wrong." in refused.text
        checked = rows(
            live.data_dir,
            "SELECT count(*) FROM sessions WHERE user_id = ? AND second_factor_checked_at IS "
            "NOT NULL",
            live.user_id,
        )
        assert checked == [(0,)]
    finally:
        for browser in browsers:
            await browser.aclose()
