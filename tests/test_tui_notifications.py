"""The notifications screen: where mail goes, the recent messages with their delivery state,
retry of a failed message and a test mail, for instance managers only."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    error_messages,
    fill,
    notifications,
    opened_store,
    press,
    rows,
    sign_in,
    text,
)
from zitui.core.notifications.delivery import Delivery, Sender
from zitui.core.services import Services
from zitui.core.smtp import SmtpSettings
from zitui.core.users import NewHumanUser
from zitui.records import Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.form import FormModal
from zitui.screens.home import HomeScreen
from zitui.screens.notifications import NotificationsScreen

RECIPIENT, STATE, ATTEMPTS, NEXT, ERROR = 2, 4, 5, 6, 7


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def fail_once(services: Services, to: str) -> int:
    """A test mail to `to` that fails for good: SMTP on a closed port, one attempt allowed.
    Returns the port."""
    port = closed_port()
    system = services.system_context()
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender="zitui@example.com", tls="none")
    await services.smtp.set_smtp(system, smtp)
    await services.notifications.send_test_mail(system, to)
    sender = Sender(
        services.store,
        services.master_key,
        services.clock,
        credentials=services.smtp.smtp_credentials,
        mail_dir=services.smtp.mail_dir,
        delivery=Delivery(max_attempts=1),
    )
    assert await sender.deliver_due() == 1
    return port


def message_row(app: ZituiApp, recipient: str) -> tuple[str, ...]:
    [row] = [row for row in rows(app, "messages") if row[RECIPIENT] == recipient]
    return row


async def cursor_on(pilot: Pilot[None], recipient: str) -> None:
    table = pilot.app.screen.query_one("#messages-table", DataTable)
    recipients = [row[RECIPIENT] for row in rows(pilot.app, "messages")]  # type: ignore[arg-type]
    table.focus()
    table.move_cursor(row=recipients.index(recipient))
    await pilot.pause()


def keys(app: ZituiApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()}


async def open_notifications(pilot: Pilot[None]) -> None:
    await sign_in(pilot, "admin", ADMIN_PASSWORD)
    await press(pilot, "t")
    assert isinstance(pilot.app.screen, NotificationsScreen)


async def test_without_smtp_mail_is_written_to_files_and_the_screen_says_so(
    services: Services,
) -> None:
    system = services.system_context()
    await services.notifications.send_test_mail(system, "ann@example.org")
    assert await services.sender.deliver_due() == 1
    mail_dir = (services.settings.data_dir / "mail").absolute()
    [eml] = mail_dir.glob("*.eml")
    assert "To: ann@example.org" in eml.read_text()

    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_notifications(pilot)
        assert text(app, "#mail-target") == (
            f"No SMTP server is configured: mail is written as .eml files to {mail_dir}"
        )
        row = message_row(app, "ann@example.org")
        assert row[1:] == ("email", "ann@example.org", "email.test", "sent", "1", "", "")
        assert text(app, "#messages-paging") == "Messages 1–1 of 1"
        assert "retry" not in keys(app)  # a sent message is done
        await press(pilot, "escape")
        assert isinstance(app.screen, HomeScreen)


async def test_a_failed_message_shows_its_error_and_a_retry_makes_it_pending(
    services: Services,
) -> None:
    port = await fail_once(services, "bob@example.org")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_notifications(pilot)
        assert text(app, "#mail-target") == f"Mail is delivered through SMTP 127.0.0.1:{port}"
        failed = message_row(app, "bob@example.org")
        assert (failed[STATE], failed[ATTEMPTS], failed[NEXT]) == ("failed", "1", "")
        assert failed[ERROR].startswith("cannot reach the mail server")

        await cursor_on(pilot, "bob@example.org")
        assert "retry" in keys(app)
        await press(pilot, "t")
        retried = message_row(app, "bob@example.org")
        assert (retried[STATE], retried[ATTEMPTS]) == ("pending", "0")
        assert retried[NEXT] != ""
        assert error_messages(app) == []
        assert "The message to bob@example.org is due again." in [
            n.message for n in notifications(app)
        ]
    [message] = await services.notifications.list_messages(services.system_context())
    assert (message.recipient, message.state) == ("bob@example.org", "pending")


async def test_a_retry_the_core_refuses_shows_its_reason(services: Services) -> None:
    await services.notifications.send_test_mail(services.system_context(), "cid@example.org")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_notifications(pilot)
        assert message_row(app, "cid@example.org")[STATE] == "pending"
        await cursor_on(pilot, "cid@example.org")
        assert await services.sender.deliver_due() == 1  # sent while the screen shows it
        await press(pilot, "t")
        assert error_messages(app) == ["the message is sent, not failed"]
        await press(pilot, "r")
        assert message_row(app, "cid@example.org")[STATE] == "sent"
        assert "retry" not in keys(app)


async def test_a_test_mail_is_queued_listed_and_delivered(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_notifications(pilot)
        assert text(app, "#messages-paging") == "No messages."
        await press(pilot, "m")
        assert isinstance(app.screen, FormModal)
        assert "written as .eml files" in text(app, "#form-intro")
        await fill(pilot, "#to", "not an address")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, FormModal)
        assert text(app, "#to-message") != ""
        await fill(pilot, "#to", "dora@example.org")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, NotificationsScreen)
        queued = message_row(app, "dora@example.org")
        assert (queued[3], queued[STATE], queued[ATTEMPTS]) == ("email.test", "pending", "0")

        assert await services.sender.deliver_due() == 1
        await press(pilot, "r")
        assert message_row(app, "dora@example.org")[STATE] == "sent"
    [eml] = (services.settings.data_dir / "mail").glob("*.eml")
    assert "To: dora@example.org" in eml.read_text()


async def test_a_viewer_sees_the_messages_but_cannot_act(services: Services) -> None:
    system = services.system_context()
    await fail_once(services, "bob@example.org")
    instance = await services.instance.get_instance(system)
    orgs = await services.orgs.list_orgs(system, search="ZITUI")
    viewer = await services.users.create_human_user(
        system,
        orgs.items[0].id,
        NewHumanUser(username="vera", first_name="Vera", last_name="V", password="Vera-Pass-1"),
    )
    await services.memberships.add_member(
        system, viewer.id, Scope.INSTANCE, instance.id, ["IAM_OWNER_VIEWER"]
    )
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "vera", "Vera-Pass-1")
        await press(pilot, "t")
        assert isinstance(app.screen, NotificationsScreen)
        assert message_row(app, "bob@example.org")[STATE] == "failed"
        await cursor_on(pilot, "bob@example.org")
        assert {"retry", "test_mail"}.isdisjoint(keys(app))
        await press(pilot, "t", "m")
        assert isinstance(app.screen, NotificationsScreen)
        assert message_row(app, "bob@example.org")[STATE] == "failed"


async def test_an_org_owner_has_no_notifications_key(services: Services) -> None:
    system = services.system_context()
    acme = await services.orgs.create_org(system, "Acme")
    carol = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="carol", first_name="Carol", last_name="M", password="Carol-Pass-1"),
    )
    await services.memberships.add_member(system, carol.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "carol", "Carol-Pass-1")
        assert isinstance(app.screen, HomeScreen)
        assert "notifications" not in keys(app)
        await press(pilot, "t")
        assert isinstance(app.screen, HomeScreen)
        assert error_messages(app) == []
