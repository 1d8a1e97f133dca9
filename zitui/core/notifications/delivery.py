"""The sender: due outbox messages delivered in small batches, with retries and backoff.

Each server process runs `Sender.run` in the background (the Starlette lifespan). A message is
claimed in one short transaction (state `sending`, one more attempt, a lease), delivered with no
transaction open, then marked `sent`, `pending` again after a backoff (`retry_s` doubling up to
`retry_max_s`), or `failed` after `max_attempts`. A process that dies mid-delivery leaves the
message `sending` until its lease runs out; then it is due again. Mail goes over SMTP or into
`.eml` files; text messages go to the SMS provider of the instance settings, and without one
they wait (and at last fail) with "no SMS provider is configured": SMS has no file fallback.
Logs name the recipient's mail domain or a number's last two digits and the state, never a
body, code or link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from zitui import metrics
from zitui.config import Settings
from zitui.core.background import Pause, every, in_background
from zitui.core.clock import Clock
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.notifications.outbox import EMAIL, SMS, body_purpose, recipient_hint
from zitui.core.notifications.sms_transports import SmsTransport, sms_transport
from zitui.core.notifications.transports import (
    DeliveryFailed,
    FileTransport,
    SmtpTransport,
    Transport,
    build_email,
)
from zitui.core.sms import SmsCredentials
from zitui.core.smtp import SmtpCredentials
from zitui.errors import WrongMasterKey
from zitui.store import Store
from zitui.store.repos.outbox import ClaimedMessage, OutboxEntry

log = logging.getLogger("zitui.notifications")

Credentials = Callable[[], Awaitable[SmtpCredentials | None]]
SmsProvider = Callable[[], Awaitable[SmsCredentials | None]]
NO_SMS_PROVIDER = "no SMS provider is configured"
# Longer than one SMTP attempt may take, so a live sender never loses its claim.
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Delivery:
    """How often the sender looks, how much it takes, and how it retries."""

    interval_s: float = 5
    batch_size: int = 10
    retry_s: int = 30
    retry_max_s: int = 3600
    max_attempts: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> Delivery:
        return cls(
            interval_s=settings.outbox_interval_s,
            batch_size=settings.outbox_batch_size,
            retry_s=settings.outbox_retry_s,
            retry_max_s=settings.outbox_retry_max_s,
            max_attempts=settings.outbox_max_attempts,
        )

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt."""
        return timedelta(seconds=min(self.retry_s * 2 ** max(0, attempts - 1), self.retry_max_s))


