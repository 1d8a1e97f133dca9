"""The one-time notice of the generated administrator password."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class FirstRunScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_name("first_run.tcss")
    BINDINGS = [
        Binding("escape,enter", "dismiss", "Close"),
        Binding("c", "copy", "Copy password"),
    ]

    def __init__(self, login_name: str, password: str) -> None:
        super().__init__()
        self.login_name = login_name
        self.password = password

    def compose(self) -> ComposeResult:
        with Vertical(id="first-run-box"):
            yield Static("First run", id="first-run-title")
            yield Static(
                f"First run: administrator {self.login_name}, password {self.password}. "
                "It is shown only now; you must change it at first sign-in.",
                id="first-run-notice",
                markup=False,
            )
            yield Static(
                "Press c to copy the password to the clipboard, or select it with the mouse "
                "(hold Shift in most terminals). Press Enter or Escape to close.",
                id="first-run-hint",
            )
            yield Button("I have saved it", variant="primary", id="first-run-close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.password)
        self.notify("The password is on the clipboard.", title="Copied")
