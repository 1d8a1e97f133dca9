"""The audit log, newest first: filter by organisation, actor, type and time; open an event."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Label, Static

from zitui.core.context import Context
from zitui.core.events import EventQuery
from zitui.core.services import Services
from zitui.errors import ZituiError
from zitui.records import Event, Organization, Page, User
from zitui.screens.event_detail import EventDetailModal
from zitui.screens.formats import parse_time, when
from zitui.screens.names import Names
from zitui.screens.paged_table import SEARCH_DELAY, Column, Nouns, PagedTable
from zitui.screens.pickers import org_picker, user_picker
from zitui.screens.section import SectionScreen

TIME_FIELDS = ("since", "until")


class EventsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("events.tcss")
    AUTO_FOCUS = "#events-table"
    BINDINGS = [
        Binding("f", "filter_org", "Organisation"),
        Binding("a", "filter_actor", "Actor"),
        Binding("t", "focus_type", "Type and time"),
        Binding("x", "clear", "Clear filters"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(
        self,
        services: Services,
        context: Context,
        *,
        aggregate_id: str | None = None,
        label: str = "",
    ) -> None:
        super().__init__(services, context)
        self.aggregate_id = aggregate_id
        self.label = label
        self.org: Organization | None = None
        self.actor: User | None = None
        self.names = Names(services, context)

    def compose(self) -> ComposeResult:
        title = f"Events of {self.label}" if self.label else "Events"
        yield from self.title_bar(title, self.describe_filters())
        with Horizontal(classes="filters"):
            for field, label, placeholder in (
                ("event_type", "Event type", "e.g. user.human.added"),
                ("since", "From (UTC)", "2026-11-26 09:00"),
                ("until", "Before (UTC)", "2026-11-27"),
            ):
                with Vertical(classes="filter"):
                    yield Label(label)
                    yield Input(placeholder=placeholder, id=field)
                    yield Static("", id=f"{field}-message", classes="field-message", markup=False)
        columns = (
            Column("Time (UTC)", lambda e: when(e.created_at)),
            Column("Event", lambda e: e.event_type),
            Column("Organisation", lambda e: self.names.org(e.org_id)),
            Column("Actor", lambda e: self.names.user(e.actor_id)),
            Column("On", lambda e: f"{e.aggregate_type} {e.aggregate_id}"),
        )
        yield PagedTable(
            self.load_page, columns, Nouns("events", "event"), id="events", searchable=False
        )
        yield Footer(compact=True)

    def describe_filters(self) -> str:
        org = f"organisation {self.org.name}" if self.org else "every organisation you manage"
        actor = f"by {self.actor.login_name}" if self.actor else "by anyone"
        return f"Newest first · {org} · {actor} · Enter shows an event."

    def event_query(self) -> EventQuery:
        values = {field: self.query_one(f"#{field}", Input).value for field in TIME_FIELDS}
        return EventQuery(
            org_id=self.org.id if self.org else None,
            actor_id=self.actor.id if self.actor else None,
            event_type=self.query_one("#event_type", Input).value.strip() or None,
            aggregate_id=self.aggregate_id,
            since=parse_time(values["since"], field="since"),
            until=parse_time(values["until"], field="until"),
        )

    async def load_page(self, search: str, offset: int, limit: int) -> Page[Event]:
        self.clear_messages()
        try:
            page = await self.services.events.list_events(
                self.context, self.event_query(), offset=offset, limit=limit
            )
        except ZituiError as error:
            if error.field in TIME_FIELDS:
                self.show_message(error.field, error.message)
            raise
        await self.names.load_orgs(e.org_id for e in page.items)
        await self.names.load_users(e.actor_id for e in page.items)
        return page

    def show_message(self, field: str, text: str) -> None:
        message = self.query_one(f"#{field}-message", Static)
        message.update(text)
        message.display = bool(text)

    def clear_messages(self) -> None:
        for field in TIME_FIELDS:
            self.show_message(field, "")

    @property
    def events(self) -> PagedTable:
        return self.query_one("#events", PagedTable)

    def filters_changed(self) -> None:
        self.query_one("#section-detail", Static).update(self.describe_filters())
        self.events.reload(first_page=True)
        self.refresh_bindings()

    @on(Input.Changed)
    def typed(self, event: Input.Changed) -> None:
        self.events.reload(first_page=True, delay=SEARCH_DELAY)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.events.action_focus_table()

    @on(PagedTable.Opened, "#events")
    def open_event(self, event: PagedTable.Opened) -> None:
        item: Event = event.item
        self.app.push_screen(
            EventDetailModal(
                item, org=self.names.org(item.org_id), actor=self.names.user(item.actor_id)
            )
        )

    def action_filter_org(self) -> None:
        def picked(org: Organization | None) -> None:
            if org is not None:
                self.org = org
                self.filters_changed()

        self.app.push_screen(
            org_picker(self.services, self.context, "Events of which organisation?"), picked
        )

    def action_filter_actor(self) -> None:
        def picked(user: User | None) -> None:
            if user is not None:
                self.actor = user
                self.filters_changed()

        self.app.push_screen(
            user_picker(self.services, self.context, "Events by which user?"), picked
        )

    def action_focus_type(self) -> None:
        self.query_one("#event_type", Input).focus()

    def action_clear(self) -> None:
        self.org = None
        self.actor = None
        for field in ("event_type", *TIME_FIELDS):
            with self.prevent(Input.Changed):
                self.query_one(f"#{field}", Input).value = ""
        self.clear_messages()
        self.filters_changed()

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.events.action_focus_table()
        else:
            super().action_back()

    def action_reload(self) -> None:
        self.events.reload()
