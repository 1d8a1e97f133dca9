"""A searchable table that asks a service for one page at a time, so it stays fast at any size."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from zitui.records import Page
from zitui.screens.feedback import report

Loader = Callable[[str, int, int], Awaitable[Page[Any]]]
"""(search, offset, limit) → one page from a core service."""

PAGE_SIZE = 50
SEARCH_DELAY = 0.25


@dataclass(frozen=True)
class Column:
    label: str
    cell: Callable[[Any], object]


@dataclass(frozen=True)
class Nouns:
    """How the paging line names the rows: `Organisations 1–20 of 31`."""

    plural: str
    singular: str

    def describe(self, page: Page[Any], *, searching: bool) -> str:
        if page.total == 0:
            if searching:
                return f"No {self.singular} matches the search."
            return f"No {self.plural}."
        first, last = page.offset + 1, page.offset + len(page.items)
        text = f"{self.plural.capitalize()} {first}–{last} of {page.total}"
        return text + " · n next page, p previous page" if page.total > page.limit else text


def as_cell(value: object) -> object:
    """Text cells render without markup, so a name like `[b]` shows as typed."""
    return Text(value) if isinstance(value, str) else value


class PagedTable(Vertical):
    """Search input, table and paging line; `reload()` asks the loader for the current page.

    The search is debounced inside the exclusive worker: a new keystroke cancels the
    waiting load, so only the last one reaches the store.
    """

    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text()
    BINDINGS = [
        Binding("slash", "focus_search", "Search"),
        Binding("n", "next_page", "Next page"),
        Binding("p", "previous_page", "Previous page"),
        Binding("escape", "focus_table", "Back to the table", show=False),
    ]

    class Opened(Message):
        """Enter on a row."""

        def __init__(self, table: PagedTable, item: Any) -> None:
            super().__init__()
            self.table = table
            self.item = item

        @property
        def control(self) -> PagedTable:
            return self.table

    def __init__(
        self,
        loader: Loader,
        columns: Sequence[Column],
        nouns: Nouns,
        *,
        id: str,
        key: Callable[[Any], str] = lambda item: str(item.id),
        page_size: int = PAGE_SIZE,
        searchable: bool = True,
        placeholder: str = "",
    ) -> None:
        super().__init__(id=id)
        self.loader = loader
        self.columns = tuple(columns)
        self.nouns = nouns
        self.key = key
        self.page_size = page_size
        self.searchable = searchable
        self.placeholder = placeholder or f"Search {nouns.plural} (press /)"
        self.page_offset = 0
        self.total = 0
        self.items: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        if self.searchable:
            yield Input(placeholder=self.placeholder, id=f"{self.id}-search")
        yield DataTable(id=f"{self.id}-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id=f"{self.id}-paging", classes="paging", markup=False)

    def on_mount(self) -> None:
        self.table.add_columns(*(column.label for column in self.columns))
        self.reload()

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(f"#{self.id}-table", DataTable)

    @property
    def search_text(self) -> str:
        if not self.searchable:
            return ""
        return self.query_one(f"#{self.id}-search", Input).value

    @property
    def current(self) -> Any | None:
        """The item under the cursor, if any."""
        table = self.table
        if table.row_count == 0:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.items.get(str(row_key.value))

    def reload(self, *, first_page: bool = False, delay: float = 0.0) -> None:
        if first_page:
            self.page_offset = 0
        self.load(delay)

    @work(exclusive=True, exit_on_error=False)
    async def load(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        search = self.search_text
        try:
            page = await self.loader(search, self.page_offset, self.page_size)
        except Exception as error:
            report(self, error)
            return
        self.show_page(page, searching=bool(search.strip()))

    def show_page(self, page: Page[Any], *, searching: bool) -> None:
        table = self.table
        keep = self.current
        kept_key = self.key(keep) if keep is not None else None
        self.total = page.total
        self.items = {self.key(item): item for item in page.items}
        table.clear()
        for key, item in self.items.items():
            table.add_row(*(as_cell(column.cell(item)) for column in self.columns), key=key)
        if kept_key in self.items:
            table.move_cursor(row=table.get_row_index(kept_key), animate=False)
        paging = self.nouns.describe(page, searching=searching)
        self.query_one(f"#{self.id}-paging", Static).update(paging)
        self.screen.refresh_bindings()

    @on(Input.Changed)
    def search(self, event: Input.Changed) -> None:
        event.stop()
        self.reload(first_page=True, delay=SEARCH_DELAY)

    @on(Input.Submitted)
    def search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_focus_table()

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        item = self.items.get(str(event.row_key.value))
        if item is not None:
            self.post_message(self.Opened(self, item))

    @on(DataTable.RowHighlighted)
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.screen.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_page":
            return self.page_offset + self.page_size < self.total
        if action == "previous_page":
            return self.page_offset > 0
        if action == "focus_search":
            return self.searchable
        if action == "focus_table":
            return not self.table.has_focus  # else Escape goes on to the screen
        return True

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_focus_search(self) -> None:
        self.query_one(f"#{self.id}-search", Input).focus()

    def action_next_page(self) -> None:
        self.page_offset += self.page_size
        self.load(0.0)

    def action_previous_page(self) -> None:
        self.page_offset = max(0, self.page_offset - self.page_size)
        self.load(0.0)


def page_of(
    items: Sequence[Any],
    search: str,
    offset: int,
    limit: int,
    *,
    text: Callable[[Any], str],
) -> Page[Any]:
    """A page of a short list the service returns whole (members, roles, domains)."""
    needle = search.strip().lower()
    matching = [item for item in items if needle in text(item).lower()] if needle else list(items)
    return Page(
        items=tuple(matching[offset : offset + limit]),
        total=len(matching),
        offset=offset,
        limit=limit,
    )
