"""SMS: the instance's provider (generic HTTP or Twilio-compatible) with its token encrypted,
and text messages from the outbox delivered to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.notifications.delivery import NO_SMS_PROVIDER, Delivery, Sender
from zitui.core.notifications.outbox import OutgoingMail, OutgoingSms, enqueue, enqueue_sms
from zitui.core.notifications.sms_transports import HttpSmsTransport
from zitui.core.notifications.transports import DeliveryFailed
from zitui.core.services import Services
from zitui.core.sms import SmsCredentials, SmsSettings
from zitui.errors import InvalidArgument, NotFound
from zitui.records import SmsConfig

CODE = "482913"
TEXT = f"Your zitui code is {CODE}."
NUMBER = "+41 79 123 45 67"
SMS = OutgoingSms(kind="phone.verify", recipient=NUMBER, text=TEXT, user_id=None)
BEARER = "Bearer-Secret-7f3a"
AUTH_TOKEN = "twilio-auth-9c1e"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class SmsProvider:
    """A real HTTP server on 127.0.0.1 that records each request and answers the next
    status of `answers` (200 once they run out), echoing the request body as a careless
    provider would."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                provider.received.append(
                    Received("POST", self.path, dict(self.headers.items()), body)
                )
                status = provider.answers.pop(0) if provider.answers else 200
                self.send_response(status, f"Echo {body.decode(errors='replace')[:80]}")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def provider() -> Iterator[SmsProvider]:
    server = SmsProvider()
    try:
        yield server
    finally:
        server.stop()


def http_settings(provider: SmsProvider, token: str | None = BEARER) -> SmsSettings:
    return SmsSettings(kind="http", url=f"{provider.url}/send?via=test", token=token)


def twilio_settings(provider: SmsProvider, **change: Any) -> SmsSettings:
    settings = SmsSettings(
        kind="twilio",
        account_sid="AC0123abcd",
        token=AUTH_TOKEN,
        sender="+1 500 555 0006",
        base_url=provider.url + "/",
    )
    return replace(settings, **change)


async def queue(services: Services, sms: OutgoingSms = SMS) -> str:
    async with services.store.transaction() as tx:
        return await enqueue_sms(tx, services.master_key, sms, at=services.clock.now())


def outbox_row(services: Services, message_id: str) -> dict[str, Any]:
    columns = "channel, recipient, state, attempts, next_attempt_at, last_error, sent_at"
    row = rows(services.settings.data_dir, f"SELECT {columns} FROM outbox WHERE id = ?", message_id)
    return dict(zip(columns.split(", "), row[0], strict=True))


def sender(services: Services, **delivery: Any) -> Sender:
    return Sender(
        services.store,
        services.master_key,
        services.clock,
        credentials=services.smtp.smtp_credentials,
        sms_provider=services.sms.sms_credentials,
        mail_dir=services.settings.data_dir / "mail",
        delivery=Delivery(**delivery),
    )


