"""A secret the store keeps only as a digest: shown once, with a way to copy it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea


class SecretModal(ModalScreen[None]):
    """`details` (label, value) are shown above the secret; c copies the secret itself."""

    CSS_PATH = Path(__file__).with_name("secret.tcss")
    AUTO_FOCUS = "#secret-close"
    BINDINGS = [
        Binding("escape,enter", "dismiss", "Close"),
        Binding("c", "copy", "Copy"),
    ]

    def __init__(
        self,
        title: str,
        label: str,
        secret: str,
        *,
        details: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.label = label
        self.secret = secret
        self.details = tuple(details)

    def compose(self) -> ComposeResult:
        with Vertical(id="secret-box"):
            yield Static(self.title_text, id="secret-title", markup=False)
            for label, value in self.details:
                yield Static(f"{label}: {value}", classes="secret-detail", markup=False)
            yield Static(f"{self.label}:", id="secret-label", markup=False)
            if "\n" in self.secret:
                yield TextArea(self.secret, read_only=True, id="secret-value")
            else:
                yield Static(self.secret, id="secret-value", markup=False)
            yield Static(
                f"The {self.label.lower()} is shown only now; zitui keeps no copy it could show "
                "again. Press c to copy it to the clipboard, or select it with the mouse (hold "
                "Shift in most terminals). Press Enter or Escape to close.",
                id="secret-hint",
                markup=False,
            )
            yield Button("I have saved it", variant="primary", id="secret-close")

    @on(Button.Pressed, "#secret-close")
    def close(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.secret)
        self.notify(f"The {self.label.lower()} is on the clipboard.", title="Copied")
