"""A modal that finds one row among many (an organisation, a user, a project) and returns it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from zitui.screens.paged_table import Column, Loader, Nouns, PagedTable

PICK_PAGE_SIZE = 20


class PickModal(ModalScreen[Any]):
    """Type to search, Enter picks the row under the cursor; Escape returns None."""

    CSS_PATH = Path(__file__).with_name("pick.tcss")
    AUTO_FOCUS = "#pick-search"
    # Escape closes the picker even from its search field (the table would only take focus).
    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]

    def __init__(self, title: str, loader: Loader, columns: Sequence[Column], nouns: Nouns) -> None:
        super().__init__()
        self.title_text = title
        self.loader = loader
        self.columns = tuple(columns)
        self.nouns = nouns

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-box"):
            yield Static(self.title_text, id="pick-title", markup=False)
            yield PagedTable(
                self.loader, self.columns, self.nouns, id="pick", page_size=PICK_PAGE_SIZE
            )
            yield Static(
                "Type to search · Enter goes to the list, Enter again picks · Escape cancels",
                id="pick-hint",
            )

    @on(PagedTable.Opened)
    def picked(self, event: PagedTable.Opened) -> None:
        event.stop()
        self.dismiss(event.item)

    def action_cancel(self) -> None:
        self.dismiss(None)
