"""Where mail goes: the instance's SMTP server (aiosmtplib), or `.eml` files without one."""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

from zitui.core.smtp import SmtpCredentials
from zitui.store.files import FILE_MODE, private_dir

SMTP_TIMEOUT_S = 30


class DeliveryFailed(Exception):
    """One attempt failed; `reason` names the cause and never holds a body or code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transport(Protocol):
    sender: str

    async def send(
        self, message: EmailMessage, *, message_id: str, queued_at: datetime
    ) -> None: ...


def build_email(
    *, sender: str, recipient: str, subject: str, text: str, html: str, at: datetime
) -> EmailMessage:
    """A multipart/alternative mail: the plain text first, the HTML as the preferred part."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id_for(sender)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def message_id_for(sender: str) -> str:
    """A Message-ID (RFC 5322 §3.6.4) at the sender's domain. Not `email.utils.make_msgid`:
    it looks this host's name up in the DNS when given no domain, and it draws on the
    `random` module's shared state, which the server's other threads (and the test suite's
    property tests) would see move."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<{secrets.token_hex(16)}@{domain}>"


class SmtpTransport:
    """Delivery to the SMTP server of the instance settings; tls none, starttls or tls."""

    def __init__(self, credentials: SmtpCredentials, *, timeout_s: float = SMTP_TIMEOUT_S) -> None:
        self._credentials = credentials
        self._timeout_s = timeout_s
        self.sender = credentials.config.sender

    async def send(self, message: EmailMessage, *, message_id: str, queued_at: datetime) -> None:
        config = self._credentials.config
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.user or None,
                password=self._credentials.password if config.user else None,
                use_tls=config.tls == "tls",
                start_tls=config.tls == "starttls",
                timeout=self._timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"the mail server answered {exc.code}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed("the mail server refused the recipient") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"cannot reach the mail server ({type(exc).__name__})") from exc


class FileTransport:
    """The embedded default: each mail an `.eml` file, private to zitui's account, named by
    the time the message was queued and its id, so the files sort by time and a repeated
    attempt finds its file already written."""

    sender = "zitui@localhost"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage, *, message_id: str, queued_at: datetime) -> None:
        name = f"{queued_at:%Y%m%dT%H%M%S%f}Z-{message_id}.eml"
        try:
            await asyncio.to_thread(self._write, self.directory / name, bytes(message))
        except OSError as exc:
            raise DeliveryFailed(f"cannot write the mail file ({exc.strerror})") from exc

    def _write(self, path: Path, data: bytes) -> None:
        private_dir(self.directory)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return  # written by an attempt whose outcome was not recorded
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
