"""Writing messages to the outbox, and what operators do with it: list, retry, test mail.

A message is written by `enqueue` inside the transaction of the change that causes it, so it
exists exactly when the change does; the sender (delivery.py) delivers it later. Its bodies may
hold codes and links: they are encrypted under the master key, bound to the message's id, so
the database alone reveals no code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.ids import new_id
from zitui.core.notifications.mails import compose
from zitui.core.notifications.messages import OutgoingMail
from zitui.core.permissions import Resource
from zitui.errors import NotFound, PreconditionFailed
from zitui.store import Repositories, Store
from zitui.store.repos.outbox import FAILED, PENDING, SENT, OutboxEntry

EMAIL = "email"
SMS = "sms"
RECENT_LIMIT = 200


@dataclass(frozen=True)
class OutgoingSms:
    """One text message to write to the outbox; `recipient` is a phone number."""

    kind: str
    recipient: str
    text: str
    language: str = "en"
    user_id: str | None = None
    org_id: str | None = None

    def __repr__(self) -> str:
        return f"OutgoingSms(kind={self.kind!r}, recipient={self.recipient!r}, text=<hidden>)"


def body_purpose(message_id: str, part: str) -> str:
    """The encryption purpose of one body: a ciphertext opens only in its own row and part."""
    return f"outbox.{part}:{message_id}"


async def enqueue(
    tx: Repositories, master_key: MasterKey, mail: OutgoingMail, *, at: datetime
) -> str:
    """Write `mail` in the caller's transaction, due at once; its id.

    The caller records its own audit event for the change that sends the mail.
    """
    message_id = new_id()
    html_enc = master_key.encrypt(mail.html.encode(), purpose=body_purpose(message_id, "html"))
    await tx.outbox.add(
        _row(master_key, message_id, mail, EMAIL, mail.recipient, mail.subject, html_enc, at)
    )
    return message_id


async def enqueue_sms(
    tx: Repositories, master_key: MasterKey, sms: OutgoingSms, *, at: datetime
) -> str:
    """Write `sms` in the caller's transaction, due at once; its id.

    The number must pass the phone rule (`InvalidArgument`, field "phone"); it is stored
    without spaces or punctuation. The text is encrypted as a mail body is; an SMS has no
    subject and no HTML part. The caller records its own audit event.
    """
    recipient = validation.phone(sms.recipient)
    message_id = new_id()
    await tx.outbox.add(_row(master_key, message_id, sms, SMS, recipient, "", "", at))
    return message_id


def _row(
    master_key: MasterKey,
    message_id: str,
    message: OutgoingMail | OutgoingSms,
    channel: str,
    recipient: str,
    subject: str,
    html_enc: str,
    at: datetime,
) -> dict[str, object]:
    """A new outbox row, due at `at`; the text body encrypted for this row only."""
    text_enc = master_key.encrypt(message.text.encode(), purpose=body_purpose(message_id, "text"))
    return {
        "id": message_id,
        "kind": message.kind,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "text_enc": text_enc,
        "html_enc": html_enc,
        "language": message.language,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "last_error": "",
        "created_at": at,
        "sent_at": None,
        "user_id": message.user_id,
        "org_id": message.org_id,
    }


def recipient_domain(recipient: str) -> str:
    """What logs and audit payloads may name of a recipient."""
    return recipient.rpartition("@")[2].lower()


def recipient_hint(channel: str, recipient: str) -> str:
    """What a log line may name of a recipient: a mail's domain, a number's last two digits."""
    if channel == SMS:
        return f"a number ending {recipient[-2:]}"
    return recipient_domain(recipient)


class NotificationService:
    """The outbox as operators see it: recent messages, retry, and a test mail."""

    def __init__(self, store: Store, authz: Authorizer, master_key: MasterKey) -> None:
        self._store = store
        self._authz = authz
        self._master_key = master_key

    async def list_messages(self, ctx: Context, *, limit: int = 50) -> list[OutboxEntry]:
        """The most recent messages, newest first, without their bodies."""
        await self._authz.require(ctx, "iam.read", Resource.instance())
        async with self._store.reader() as tx:
            return await tx.outbox.list_recent(limit=max(1, min(limit, RECENT_LIMIT)))

    async def retry(self, ctx: Context, message_id: str) -> OutboxEntry:
        """Make a failed (or waiting) message due now, with its attempts counted afresh."""
        await self._authz.require(ctx, "iam.write", Resource.instance())
        async with self._store.transaction() as tx:
            entry = await tx.outbox.find(message_id)
            if entry is None:
                raise NotFound("notification.not_found", "there is no such message")
            if entry.state not in (FAILED, PENDING):
                code = "notification.sent" if entry.state == SENT else "notification.sending"
                raise PreconditionFailed(code, f"the message is {entry.state}, not failed")
            await tx.outbox.requeue(message_id, at=ctx.now())
            await record(
                tx,
                ctx,
                "instance.notification.retried",
                aggregate=("notification", message_id),
                org_id=entry.org_id,
                payload={"kind": entry.kind, "channel": entry.channel, "previous": entry.state},
            )
            retried = await tx.outbox.find(message_id)
        assert retried is not None
        return retried

    async def send_test_mail(self, ctx: Context, to: str, *, language: str = "en") -> str:
        """Queue a test mail to `to` through the instance's mail settings; the message's id."""
        await self._authz.require(ctx, "iam.write", Resource.instance())
        recipient = validation.email(to, required=True, field="to")
        mail = compose("email.test", language=language, recipient=recipient)
        async with self._store.transaction() as tx:
            message_id = await enqueue(tx, self._master_key, mail, at=ctx.now())
            await record(
                tx,
                ctx,
                "instance.notification.test_queued",
                aggregate=("notification", message_id),
                org_id=None,
                payload={"kind": mail.kind, "recipient": recipient},
            )
        return message_id
