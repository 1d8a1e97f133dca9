"""Mails from the catalogues: every kind in every language, the code and link in both bodies,
values escaped in HTML, and one delivered through a real SMTP server."""

from __future__ import annotations

import re
import tomllib
from email import message_from_bytes, policy
from email.message import EmailMessage
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests import mail_fixtures
from tests.mail_fixtures import MailServer, use_smtp
from zitui.core.context import Context
from zitui.core.notifications.mails import KIND_TEXTS, MAIL_KINDS, compose, mail_language
from zitui.core.notifications.outbox import enqueue
from zitui.core.services import Services
from zitui.i18n import SUPPORTED_LOCALES, catalogue

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "zitui" / "core" / "notifications" / "templates"
CODE = "K7Q2-9XZD"
LINK = "https://login.example.com/ui/login/mail/verify?userID=u1&code=K7Q2-9XZD"


mail_server = mail_fixtures.mail_server


class Links(HTMLParser):
    """The targets of the links in an HTML body, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", MAIL_KINDS)
def test_every_kind_composes_in_every_language(kind: str, language: str) -> None:
    mail = compose(
        kind,
        language=language,
        recipient="alice@example.org",
        display_name="Alice",
        code=CODE,
        link=LINK,
        expires_in_minutes=15,
        user_id="u1",
        org_id="o1",
    )
    assert (mail.kind, mail.recipient, mail.language) == (kind, "alice@example.org", language)
    assert (mail.user_id, mail.org_id) == ("u1", "o1")
    assert mail.subject and "\n" not in mail.subject
    # The code as typed, alone on its line, and the link written out in the text body.
    assert CODE in [line.strip() for line in mail.text.splitlines()]
    assert LINK in mail.text.splitlines()
    body = parsed(mail.html)
    assert CODE in body.text
    assert body.hrefs.count(LINK) == 2  # the button, and the address written out
    assert f'<html lang="{language}">' in mail.html
    assert "Alice" in mail.text and "Alice" in "".join(body.text)
    assert "15" in mail.text
    # No key and no unfilled placeholder reaches the reader.
    for part in (mail.subject, mail.text, "".join(body.text)):
        assert f"mail.{kind}" not in part and not re.search(r"\{[a-z_]+\}|\$[a-z_]+", part)


@pytest.mark.parametrize("kind", MAIL_KINDS)
def test_subjects_are_translated(kind: str) -> None:
    subjects = {
        language: compose(kind, language=language, recipient="a@b.example").subject
        for language in SUPPORTED_LOCALES
    }
    assert len(set(subjects.values())) == len(SUPPORTED_LOCALES), subjects


def test_every_kind_has_its_texts_in_every_catalogue() -> None:
    for language in SUPPORTED_LOCALES:
        messages = catalogue(language)
        absent = [
            f"mail.{kind}.{part}"
            for kind in MAIL_KINDS
            for part in KIND_TEXTS
            if f"mail.{kind}.{part}" not in messages
        ]
        assert absent == [], language


def test_values_are_escaped_in_html_and_plain_in_text() -> None:
    mail = compose(
        "email.verify",
        language="en",
        recipient="eve@example.org",
        display_name="<b>Eve</b>",
        code="<i>1</i>",
        link="https://login.example.com/verify?a=1&b=<2>",
        instance_name='Acme "ID"',
    )
    assert "<b>Eve</b>" not in mail.html and "&lt;b&gt;Eve&lt;/b&gt;" in mail.html
    assert "<i>1</i>" not in mail.html and "&lt;i&gt;1&lt;/i&gt;" in mail.html
    assert 'href="https://login.example.com/verify?a=1&amp;b=&lt;2&gt;"' in mail.html
    assert "Acme &quot;ID&quot;" in mail.html
    assert "Hello <b>Eve</b>," in mail.text  # plain text is not HTML: nothing to escape
    assert mail.subject == 'Acme "ID": verify your email address'


def test_without_code_or_link_their_parts_are_left_out() -> None:
    mail = compose("email.test", language="de", recipient="ops@example.net")
    assert mail.subject == "zitui-Test-E-Mail"
    assert mail.text.startswith("Guten Tag,\n")  # no name: the greeting without one
    assert "<a " not in mail.html and "Testcode" not in mail.html
    assert "Testcode" not in mail.text and "Gültig" not in mail.text
    with_link = compose("email.test", language="de", recipient="o@e.net", link=LINK)
    assert LINK in with_link.text and "Testcode" not in with_link.text


def test_a_link_must_be_http_and_a_kind_known() -> None:
    with pytest.raises(ValueError, match="http"):
        compose("email.verify", language="en", recipient="a@b.example", link="javascript:x()")
    with pytest.raises(ValueError, match="unknown mail kind"):
        compose("sms.code", language="en", recipient="a@b.example")


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("de-CH",), "de"),
        (("", "fr-CA"), "fr"),
        (("ja", "de"), "de"),
        (("FR",), "fr"),
        (("ja", ""), "en"),
        ((), "en"),
        (("en-GB", "de"), "en"),
    ],
)
def test_mail_language_is_the_first_supported_candidate(
    candidates: tuple[str, ...], expected: str
) -> None:
    assert mail_language(*candidates) == expected


def test_an_unsupported_language_falls_back_like_mail_language() -> None:
    assert compose("otp.email", language="de-AT", recipient="a@b.example").language == "de"
    assert compose("otp.email", language="xx", recipient="a@b.example").language == "en"


def test_the_layouts_are_package_data_for_pip_and_pyinstaller() -> None:
    files = sorted(p.relative_to(ROOT / "zitui").as_posix() for p in TEMPLATES.iterdir())
    assert {
        "core/notifications/templates/mail.html",
        "core/notifications/templates/mail.txt",
    } <= set(files)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["zitui"]
    assert all(any(fnmatch(f, p) for p in patterns) for f in files)
    spec_patterns = re.findall(r'package_files\("([^"]+)"\)', (ROOT / "zitui.spec").read_text())
    assert all(any(fnmatch(f, p) for p in spec_patterns) for f in files)


async def test_a_composed_mail_arrives_with_its_code_in_the_text_part(
    services: Services, admin: Context, mail_server: MailServer
) -> None:
    mail_server.start()
    await use_smtp(services, admin, mail_server)
    mail = compose(
        "password.reset",
        language="fr",
        recipient="alice@example.org",
        display_name="Alice",
        code=CODE,
        link=LINK,
        expires_in_minutes=60,
    )
    async with services.store.transaction() as tx:
        await enqueue(tx, services.master_key, mail, at=services.clock.now())
    assert await services.sender.deliver_due() == 1

    [(_, rcpt_tos, received)] = mail_server.inbox.received
    assert rcpt_tos == ["alice@example.org"]
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == "zitui\u00a0: réinitialisez votre mot de passe"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    lines = [line.strip() for line in text.get_content().splitlines()]
    assert CODE in lines and LINK in lines
    assert "Bonjour Alice," in lines
    assert CODE in parsed(html.get_content()).text


async def test_the_test_mail_is_composed_from_the_catalogue(
    services: Services, admin: Context
) -> None:
    await services.notifications.send_test_mail(admin, "ops@example.net", language="fr")
    await services.sender.deliver_due()
    [path] = (services.settings.data_dir / "mail").iterdir()
    received = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert received["Subject"] == "E-mail de test de zitui"
    assert isinstance(received, EmailMessage)
    text = received.get_body(preferencelist=("plain",))
    assert text is not None and "L’envoi des e-mails fonctionne." in text.get_content()
