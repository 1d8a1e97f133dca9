"""A real SMTP server (aiosmtpd) for tests, and the codes and links read from the mail it got.

aiosmtpd runs its own event loop in a thread. Its handler stores a message before it answers
250, so once a sender's SMTP conversation has returned the message is in `Inbox.received`;
a test whose sender runs elsewhere (a live server) waits on `Inbox.wait_for` instead.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from zitui.core.context import Context
from zitui.core.services import Services
from zitui.core.smtp import SmtpSettings

SENDER = "zitui@example.com"
# The mail layouts put the code alone on an indented line and the link alone on its line.
_CODE_LINE = re.compile(r"^ {4}([A-Z0-9]{6})$", re.MULTILINE)
_LINK_LINE = re.compile(r"^(https?://\S+)$", re.MULTILINE)


class Inbox:
    """aiosmtpd's handler: every mail it accepts, as parsed messages."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self._arrived:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
            self._arrived.notify_all()
        return "250 OK"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._arrived:
            return [message for _, _, message in self.received]

    def wait_for(self, count: int, timeout_s: float = 15) -> EmailMessage:
        """The `count`-th message (from 1), once it has arrived; fails after `timeout_s`."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.received) >= count, timeout_s)
            assert arrived, f"mail number {count} did not arrive within {timeout_s} s"
            return self.received[count - 1][2]

    def wait_for_mail_to(
        self, recipient: str, count: int = 1, timeout_s: float = 15
    ) -> EmailMessage:
        """The `count`-th message (from 1) for `recipient`, once it has arrived."""

        def to_recipient() -> list[EmailMessage]:
            return [message for _, to, message in self.received if to == [recipient]]

        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(to_recipient()) >= count, timeout_s)
            assert arrived, f"mail number {count} to {recipient} did not arrive in {timeout_s} s"
            return to_recipient()[count - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MailServer:
    """A real SMTP server on a fixed free port, started and stopped by the test (a stopped
    server is a mail server that is down: its port refuses connections)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    try:
        yield server
    finally:
        server.stop()


async def use_smtp(services: Services, admin: Context, server: MailServer) -> None:
    """The instance's mail goes to `server` (plain SMTP, no TLS)."""
    settings = SmtpSettings(host="127.0.0.1", port=server.port, sender=SENDER, tls="none")
    await services.smtp.set_smtp(admin, settings)


@dataclass(frozen=True)
class MailedCode:
    """The code and link of a mail, as its plain-text part shows them."""

    code: str
    link: str
    text: str

    @property
    def path(self) -> str:
        """The link without scheme and host: what a client bound to the server opens."""
        parts = urlsplit(self.link)
        return f"{parts.path}?{parts.query}"

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.link).query).items()}


def text_of(message: EmailMessage) -> str:
    """The text/plain part, with the line ends a mail reader shows (SMTP sends CRLF)."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "the mail has no text/plain part"
    content: str = body.get_content()  # type: ignore[attr-defined]
    return content.replace("\r\n", "\n")


def mailed_code(message: EmailMessage) -> MailedCode:
    """The one code and the one link of `message`'s text part; the link carries the code."""
    text = text_of(message)
    codes = _CODE_LINE.findall(text)
    links = _LINK_LINE.findall(text)
    assert len(codes) == 1 and len(links) == 1, text
    found = MailedCode(codes[0], links[0], text)
    assert found.query["code"] == found.code
    return found
