"""Helpers for the TUI tests: a real store on a temporary directory and ways to read the screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, SelectionList, Static, TextArea

from tests.conftest import make_settings
from zitui.config import Settings
from zitui.core.services import Services, open_services
from zitui.core.setup import SetupResult
from zitui.screens import ZituiApp

SIZE = (120, 40)
SETTLE_ROUNDS = 20


def tui_settings(data_dir: Path, **overrides: object) -> Settings:
    return make_settings(data_dir, **overrides)


@asynccontextmanager
async def opened_store(
    data_dir: Path, **overrides: object
) -> AsyncIterator[tuple[Services, SetupResult]]:
    services, setup = await open_services(tui_settings(data_dir, **overrides))
    try:
        yield services, setup
    finally:
        await services.close()


def text(app: ZituiApp, selector: str) -> str:
    """What a Static on the current screen shows."""
    return str(app.screen.query_one(selector, Static).content)


def notifications(app: ZituiApp) -> list[Notification]:
    # Textual keeps no public list of notifications; this is the one place that reads it.
    return list(app._notifications)


def error_messages(app: ZituiApp) -> list[str]:
    return [n.message for n in notifications(app) if n.severity == "error"]


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and the messages they post be handled, including the workers
    those messages start (a saved form reloads its table)."""
    for _ in range(SETTLE_ROUNDS):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if all(worker.is_finished for worker in pilot.app.workers):
            await pilot.pause()
            if all(worker.is_finished for worker in pilot.app.workers):
                return
    raise AssertionError("the console kept starting workers")


async def press(pilot: Pilot[None], *keys: str) -> None:
    """Press `keys` one at a time, letting each one's work finish, as a person waits."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def type_text(pilot: Pilot[None], text: str) -> None:
    """Type `text` into the focused input; the debounced search runs once at the end."""
    await pilot.press(*text)
    await settle(pilot)


def rows(app: ZituiApp, table_id: str) -> list[tuple[str, ...]]:
    """The cells of a paged table (`#<id>-table`) on the current screen, as text."""
    table = app.screen.query_one(f"#{table_id}-table", DataTable)
    return [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


def first_column(app: ZituiApp, table_id: str) -> list[str]:
    return [row[0] for row in rows(app, table_id)]


async def cursor_to(pilot: Pilot[None], table_id: str, first_cell: str) -> None:
    """Put the cursor of a paged table on the row whose first cell is `first_cell`."""
    table = pilot.app.screen.query_one(f"#{table_id}-table", DataTable)
    index = first_column(pilot.app, table_id).index(first_cell)  # type: ignore[arg-type]
    table.focus()
    table.move_cursor(row=index)
    await pilot.pause()


async def fill(pilot: Pilot[None], selector: str, value: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = value
    await pilot.pause()


async def choose(pilot: Pilot[None], selector: str, *values: str) -> None:
    """Select exactly `values` in a SelectionList (a form's `multi` field)."""
    selection = pilot.app.screen.query_one(selector, SelectionList)
    selection.focus()
    selection.deselect_all()
    for value in values:
        selection.select(value)
    await pilot.pause()


async def write_lines(pilot: Pilot[None], selector: str, *lines: str) -> None:
    """Fill a TextArea (a form's `lines` field), one value per line."""
    area = pilot.app.screen.query_one(selector, TextArea)
    area.focus()
    area.text = "\n".join(lines)
    await pilot.pause()


async def sign_in(pilot: Pilot[None], username: str, password: str) -> None:
    await fill(pilot, "#username", username)
    await fill(pilot, "#password", password)
    await pilot.press("enter")
    await settle(pilot)
