"""The notification outbox: mail written with the change that causes it, delivered to a real
SMTP server (aiosmtpd) or to `.eml` files, retried with backoff, failed and retried by hand."""

from __future__ import annotations

import asyncio
import random
import re
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests import mail_fixtures
from tests.counting import CountingStore
from tests.dbfile import rows
from tests.mail_fixtures import MailServer, use_smtp
from tests.test_core_audit import _one_event
from tests.test_core_housekeeping import Lifespan, Ticks
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from zitui.config import load_settings
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.notifications.delivery import LEASE, Delivery, Sender
from zitui.core.notifications.outbox import OutgoingMail, enqueue
from zitui.core.notifications.transports import FileTransport, build_email
from zitui.core.services import Services
from zitui.errors import InvalidArgument, PreconditionFailed
from zitui.server.app import create_app

CODE = "K7Q2-9XZD"
MAIL = OutgoingMail(
    kind="email.verify",
    recipient="alice@example.org",
    subject="Verify your email",
    text=f"Your code is {CODE}.\n",
    html=f"<p>Your code is <b>{CODE}</b>.</p>\n",
)
mail_server = mail_fixtures.mail_server


async def queue(services: Services, mail: OutgoingMail = MAIL) -> str:
    async with services.store.transaction() as tx:
        return await enqueue(tx, services.master_key, mail, at=services.clock.now())


def outbox_row(services: Services, message_id: str) -> dict[str, Any]:
    columns = "state, attempts, next_attempt_at, last_error, sent_at"
    row = rows(services.settings.data_dir, f"SELECT {columns} FROM outbox WHERE id = ?", message_id)
    return dict(zip(columns.split(", "), row[0], strict=True))


def sender(
    services: Services, pause: Any = asyncio.sleep, store: Any = None, **delivery: Any
) -> Sender:
    return Sender(
        store or services.store,
        services.master_key,
        services.clock,
        credentials=services.smtp.smtp_credentials,
        mail_dir=services.settings.data_dir / "mail",
        delivery=Delivery(**delivery),
        pause=pause,
    )


async def test_a_mail_written_in_a_rolled_back_transaction_is_never_sent(
    services: Services, admin: Context, mail_server: MailServer
) -> None:
    mail_server.start()
    await use_smtp(services, admin, mail_server)
    with pytest.raises(RuntimeError):
        async with services.store.transaction() as tx:
            await enqueue(tx, services.master_key, MAIL, at=services.clock.now())
            raise RuntimeError("the change that causes the mail fails")
    assert await services.sender.deliver_due() == 0
    assert mail_server.inbox.received == []
    assert rows(services.settings.data_dir, "SELECT count(*) FROM outbox") == [(0,)]


async def test_a_committed_mail_is_delivered_with_both_parts(
    services: Services, admin: Context, mail_server: MailServer, clock: FixedClock
) -> None:
    mail_server.start()
    await use_smtp(services, admin, mail_server)
    message_id = await queue(services)
    raw = rows(services.settings.data_dir, "SELECT * FROM outbox")
    assert CODE not in str(raw) and "Your code" not in str(raw)

    assert await services.sender.deliver_due() == 1
    [(mail_from, rcpt_tos, received)] = mail_server.inbox.received
    assert (mail_from, rcpt_tos) == ("zitui@example.com", ["alice@example.org"])
    assert received["From"] == "zitui@example.com"
    assert received["To"] == "alice@example.org"
    assert received["Subject"] == "Verify your email"
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None and CODE in text.get_content()
    assert html is not None and f"<b>{CODE}</b>" in html.get_content()
    row = outbox_row(services, message_id)
    assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 1, "")
    assert row["sent_at"] is not None
    assert await services.sender.deliver_due() == 0  # sent once only
    assert len(mail_server.inbox.received) == 1


async def test_a_mail_waits_while_the_server_is_down_and_goes_when_it_is_back(
    services: Services,
    admin: Context,
    mail_server: MailServer,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await use_smtp(services, admin, mail_server)  # nothing listens on its port yet
    ticks = Ticks()
    services.sender = sender(services, pause=ticks.pause, interval_s=5)
    message_id = await queue(services)
    lifespan = Lifespan(create_app(services.settings, services))
    await lifespan.start()
    try:
        await ticks.asked.get()  # the sender waits for its first round
        await ticks.tick()
        first = outbox_row(services, message_id)
        assert (first["state"], first["attempts"]) == ("pending", 1)
        assert "cannot reach the mail server" in first["last_error"]
        assert CODE not in first["last_error"]
        due = clock.now() + timedelta(seconds=30)
        assert rows(services.settings.data_dir, "SELECT next_attempt_at FROM outbox") == [
            (due.strftime("%Y-%m-%d %H:%M:%S.%f"),)
        ]

        mail_server.start()
        await ticks.tick()  # back, but the message waits out its backoff
        assert outbox_row(services, message_id)["attempts"] == 1
        assert mail_server.inbox.received == []

        clock.advance(timedelta(seconds=30))
        await ticks.tick()
        assert outbox_row(services, message_id)["state"] == "sent"
        assert outbox_row(services, message_id)["attempts"] == 2
        assert len(mail_server.inbox.received) == 1
    finally:
        await lifespan.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "zitui-notifications"]
    assert "example.org" in caplog.text
    assert CODE not in caplog.text and "alice@" not in caplog.text


