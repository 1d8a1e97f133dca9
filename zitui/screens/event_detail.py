"""One audit event with its whole payload."""

from __future__ import annotations

import json
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from zitui.records import Event
from zitui.screens.formats import when


def describe_event(event: Event, *, org: str, actor: str) -> str:
    rows = [
        ("Time (UTC)", when(event.created_at)),
        ("Event", event.event_type),
        ("On", f"{event.aggregate_type} {event.aggregate_id}"),
        (
            "Organisation",
            f"{org} ({event.org_id})"
            if event.org_id and org != event.org_id
            else event.org_id or "",
        ),
        ("Actor", f"{actor} ({event.actor_id})" if actor != event.actor_id else actor),
        ("Id", event.id),
    ]
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join(f"{label.ljust(width)}{value}" for label, value in rows)


class EventDetailModal(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_name("event_detail.tcss")
    AUTO_FOCUS = "#event-close"
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("c", "copy", "Copy payload"),
    ]

    def __init__(self, event: Event, *, org: str = "", actor: str = "") -> None:
        super().__init__()
        self.event = event
        self.org = org
        self.actor = actor
        self.payload = json.dumps(event.payload, indent=2, sort_keys=True, default=str)

    def compose(self) -> ComposeResult:
        with Vertical(id="event-box"):
            yield Static(self.event.event_type, id="event-title", markup=False)
            yield Static(
                describe_event(self.event, org=self.org, actor=self.actor),
                id="event-fields",
                markup=False,
            )
            yield Static("Payload", id="event-payload-label")
            yield TextArea(self.payload, read_only=True, language=None, id="event-payload")
            yield Button("Close", id="event-close")

    @on(Button.Pressed, "#event-close")
    def close(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.payload)
        self.notify("The payload is on the clipboard.", title="Copied")
