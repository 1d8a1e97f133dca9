"""One-time passwords by email and by SMS as second factors: only for a verified address or
number, one factor of each kind, eight-digit codes that work once and for five minutes, bound to
where they went, and wrong codes counting toward `max_otp_attempts` (concurrent ones too)."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from tests import test_core_sessions as session_tests
from tests import test_core_sms as sms_tests
from tests.dbfile import rows
from tests.self_service import events_of, user_row
from tests.test_core_sessions import add_human, set_policy
from tests.test_core_sms import SmsProvider, http_settings
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.factors import FactorKind
from zitui.core.otp_factors import masked_target
from zitui.core.policies import LockoutPolicy
from zitui.core.services import Services
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests
provider = sms_tests.provider  # a real HTTP server on 127.0.0.1 standing in for the provider
EMAIL, SMS = FactorKind.OTP_EMAIL, FactorKind.OTP_SMS
PHONE = "+41 79 123 45 67"
SEC = timedelta(seconds=1)
# The code stands alone on its line, indented, in the plain-text part of the mail.
_MAIL_CODE = re.compile(r"^ {4}([0-9]{8})$", re.MULTILINE)
_SMS_CODE = re.compile(r"\b([0-9]{8})\b")


@dataclass(frozen=True)
class Received:
    """One message as its recipient reads it, and the code in it."""

    recipient: str
    subject: str
    text: str
    code: str


@pytest.fixture
async def sam(services: Services, admin: Context, acme: Organization) -> User:
    """A user with a verified phone number who reads German."""
    return await add_human(
        services,
        admin,
        acme.id,
        "sam",
        email="sam@example.com",
        phone=PHONE,
        phone_verified=True,
        preferred_language="de",
    )


async def add(services: Services, ctx: Context, user: User, kind: FactorKind):
    async with services.store.transaction() as tx:
        return await services.otp_factors.add(tx, ctx, user, kind)


async def send(services: Services, ctx: Context, user: User, kind: FactorKind):
    async with services.store.transaction() as tx:
        return await services.otp_factors.send_code(tx, ctx, user, kind)


async def check(services: Services, ctx: Context, user: User, kind: FactorKind, code: str) -> bool:
    async with services.store.transaction() as tx:
        return await services.otp_factors.check_code(tx, ctx, user, kind, code)


async def mails(services: Services) -> list[Received]:
    """Every mail delivered so far (written as .eml files without SMTP), oldest first."""
    await services.sender.deliver_due()
    folder = services.settings.data_dir / "mail"
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        codes = _MAIL_CODE.findall(text)
        found.append(Received(str(parsed["To"]), str(parsed["Subject"]), text, "".join(codes)))
    return found


async def mailed_code(services: Services, user: User) -> str:
    """The code of the latest sign-in mail to the user."""
    latest = [m for m in await mails(services) if m.recipient == user.email and m.code]
    assert latest, "no sign-in code was mailed"
    return latest[-1].code


async def texted(services: Services, provider: SmsProvider) -> list[Received]:
    """Every text message the provider received, oldest first."""
    await services.sender.deliver_due()
    found = []
    for request in provider.received:
        body = json.loads(request.body)
        [code] = _SMS_CODE.findall(body["text"])
        found.append(Received(body["to"], "", body["text"], code))
    return found


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 10**8:08d}"


async def ready_email(services: Services, admin: Context, user: User) -> str:
    """The user's email factor set up and a code sent; the code."""
    await add(services, admin, user, EMAIL)
    await send(services, admin, user, EMAIL)
    return await mailed_code(services, user)


# --- adding a factor -------------------------------------------------------------------------


async def test_a_factor_needs_a_verified_address_or_number_and_comes_once(
    services: Services, admin: Context, acme: Organization, alice: User, sam: User
):
    with pytest.raises(PreconditionFailed) as refused:
        await add(services, admin, sam, EMAIL)  # an address, not verified
    assert refused.value.code == "otp.email.not_verified"
    with pytest.raises(PreconditionFailed) as refused:
        await add(services, admin, alice, SMS)  # no number at all
    assert refused.value.code == "otp.phone.not_verified"
    unverified = await add_human(services, admin, acme.id, "una", phone=PHONE)
    with pytest.raises(PreconditionFailed) as refused:
        await add(services, admin, unverified, SMS)
    assert refused.value.code == "otp.phone.not_verified"
    with pytest.raises(InvalidArgument) as wrong_kind:
        await add(services, admin, alice, FactorKind.TOTP)
    assert (wrong_kind.value.code, wrong_kind.value.field) == ("factor.kind.invalid", "kind")

    by_mail = await add(services, admin, alice, EMAIL)
    by_sms = await add(services, admin, sam, SMS)
    with pytest.raises(PreconditionFailed) as twice:
        await add(services, admin, alice, EMAIL)
    assert twice.value.code == "factor.already_exists"

    async with services.store.transaction() as tx:
        assert await services.factors.ready_factors(tx, alice.id) == [by_mail]
        assert await services.factors.ready_factors(tx, sam.id) == [by_sms]
    assert (by_mail.kind, by_mail.name, by_mail.ready) == (EMAIL, "Email", True)
    assert (by_sms.kind, by_sms.name, by_sms.ready) == (SMS, "SMS", True)
    [added] = await events_of(services, "user.human.otp.email.added", alice.id)
    assert added.payload == {"factor_id": by_mail.id}
    assert await events_of(services, "user.human.otp.sms.added", sam.id)
    stored = rows(services.settings.data_dir, "SELECT secret_enc FROM user_factors")
    assert stored == [(None,), (None,)]


