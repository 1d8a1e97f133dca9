"""The notification outbox: where mail goes, the recent messages and their delivery state,
retry of a failed message, and a test mail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import Page
from zitui.screens.feedback import report
from zitui.screens.form import Field, Values
from zitui.screens.formats import when
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.section import SectionScreen

RECENT = 200
# The states the core's retry accepts; others hide the key (the core refuses them anyway).
RETRYABLE = ("failed", "pending")


def next_attempt(message: Any) -> str:
    """When a waiting message is tried again; nothing for one that is done."""
    return when(message.next_attempt_at) if message.state == "pending" else ""


COLUMNS = (
    Column("Queued (UTC)", lambda m: when(m.created_at)),
    Column("Channel", lambda m: m.channel),
    Column("Recipient", lambda m: m.recipient),
    Column("Kind", lambda m: m.kind),
    Column("State", lambda m: m.state),
    Column("Attempts", lambda m: str(m.attempts)),
    Column("Next attempt", next_attempt),
    Column("Last error", lambda m: m.last_error),
)


def searchable_text(message: Any) -> str:
    return f"{message.recipient} {message.kind} {message.state} {message.channel}"


class NotificationsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("notifications.tcss")
    AUTO_FOCUS = "#messages-table"
    BINDINGS = [
        Binding("r", "reload", "Refresh"),
        Binding("t", "retry", "Retry"),
        Binding("m", "test_mail", "Send test mail"),
    ]

    def __init__(self, services: Services, context: Context) -> None:
        super().__init__(services, context)
        self.target = ""

    def compose(self) -> ComposeResult:
        yield from self.title_bar(
            "Notifications", f"The {RECENT} most recent messages, newest first."
        )
        yield Static("Mail goes …", id="mail-target", markup=False)
        yield PagedTable(
            self.load_page,
            COLUMNS,
            Nouns("messages", "message"),
            id="messages",
            placeholder="Search recipient, kind or state (press /)",
        )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load_target()

    @property
    def messages(self) -> PagedTable:
        return self.query_one("#messages", PagedTable)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[Any]:
        messages = await self.services.notifications.list_messages(self.context, limit=RECENT)
        return page_of(messages, search, offset, limit, text=searchable_text)

    @work(group="target", exclusive=True, exit_on_error=False)
    async def load_target(self) -> None:
        try:
            target = await self.services.smtp.delivery_target(self.context)
        except Exception as error:
            report(self, error)
            return
        self.target = target.describe()
        self.query_one("#mail-target", Static).update(self.target)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        write = self.can("iam.write", Resource.instance())
        match action:
            case "retry":
                message = self.messages.current
                return write and message is not None and message.state in RETRYABLE
            case "test_mail":
                return write
        return True

    def action_reload(self) -> None:
        self.load_target()
        self.messages.reload()

    def action_retry(self) -> None:
        message = self.messages.current
        if message is None:
            return

        def retried(entry: Any) -> None:
            self.notify(
                f"The message to {entry.recipient} is due again.", title="Retried", markup=False
            )
            self.messages.reload()

        self.call(lambda: self.services.notifications.retry(self.context, message.id), retried)

    def action_test_mail(self) -> None:
        async def send(values: Values) -> str:
            return await self.services.notifications.send_test_mail(self.context, values["to"])

        def queued(_: str) -> None:
            self.notify("The test mail is queued; r shows when it is sent.", title="Queued")
            self.messages.reload(first_page=True)

        self.form(
            "Send a test mail",
            [Field("to", "Recipient", placeholder="name@example.org")],
            send,
            queued,
            action="Send",
            intro=self.target,
        )
