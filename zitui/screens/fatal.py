"""The screen shown instead of the console when the store cannot be opened."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from zitui.errors import StoreUnavailable, WrongMasterKey, ZituiError

_TITLES = {
    WrongMasterKey.kind: "The master key does not open this data directory",
    StoreUnavailable.kind: "The data directory cannot be used",
}
_HINTS = {
    WrongMasterKey.kind: (
        "Start zitui with the master key this data directory was created with: set "
        "ZITUI_MASTERKEY, or put the original masterkey file back into the data directory. "
        "Nothing was changed."
    ),
    StoreUnavailable.kind: (
        "Check that no other zitui process holds the data directory, that --data points to "
        "the right place and that it is writable. If the database is damaged, restore it "
        "from a backup."
    ),
}
_DEFAULT_TITLE = "zitui cannot start"
_DEFAULT_HINT = "Check the settings and the log in the data directory, then start zitui again."


class FatalScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("fatal.tcss")
    BINDINGS = [Binding("q", "app.quit", "Quit", show=False)]

    def __init__(self, error: ZituiError) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="fatal-box"):
            yield Static(_TITLES.get(self.error.kind, _DEFAULT_TITLE), id="fatal-title")
            yield Static(self.error.message, id="fatal-message", markup=False)
            yield Static(f"Error code: {self.error.code}", id="fatal-code", markup=False)
            yield Static(_HINTS.get(self.error.kind, _DEFAULT_HINT), id="fatal-hint")
            yield Static("Press q to quit.", id="fatal-quit")
        yield Footer(compact=True)