async def test_no_code_goes_out_without_a_ready_factor(
    services: Services, admin: Context, alice: User
):
    with pytest.raises(NotFound) as missing:
        await send(services, admin, alice, EMAIL)
    assert missing.value.code == "factor.not_found"
    with pytest.raises(NotFound):
        await check(services, admin, alice, EMAIL, "12345678")
    assert await mails(services) == []
    assert rows(services.settings.data_dir, "SELECT count(*) FROM user_codes") == [(0,)]


# --- codes by mail and by SMS ----------------------------------------------------------------


async def test_a_mailed_code_has_eight_digits_no_link_and_works_once(
    services: Services, admin: Context, alice: User, clock: FixedClock
):
    factor = await add(services, admin, alice, EMAIL)
    sent = await send(services, admin, alice, EMAIL)

    assert (sent.recipient, sent.expires_at) == ("alice@example.com", clock.now() + 5 * 60 * SEC)
    [mail] = await mails(services)
    assert mail.recipient == "alice@example.com" and re.fullmatch(r"[0-9]{8}", mail.code)
    assert mail.subject == "zitui: your sign-in code"
    assert "http" not in mail.text and "Valid for 5 minutes." in mail.text
    [(kind, channel)] = rows(services.settings.data_dir, "SELECT kind, channel FROM outbox")
    assert (kind, channel) == ("otp.email", "email")
    [added] = await events_of(services, "user.human.otp.email.code.added", alice.id)
    assert added.payload["message_id"] == sent.message_id
    assert mail.code not in json.dumps(added.payload)
    stored = rows(services.settings.data_dir, "SELECT digest FROM user_codes")
    assert mail.code not in str(stored)

    clock.advance(SEC)
    assert await check(services, admin, alice, EMAIL, mail.code)
    assert not await check(services, admin, alice, EMAIL, mail.code)
    async with services.store.transaction() as tx:
        [used] = await services.factors.ready_factors(tx, alice.id)
    assert (used.id, used.last_used_at) == (factor.id, clock.now())
    [succeeded] = await events_of(services, "user.human.otp.email.check.succeeded", alice.id)
    assert succeeded.payload == {"factor_id": factor.id}
    assert len(await events_of(services, "user.human.otp.email.check.failed", alice.id)) == 1


async def test_a_texted_code_reaches_the_provider_in_the_users_language_and_works_once(
    services: Services, admin: Context, sam: User, provider: SmsProvider
):
    await services.sms.set_sms(admin, http_settings(provider))
    await add(services, admin, sam, SMS)
    sent = await send(services, admin, sam, SMS)

    [sms] = await texted(services, provider)
    assert (sms.recipient, sent.recipient) == ("+41791234567", "+41791234567")
    assert sms.text == (
        f"{sms.code} ist Ihr Anmeldecode für zitui. Er gilt 5 Minuten. Geben Sie ihn nicht weiter."
    )
    [(kind, language)] = rows(
        services.settings.data_dir, "SELECT kind, language FROM outbox WHERE channel = 'sms'"
    )
    assert (kind, language) == ("otp.sms", "de")
    [added] = await events_of(services, "user.human.otp.sms.code.added", sam.id)
    assert added.payload["message_id"] == sent.message_id

    assert not await check(services, admin, sam, SMS, other_than(sms.code))
    assert await check(services, admin, sam, SMS, sms.code)
    assert not await check(services, admin, sam, SMS, sms.code)
    assert len(await events_of(services, "user.human.otp.sms.check.succeeded", sam.id)) == 1
    assert len(await events_of(services, "user.human.otp.sms.check.failed", sam.id)) == 2
    assert user_row(services, sam.id)["failed_code_attempts"] == 1  # the success reset it


async def test_a_new_code_voids_the_one_before(services: Services, admin: Context, alice: User):
    first = await ready_email(services, admin, alice)
    await send(services, admin, alice, EMAIL)
    second = await mailed_code(services, alice)

    if first != second:  # one chance in 10^8 that they are the same
        assert not await check(services, admin, alice, EMAIL, first)
    assert await check(services, admin, alice, EMAIL, second)