class Sender:
    """Delivery of due messages: one batch (`deliver_batch`), all due (`deliver_due`), or
    forever in the background (`running`)."""

    def __init__(
        self,
        store: Store,
        master_key: MasterKey,
        clock: Clock,
        *,
        credentials: Credentials,
        mail_dir: Path,
        delivery: Delivery,
        sms_provider: SmsProvider | None = None,
        pause: Pause = asyncio.sleep,
    ) -> None:
        self._store = store
        self._master_key = master_key
        self._clock = clock
        self._credentials = credentials
        self._sms_provider = sms_provider
        self.mail_dir = mail_dir
        self.delivery = delivery
        self._pause = pause

    async def transport(self) -> Transport:
        """The instance's SMTP server when one is set, else `.eml` files in `mail_dir`."""
        credentials = await self._credentials()
        if credentials is None:
            return FileTransport(self.mail_dir)
        return SmtpTransport(credentials)

    async def sms_transport(self) -> SmsTransport | None:
        """The instance's SMS provider; None when none is set."""
        credentials = await self._sms_provider() if self._sms_provider else None
        return sms_transport(credentials) if credentials is not None else None

    async def deliver_batch(self) -> int:
        """Claim and deliver up to `batch_size` due messages; how many were claimed."""
        now = self._clock.now()
        # Most rounds find nothing: a read, so an idle sender never takes the write lock.
        async with self._store.reader() as tx:
            if not await tx.outbox.any_due(now):
                return 0
        async with self._store.transaction() as tx:
            claimed = await tx.outbox.claim_due(
                now, lease_until=now + LEASE, limit=max(1, self.delivery.batch_size)
            )
        if claimed:
            await self._deliver_claimed(claimed)
        return len(claimed)

    async def _deliver_claimed(self, claimed: list[ClaimedMessage]) -> None:
        """Each message through its channel's transport, read once per batch."""
        channels = {message.entry.channel for message in claimed}
        mail = await self.transport() if EMAIL in channels else None
        sms = await self.sms_transport() if SMS in channels else None
        for message in claimed:
            channel = message.entry.channel
            if channel == EMAIL and mail is not None:
                await self._deliver(mail, message)
            elif channel == SMS:
                await self._deliver_sms(sms, message)
            else:
                await self._failed(message, f"unknown channel {channel[:10]!r}")

    async def deliver_due(self) -> int:
        """Batch after batch until none is full; how many messages were attempted."""
        total = 0
        while True:
            count = await self.deliver_batch()
            total += count
            if count < max(1, self.delivery.batch_size):
                return total
            await asyncio.sleep(0)  # requests waiting for the write lock go first

    async def _deliver(self, transport: Transport, claimed: ClaimedMessage) -> None:
        entry = claimed.entry
        try:
            text = self._open(claimed.text_enc, entry.id, "text")
            html = self._open(claimed.html_enc, entry.id, "html")
        except WrongMasterKey:
            await self._failed(claimed, "the stored message is not readable with this master key")
            return
        mail = build_email(
            sender=transport.sender,
            recipient=entry.recipient,
            subject=entry.subject,
            text=text,
            html=html,
            at=self._clock.now(),
        )
        try:
            await transport.send(mail, message_id=entry.id, queued_at=entry.created_at)
        except DeliveryFailed as exc:
            await self._retry_or_fail(claimed, exc.reason)
            return
        await self._sent(entry)

    async def _deliver_sms(self, transport: SmsTransport | None, claimed: ClaimedMessage) -> None:
        entry = claimed.entry
        if transport is None:
            await self._retry_or_fail(claimed, NO_SMS_PROVIDER)
            return
        try:
            text = self._open(claimed.text_enc, entry.id, "text")
        except WrongMasterKey:
            await self._failed(claimed, "the stored message is not readable with this master key")
            return
        try:
            await transport.send(recipient=entry.recipient, text=text)
        except DeliveryFailed as exc:
            await self._retry_or_fail(claimed, exc.reason)
            return
        await self._sent(entry)

    async def _sent(self, entry: OutboxEntry) -> None:
        async with self._store.transaction() as tx:
            await tx.outbox.mark_sent(entry.id, at=self._clock.now())
        log.info("%s to %s: sent", entry.kind, recipient_hint(entry.channel, entry.recipient))

    def _open(self, token: str, message_id: str, part: str) -> str:
        return self._master_key.decrypt(token, purpose=body_purpose(message_id, part)).decode()

    async def _retry_or_fail(self, claimed: ClaimedMessage, reason: str) -> None:
        entry = claimed.entry
        if entry.attempts >= self.delivery.max_attempts:
            await self._failed(claimed, reason)
            return
        until = self._clock.now() + self.delivery.backoff(entry.attempts)
        async with self._store.transaction() as tx:
            await tx.outbox.mark_waiting(entry.id, until=until, error=reason)
        metrics.count_delivery_failure(entry.channel, "retry")
        log.warning(
            "%s to %s: attempt %d failed, pending: %s",
            entry.kind,
            recipient_hint(entry.channel, entry.recipient),
            entry.attempts,
            reason,
        )

    async def _failed(self, claimed: ClaimedMessage, reason: str) -> None:
        entry = claimed.entry
        async with self._store.transaction() as tx:
            await tx.outbox.mark_failed(entry.id, at=self._clock.now(), error=reason)
        metrics.count_delivery_failure(entry.channel, "failed")
        log.error(
            "%s to %s: failed: %s",
            entry.kind,
            recipient_hint(entry.channel, entry.recipient),
            reason,
        )

    async def run(self) -> None:
        """Deliver every `interval_s` seconds until cancelled; a failed round is logged and
        the next one tries again."""
        await every(
            self.delivery.interval_s,
            self.deliver_due,
            pause=self._pause,
            what="delivering notifications",
            log=log,
        )

    def running(self) -> AbstractAsyncContextManager[asyncio.Task[None]]:
        """`run` as a background task for the duration of the block."""
        return in_background(self.run, name="zitui-notifications")
