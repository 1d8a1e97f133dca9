"""A modal listing the keys of the screen it was opened over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


def key_rows(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(keys, description) for the bindings in force on `screen`, one row per description."""
    keys: dict[str, list[str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or not _ours(active.node):
            continue
        shown = keys.setdefault(binding.description, [])
        key = screen.app.get_key_display(binding)
        if key not in shown:
            shown.append(key)
    return [(", ".join(shown), description) for description, shown in keys.items()]


def _ours(node: object) -> bool:
    """Screens, the app and zitui's widgets; Textual's own widgets list cursor keys."""
    return isinstance(node, (Screen, App)) or type(node).__module__.startswith("zitui.")


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_name("help.tcss")
    BINDINGS = [Binding("escape,q,question_mark,f1,enter", "dismiss", "Close help")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        width = max((len(keys) for keys, _ in self.rows), default=0) + 2
        lines = [f"{keys.ljust(width)}{description}" for keys, description in self.rows]
        with Vertical(id="help-box"):
            yield Static("Keys", id="help-title")
            yield Static("\n".join(lines), id="help-keys", markup=False)
            yield Static("Press Escape to close.", id="help-hint")