async def test_a_code_lasts_five_minutes(
    services: Services, admin: Context, alice: User, clock: FixedClock
):
    code = await ready_email(services, admin, alice)
    clock.advance(5 * 60 * SEC)
    assert not await check(services, admin, alice, EMAIL, code)

    await send(services, admin, alice, EMAIL)
    code = await mailed_code(services, alice)
    clock.advance(5 * 60 * SEC - SEC)
    assert await check(services, admin, alice, EMAIL, code)


async def test_a_changed_address_voids_the_code_and_stops_new_ones(
    services: Services, admin: Context, alice: User
):
    code = await ready_email(services, admin, alice)
    await services.users.change_email(admin, alice.id, "alice@example.net", verified=True)
    assert not await check(services, admin, alice, EMAIL, code)  # the caller's copy is stale
    assert user_row(services, alice.id)["failed_code_attempts"] == 1

    # Back to the first address, but not verified: no code goes out, and none works.
    await services.users.change_email(admin, alice.id, "alice@example.com", verified=False)
    with pytest.raises(PreconditionFailed) as refused:
        await send(services, admin, alice, EMAIL)
    assert refused.value.code == "otp.email.not_verified"
    assert not await check(services, admin, alice, EMAIL, code)


async def test_a_changed_number_voids_the_texted_code(
    services: Services, admin: Context, sam: User, provider: SmsProvider
):
    await services.sms.set_sms(admin, http_settings(provider))
    await add(services, admin, sam, SMS)
    await send(services, admin, sam, SMS)
    [sms] = await texted(services, provider)

    await services.users.change_phone(admin, sam.id, "+41 79 765 43 21", verified=True)
    assert not await check(services, admin, sam, SMS, sms.code)


async def test_a_removed_factor_takes_its_code_along(
    services: Services, admin: Context, alice: User
):
    code = await ready_email(services, admin, alice)
    async with services.store.transaction() as tx:
        [factor] = await services.factors.ready_factors(tx, alice.id)
        await services.factors.remove_factor(tx, admin, alice, factor.id)

    with pytest.raises(NotFound):
        await check(services, admin, alice, EMAIL, code)


# --- wrong codes and the lockout policy ------------------------------------------------------


async def test_wrong_codes_lock_the_user_at_max_otp_attempts(
    services: Services, admin: Context, acme: Organization, alice: User
):
    await set_policy(services, "lockout", acme.id, LockoutPolicy(max_otp_attempts=3))
    code = await ready_email(services, admin, alice)

    for typed in (other_than(code), "not-a-code"):
        assert not await check(services, admin, alice, EMAIL, typed)
    assert user_row(services, alice.id)["state"] == "active"
    assert not await check(services, admin, alice, EMAIL, other_than(code))

    row = user_row(services, alice.id)
    assert (row["state"], row["failed_code_attempts"]) == ("locked", 3)
    assert len(await events_of(services, "user.locked", alice.id)) == 1
    # Locked: the right code does not pass, and nothing more is counted.
    assert not await check(services, admin, alice, EMAIL, code)
    assert user_row(services, alice.id)["failed_code_attempts"] == 3
    with pytest.raises(PreconditionFailed) as refused:
        await send(services, admin, alice, EMAIL)
    assert refused.value.code == "user.not_active"


async def test_concurrent_wrong_codes_count_no_further_than_the_lock(
    services: Services, admin: Context, acme: Organization, alice: User
):
    await set_policy(services, "lockout", acme.id, LockoutPolicy(max_otp_attempts=5))
    code = await ready_email(services, admin, alice)
    wrong = [f"{(int(code) + n) % 10**8:08d}" for n in range(1, 21)]

    results = await asyncio.gather(*(check(services, admin, alice, EMAIL, w) for w in wrong))

    assert results == [False] * 20
    row = user_row(services, alice.id)
    assert (row["state"], row["failed_code_attempts"]) == ("locked", 5)
    assert len(await events_of(services, "user.human.otp.email.check.failed", alice.id)) == 5
    assert len(await events_of(services, "user.locked", alice.id)) == 1
    assert not await check(services, admin, alice, EMAIL, code)


# --- where the code went ---------------------------------------------------------------------


async def test_the_target_is_shown_masked(services: Services, admin: Context, sam: User):
    assert masked_target(sam, EMAIL) == "s•••@example.com"
    assert masked_target(sam, SMS) == "+41 •• ••• •• 67"
    assert services.otp_factors.masked_target(sam, SMS) == "+41 •• ••• •• 67"
    assert "sam" not in masked_target(sam, EMAIL) and "123" not in masked_target(sam, SMS)