async def test_the_generic_provider_is_stored_with_its_token_encrypted(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    assert await services.sms.get_sms(admin) is None
    assert await services.sms.sms_credentials() is None

    event = await _one_event(services, lambda: services.sms.set_sms(admin, http_settings(provider)))
    expected = SmsConfig(
        kind="http",
        url=f"{provider.url}/send?via=test",
        account_sid="",
        sender="",
        messaging_service_sid="",
        base_url="",
        has_token=True,
    )
    assert await services.sms.get_sms(admin) == expected
    assert event.event_type == "instance.sms.config.changed"
    assert event.org_id is None
    assert event.payload["kind"] == "http" and event.payload["token_changed"] is True
    assert BEARER not in json.dumps(event.payload)

    data = services.settings.data_dir
    [(token_enc,)] = rows(data, "SELECT token_enc FROM sms_providers")
    assert isinstance(token_enc, str) and token_enc.startswith("v1.")
    assert BEARER not in str(rows(data, "SELECT * FROM sms_providers"))
    credentials = await services.sms.sms_credentials()
    assert credentials == SmsCredentials(config=expected, token=BEARER)
    assert BEARER not in repr(credentials) and BEARER not in repr(http_settings(provider))


async def test_a_token_is_kept_with_its_kind_and_removed_by_an_empty_one(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    await services.sms.set_sms(admin, twilio_settings(provider))
    kept = await services.sms.set_sms(
        admin, twilio_settings(provider, token=None, sender="+15005550007")
    )
    assert (kept.sender, kept.has_token) == ("+15005550007", True)
    assert (await services.sms.sms_credentials()).token == AUTH_TOKEN  # type: ignore[union-attr]
    assert rows(services.settings.data_dir, "SELECT count(*) FROM sms_providers") == [(1,)]

    # A Twilio auth token is no bearer token: a change of kind does not carry it over.
    moved = await services.sms.set_sms(admin, http_settings(provider, token=None))
    assert not moved.has_token
    assert (await services.sms.sms_credentials()).token == ""  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument) as refused:
        await services.sms.set_sms(admin, twilio_settings(provider, token=None))
    assert (refused.value.code, refused.value.field) == ("token.required", "token")

    await services.sms.set_sms(admin, http_settings(provider))
    cleared = await services.sms.set_sms(admin, http_settings(provider, token=""))
    assert not cleared.has_token


async def test_twilio_defaults_to_twilio_and_takes_a_messaging_service(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    config = await services.sms.set_sms(admin, twilio_settings(provider, base_url=""))
    assert (config.base_url, config.sender) == ("https://api.twilio.com", "+15005550006")
    service = twilio_settings(provider, sender="", messaging_service_sid="MG0042")
    config = await services.sms.set_sms(admin, service)
    assert (config.sender, config.messaging_service_sid, config.base_url) == (
        "",
        "MG0042",
        provider.url,
    )


@pytest.mark.parametrize(
    ("wanted", "code", "field"),
    [
        (SmsSettings(kind="carrier-pigeon"), "kind.invalid", "kind"),
        (SmsSettings(kind="http"), "url.required", "url"),
        (SmsSettings(kind="http", url="ftp://example.com/x"), "url.invalid", "url"),
        (SmsSettings(kind="http", url="https://"), "url.invalid", "url"),
        (SmsSettings(kind="http", url="https://h.example:99999/"), "url.invalid", "url"),
        (SmsSettings(kind="http", url="https://u:p@h.example/"), "url.credentials", "url"),
        (SmsSettings(kind="http", url="https://h.example/ x"), "url.invalid", "url"),
        (SmsSettings(kind="http", url="https://h.example/", token="a b"), "token.invalid", "token"),
        (
            SmsSettings(kind="http", url="https://h.example/", account_sid="AC1"),
            "account_sid.unexpected",
            "account_sid",
        ),
        (
            SmsSettings(kind="twilio", url="https://h.example/", account_sid="AC1", token="t"),
            "url.unexpected",
            "url",
        ),
        (
            SmsSettings(kind="twilio", token="t", sender="+15005550006"),
            "account_sid.required",
            "account_sid",
        ),
        (
            SmsSettings(kind="twilio", account_sid="AC/1", token="t", sender="+15005550006"),
            "account_sid.invalid",
            "account_sid",
        ),
        (SmsSettings(kind="twilio", account_sid="AC1", token="t"), "sender.required", "sender"),
        (
            SmsSettings(kind="twilio", account_sid="AC1", token="t", sender="call me"),
            "sender.invalid",
            "sender",
        ),
        (
            SmsSettings(
                kind="twilio",
                account_sid="AC1",
                token="t",
                sender="+15005550006",
                messaging_service_sid="MG1",
            ),
            "messaging_service_sid.conflict",
            "messaging_service_sid",
        ),
        (
            SmsSettings(
                kind="twilio",
                account_sid="AC1",
                token="t",
                sender="+15005550006",
                base_url="api.twilio.com",
            ),
            "base_url.invalid",
            "base_url",
        ),
    ],
)
async def test_invalid_settings_name_the_field(
    services: Services, admin: Context, wanted: SmsSettings, code: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await services.sms.set_sms(admin, wanted)
    assert (caught.value.code, caught.value.field) == (code, field)
    await _no_event(services, lambda: services.sms.set_sms(admin, wanted), InvalidArgument)
    assert rows(services.settings.data_dir, "SELECT count(*) FROM sms_providers") == [(0,)]


async def test_removing_the_provider_is_audited_and_leaves_nothing(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    await services.sms.set_sms(admin, http_settings(provider))
    event = await _one_event(services, lambda: services.sms.remove_sms(admin))
    assert event.event_type == "instance.sms.config.removed"
    assert event.payload == {"kind": "http"}
    assert await services.sms.get_sms(admin) is None
    assert rows(services.settings.data_dir, "SELECT count(*) FROM sms_providers") == [(0,)]
    with pytest.raises(NotFound) as caught:
        await services.sms.remove_sms(admin)
    assert caught.value.code == "sms.not_found"


async def test_only_instance_managers_see_or_change_the_provider(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    owner = await sign_in_org_owner(services, admin, "Acme")
    await services.sms.set_sms(admin, http_settings(provider))
    await assert_denied(services, lambda: services.sms.set_sms(owner, http_settings(provider)))
    await assert_denied(services, lambda: services.sms.get_sms(owner))
    await assert_denied(services, lambda: services.sms.remove_sms(owner))
    assert (await services.sms.get_sms(admin)) is not None
    assert BEARER not in json.dumps([e.payload for e in await _events(services)])


async def test_the_generic_provider_receives_json_with_the_bearer_token(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    await services.sms.set_sms(admin, http_settings(provider))
    message_id = await queue(services)
    raw = str(rows(services.settings.data_dir, "SELECT * FROM outbox"))
    assert CODE not in raw and "Your zitui" not in raw

    assert await services.sender.deliver_due() == 1
    [request] = provider.received
    assert (request.method, request.path) == ("POST", "/send?via=test")
    assert request.headers["Authorization"] == f"Bearer {BEARER}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"to": "+41791234567", "text": TEXT}
    row = outbox_row(services, message_id)
    assert (row["channel"], row["state"], row["attempts"], row["last_error"]) == (
        "sms",
        "sent",
        1,
        "",
    )
    assert await services.sender.deliver_due() == 0
    assert len(provider.received) == 1


async def test_without_a_token_no_authorization_header_is_sent(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    await services.sms.set_sms(admin, http_settings(provider, token=None))
    await queue(services)
    assert await services.sender.deliver_due() == 1
    [request] = provider.received
    assert "Authorization" not in request.headers
    assert json.loads(request.body)["text"] == TEXT


async def test_a_twilio_compatible_provider_receives_its_form_with_basic_auth(
    services: Services, admin: Context, provider: SmsProvider
) -> None:
    await services.sms.set_sms(admin, twilio_settings(provider))
    message_id = await queue(services)
    assert await services.sender.deliver_due() == 1
    [request] = provider.received
    assert request.path == "/2010-04-01/Accounts/AC0123abcd/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    basic = base64.b64encode(f"AC0123abcd:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert parse_qs(request.body.decode()) == {
        "To": ["+41791234567"],
        "From": ["+15005550006"],
        "Body": [TEXT],
    }
    assert outbox_row(services, message_id)["state"] == "sent"

    await services.sms.set_sms(
        admin, twilio_settings(provider, sender="", messaging_service_sid="MG0042", token=None)
    )
    await queue(services)
    assert await services.sender.deliver_due() == 1
    form = parse_qs(provider.received[1].body.decode())
    assert form["MessagingServiceSid"] == ["MG0042"] and "From" not in form


async def test_a_message_waits_out_a_provider_error_and_is_delivered_on_retry(
    services: Services,
    admin: Context,
    provider: SmsProvider,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="zitui.notifications")
    await services.sms.set_sms(admin, http_settings(provider))
    provider.answers = [500]
    message_id = await queue(services)

    assert await services.sender.deliver_due() == 1
    row = outbox_row(services, message_id)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "the SMS provider answered 500 Internal Server Error"
    assert row["next_attempt_at"] == (clock.now() + timedelta(seconds=30)).strftime(
        "%Y-%m-%d %H:%M:%S.%f"
    )

    assert await services.sender.deliver_due() == 0  # its backoff has not passed
    assert len(provider.received) == 1
    clock.advance(timedelta(seconds=30))
    assert await services.sender.deliver_due() == 1
    row = outbox_row(services, message_id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 2, "")
    assert [json.loads(r.body) for r in provider.received] == [
        {"to": "+41791234567", "text": TEXT}
    ] * 2
    assert "a number ending 67" in caplog.text
    assert CODE not in caplog.text and "791234567" not in caplog.text


async def test_a_refused_message_is_retried_with_backoff_then_fails_without_its_text(
    services: Services, admin: Context, provider: SmsProvider, clock: FixedClock
) -> None:
    await services.sms.set_sms(admin, twilio_settings(provider))
    provider.answers = [400, 429]
    delivering = sender(services, max_attempts=2, retry_s=30)
    message_id = await queue(services)

    assert await delivering.deliver_due() == 1
    row = outbox_row(services, message_id)
    assert (row["state"], row["last_error"]) == (
        "pending",
        "the SMS provider refused the message (400 Bad Request)",
    )
    clock.advance(timedelta(seconds=30))
    assert await delivering.deliver_due() == 1
    row = outbox_row(services, message_id)
    assert (row["state"], row["attempts"]) == ("failed", 2)
    assert row["last_error"] == "the SMS provider asks to slow down (429 Too Many Requests)"
    assert CODE not in str(rows(services.settings.data_dir, "SELECT * FROM outbox"))

    [listed] = await services.notifications.list_messages(admin)
    assert (listed.id, listed.channel, listed.recipient, listed.state) == (
        message_id,
        "sms",
        "+41791234567",
        "failed",
    )
    await services.notifications.retry(admin, message_id)
    assert await delivering.deliver_due() == 1
    assert outbox_row(services, message_id)["state"] == "sent"


async def test_without_a_provider_a_message_stays_visible_with_the_reason(
    services: Services, admin: Context, clock: FixedClock
) -> None:
    mail = OutgoingMail(kind="email.test", recipient="a@b.example", subject="s", text="t", html="h")
    async with services.store.transaction() as tx:
        mail_id = await enqueue(tx, services.master_key, mail, at=clock.now())
    sms_id = await queue(services)
    delivering = sender(services, max_attempts=2, retry_s=30)

    assert await delivering.deliver_due() == 2
    assert outbox_row(services, mail_id)["state"] == "sent"  # mail has its .eml fallback
    row = outbox_row(services, sms_id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 1, NO_SMS_PROVIDER)
    clock.advance(timedelta(seconds=30))
    assert await delivering.deliver_due() == 1
    row = outbox_row(services, sms_id)
    assert (row["state"], row["last_error"]) == ("failed", "no SMS provider is configured")
    listed = {m.id: m for m in await services.notifications.list_messages(admin)}
    assert (listed[sms_id].channel, listed[sms_id].last_error) == ("sms", NO_SMS_PROVIDER)
    assert (listed[mail_id].channel, listed[mail_id].state) == ("email", "sent")


async def test_a_message_to_an_invalid_number_is_refused_and_not_written(
    services: Services,
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await queue(services, replace(SMS, recipient="call me maybe"))
    assert (caught.value.code, caught.value.field) == ("phone.invalid", "phone")
    assert rows(services.settings.data_dir, "SELECT count(*) FROM outbox") == [(0,)]
    assert TEXT not in repr(SMS)


def _silent_listener() -> socket.socket:
    """A socket that accepts connections (in the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    return listener


async def test_an_unreachable_or_silent_provider_is_a_failed_attempt() -> None:
    config = SmsConfig("http", "", "", "", "", "", has_token=False)
    with _silent_listener() as silent:
        port = silent.getsockname()[1]
        url = f"http://127.0.0.1:{port}/"
        transport = HttpSmsTransport(
            SmsCredentials(replace(config, url=url), token=""), timeout_s=0.2
        )
        with pytest.raises(DeliveryFailed) as slow:
            await transport.send(recipient="+41791234567", text=TEXT)
    assert slow.value.reason == "the SMS provider did not answer in time"

    closed = HttpSmsTransport(SmsCredentials(replace(config, url=url), token=""))
    with pytest.raises(DeliveryFailed) as unreachable:
        await closed.send(recipient="+41791234567", text=TEXT)
    assert unreachable.value.reason == "cannot reach the SMS provider (ConnectError)"
