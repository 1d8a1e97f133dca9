"""Asks before a destructive action; only y or the action button goes ahead."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmModal(ModalScreen[bool]):
    """Dismisses with True to go ahead; Escape, n and Cancel (focused first) say no."""

    CSS_PATH = Path(__file__).with_name("confirm.tcss")
    AUTO_FOCUS = "#confirm-cancel"
    BINDINGS = [
        Binding("escape,n", "answer(False)", "Cancel"),
        Binding("y", "answer(True)", "Yes, go ahead"),
    ]

    def __init__(self, title: str, question: str, *, action: str = "Delete") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.action_label = action

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.title_text, id="confirm-title", markup=False)
            yield Static(self.question, id="confirm-question", markup=False)
            yield Static("Press y to go ahead, Escape or n to cancel.", id="confirm-hint")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="confirm-cancel")
                yield Button(self.action_label, variant="error", id="confirm-go")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-go")

    def action_answer(self, go: bool) -> None:
        self.dismiss(go)
