"""Helpers for the TUI tests: a real store on a temporary directory and ways to read the screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.conftest import make_settings
from zitui.config import Settings
from zitui.core.services import Services, open_services
from zitui.core.setup import SetupResult
from zitui.screens import ZituiApp

SIZE = (120, 40)


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
    """Let workers finish and the messages they post be handled."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def fill(pilot: Pilot[None], selector: str, value: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = value
    await pilot.pause()


async def sign_in(pilot: Pilot[None], username: str, password: str) -> None:
    await fill(pilot, "#username", username)
    await fill(pilot, "#password", password)
    await pilot.press("enter")
    await settle(pilot)