async def test_a_mail_fails_after_the_last_attempt_and_a_retry_sends_it(
    services: Services, admin: Context, mail_server: MailServer, clock: FixedClock
) -> None:
    await use_smtp(services, admin, mail_server)
    delivering = sender(services, max_attempts=3, retry_s=30, retry_max_s=45)
    message_id = await queue(services)
    waits = []
    for _ in range(3):
        assert await delivering.deliver_due() == 1
        row = outbox_row(services, message_id)
        waits.append(row["state"])
        clock.advance(timedelta(seconds=45))
    assert waits == ["pending", "pending", "failed"]
    assert await delivering.deliver_due() == 0  # a failed message is not retried by itself

    [listed] = await services.notifications.list_messages(admin)
    assert (listed.id, listed.state, listed.attempts) == (message_id, "failed", 3)
    assert "cannot reach the mail server" in listed.last_error
    assert not hasattr(listed, "text_enc")

    outsider = await sign_in_org_owner(services, admin, "Outsiders")
    await assert_denied(services, lambda: services.notifications.retry(outsider, message_id))
    event = await _one_event(services, lambda: services.notifications.retry(admin, message_id))
    assert event.event_type == "instance.notification.retried"
    assert event.aggregate_id == message_id and CODE not in str(event.payload)
    assert outbox_row(services, message_id)["state"] == "pending"
    assert outbox_row(services, message_id)["attempts"] == 0

    mail_server.start()
    assert await delivering.deliver_due() == 1
    assert outbox_row(services, message_id)["state"] == "sent"
    with pytest.raises(PreconditionFailed) as refused:
        await services.notifications.retry(admin, message_id)
    assert refused.value.code == "notification.sent"


def test_backoff_doubles_up_to_the_maximum() -> None:
    delivery = Delivery(retry_s=30, retry_max_s=3600)
    waits = [delivery.backoff(n).total_seconds() for n in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


async def test_without_smtp_mail_lands_as_private_eml_files(
    services: Services, clock: FixedClock
) -> None:
    first = await queue(services)
    assert await services.sender.deliver_batch() == 1
    clock.advance(timedelta(seconds=1))
    second = await queue(services, replace(MAIL, subject="Second"))
    assert await services.sender.deliver_batch() == 1

    mail_dir = services.settings.data_dir / "mail"
    assert stat.S_IMODE(mail_dir.stat().st_mode) == 0o700
    files = sorted(mail_dir.iterdir())
    assert [f.name.split("-", 1)[1] for f in files] == [f"{first}.eml", f"{second}.eml"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"] == "alice@example.org" and parsed["Subject"] == "Verify your email"
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None and CODE in text.get_content()
    assert outbox_row(services, second)["state"] == "sent"


async def test_a_test_mail_is_queued_audited_and_delivered(
    services: Services, admin: Context
) -> None:
    event = await _one_event(
        services, lambda: services.notifications.send_test_mail(admin, "ops@example.net")
    )
    assert event.event_type == "instance.notification.test_queued"
    assert event.payload["recipient"] == "ops@example.net"
    await services.sender.deliver_due()
    [path] = (services.settings.data_dir / "mail").iterdir()
    parsed = message_from_bytes(Path(path).read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "zitui test mail"

    with pytest.raises(InvalidArgument) as invalid:
        await services.notifications.send_test_mail(admin, "not an address")
    assert invalid.value.field == "to"
    outsider = await sign_in_org_owner(services, admin, "Outsiders")
    await assert_denied(
        services, lambda: services.notifications.send_test_mail(outsider, "a@b.example")
    )
    await assert_denied(services, lambda: services.notifications.list_messages(outsider))


def test_delivery_is_configured_by_settings() -> None:
    environ = {"ZITUI_OUTBOX_RETRY_S": "10", "ZITUI_OUTBOX_MAX_ATTEMPTS": "4"}
    delivery = Delivery.from_settings(load_settings(environ=environ))
    assert (delivery.retry_s, delivery.max_attempts, delivery.retry_max_s) == (10, 4, 3600)
    with pytest.raises(InvalidArgument):
        load_settings(environ={"ZITUI_OUTBOX_BATCH_SIZE": "0"})


async def test_a_message_of_a_sender_that_died_is_sent_after_its_lease_once(
    services: Services, clock: FixedClock
) -> None:
    message_id = await queue(services)
    now = clock.now()
    async with services.store.transaction() as tx:  # claimed by a process that then died
        [claimed] = await tx.outbox.claim_due(now, lease_until=now + LEASE, limit=5)
    mail_dir = services.settings.data_dir / "mail"
    transport = FileTransport(mail_dir)  # ... after writing its file
    mail = build_email(
        sender="a@b.example", recipient="c@d.example", subject="s", text="t", html="h", at=now
    )
    await transport.send(mail, message_id=message_id, queued_at=claimed.entry.created_at)

    assert await services.sender.deliver_due() == 0  # its lease still holds
    clock.advance(LEASE)
    assert await services.sender.deliver_due() == 1
    row = outbox_row(services, message_id)
    assert (row["state"], row["attempts"]) == ("sent", 2)
    assert len(list(mail_dir.iterdir())) == 1


async def test_an_idle_sender_takes_no_write_lock(services: Services) -> None:
    """Every server process looks every few seconds; with nothing due it only reads."""
    counting = CountingStore(services.store)
    idle = sender(services, store=counting)
    assert await idle.deliver_due() == 0
    assert counting.transactions == 0


def test_a_mail_has_a_message_id_at_the_senders_domain_and_leaves_random_alone() -> None:
    """The server's threads share the `random` module with whatever else runs in the process
    (the property tests' generators watch it): building a mail must not move it, nor look the
    host's name up in the DNS."""
    before = random.getstate()
    first, second = (
        build_email(
            sender="zitui@mail.example",
            recipient="c@d.example",
            subject="s",
            text="t",
            html="h",
            at=datetime(2026, 12, 6, tzinfo=UTC),
        )
        for _ in range(2)
    )
    assert random.getstate() == before
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.example>", str(first["Message-ID"]))
    assert first["Message-ID"] != second["Message-ID"]
