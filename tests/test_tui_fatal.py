"""The console explains a store it cannot open instead of showing a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui_fixtures import SIZE, opened_store, text, tui_settings
from zitui.core.services import open_services
from zitui.errors import StoreUnavailable, WrongMasterKey, ZituiError
from zitui.screens import make_app
from zitui.screens.fatal import FatalScreen


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_a_wrong_master_key_is_explained_and_quitting_returns_1(key: str) -> None:
    error = WrongMasterKey("masterkey.wrong", "the master key does not match this data")
    app = make_app(None, fatal=error)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, FatalScreen)
        assert text(app, "#fatal-message") == "the master key does not match this data"
        assert "masterkey.wrong" in text(app, "#fatal-code")
        assert "ZITUI_MASTERKEY" in text(app, "#fatal-hint")
        assert "press q to quit" in text(app, "#fatal-quit").lower()
        await pilot.press(key)
    assert app.return_code == 1


async def test_a_locked_store_says_what_to_do() -> None:
    error = StoreUnavailable("store.locked", "the database is locked by another process")
    app = make_app(None, fatal=error)
    async with app.run_test(size=SIZE) as pilot:
        assert text(app, "#fatal-message") == "the database is locked by another process"
        assert "other zitui process" in text(app, "#fatal-hint")
        await pilot.press("q")
    assert app.return_code == 1


async def test_the_real_wrong_key_error_is_shown(tmp_path: Path) -> None:
    async with opened_store(tmp_path / "data"):
        pass
    with pytest.raises(ZituiError) as caught:
        await open_services(tui_settings(tmp_path / "data", masterkey="y" * 32))
    app = make_app(None, fatal=caught.value)
    async with app.run_test(size=SIZE) as pilot:
        assert text(app, "#fatal-message") == caught.value.message
        assert caught.value.code in text(app, "#fatal-code")
        await pilot.press("q")
    assert app.return_code == 1


async def test_without_services_or_error_the_console_refuses_to_start() -> None:
    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, FatalScreen)
        await pilot.press("q")
    assert app.return_code == 1
