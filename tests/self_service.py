"""Helpers for the tests of registration, email verification, password reset and
initialisation: the mails a user receives, read as the user would from the `.eml` files the
sender writes without SMTP, and the first steps of a registration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.dbfile import rows
from tests.test_core_audit import _events
from zitui.core.context import RequestMeta
from zitui.core.login.flows import LoginFlowService
from zitui.core.login.steps import Outcome, Register, Registration
from zitui.core.services import Services
from zitui.records import Event

META = RequestMeta(origin="test", ip="192.0.2.9", user_agent="pytest")
RITA = Registration(
    given_name="Rita",
    family_name="Register",
    email="rita@example.net",
    username="rita",
    language="de",
    accepted_terms=True,
)
RITA_PASSWORD = "Rita-Sings-48#"
NEW_PASSWORD = "Fresh-Start-93%"
# The code stands alone on its line, indented, in the plain-text part.
_CODE_LINE = re.compile(r"^ {4}([A-Z0-9]{6})$", re.MULTILINE)
_LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Mail:
    """One mail as its recipient reads it: the code in the text and the link's parts."""

    recipient: str
    subject: str
    text: str
    code: str
    path: str
    query: dict[str, str]


def read_mail(path: Path) -> Mail:
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None, path
    text = body.get_content()
    [code] = _CODE_LINE.findall(text)
    [link] = _LINK.findall(text)
    url = urlsplit(link)
    query = dict(parse_qsl(url.query))
    assert query["code"] == code  # the link carries the code the text shows
    return Mail(str(parsed["To"]), str(parsed["Subject"]), text, code, url.path, query)


class Mailbox:
    """The mails delivered since the last look, oldest first."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._seen: set[str] = set()

    async def new(self) -> list[Mail]:
        await self._services.sender.deliver_due()
        folder = self._services.settings.data_dir / "mail"
        if not folder.is_dir():
            return []
        fresh = sorted(p for p in folder.iterdir() if p.name not in self._seen)
        self._seen.update(p.name for p in fresh)
        return [read_mail(p) for p in fresh]

    async def one(self, recipient: str) -> Mail:
        """The one new mail, which must be for `recipient`."""
        mails = await self.new()
        assert [m.recipient for m in mails] == [recipient], mails
        return mails[0]


async def open_registration(
    login: LoginFlowService, browser: str, *, auth_request_id: str = ""
) -> str:
    """A new flow at the registration form; its id."""
    started = await login.start(browser, auth_request_id=auth_request_id, request=META)
    asked = await login.ask_registration(browser, started.step.flow.id)
    assert isinstance(asked.step, Register), asked.step
    return asked.step.flow.id


async def register(
    login: LoginFlowService,
    browser: str,
    values: Registration = RITA,
    *,
    auth_request_id: str = "",
    password: str = RITA_PASSWORD,
) -> Outcome:
    flow_id = await open_registration(login, browser, auth_request_id=auth_request_id)
    return await login.register(browser, flow_id, values, password, password, META)


async def events_of(services: Services, event_type: str, aggregate_id: str) -> list[Event]:
    """The events of one type on one aggregate, newest first."""
    return [
        e
        for e in await _events(services)
        if e.event_type == event_type and e.aggregate_id == aggregate_id
    ]


def user_row(services: Services, user_id: str) -> dict[str, Any]:
    """The user's row, read from the SQLite file."""
    columns = ("state", "email", "email_verified", "failed_code_attempts", "terms_accepted_at")
    found = rows(
        services.settings.data_dir, f"SELECT {', '.join(columns)} FROM users WHERE id = ?", user_id
    )
    assert len(found) == 1, found
    return dict(zip(columns, found[0], strict=True))
