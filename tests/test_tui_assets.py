"""Every screen brings its stylesheet from the package directory, where pip and PyInstaller look."""

from __future__ import annotations

import importlib
import inspect
import tomllib
from pathlib import Path

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widget import Widget

import zitui.screens

SCREENS_DIR = Path(zitui.screens.__file__).resolve().parent
ROOT = SCREENS_DIR.parents[1]
MODULES = sorted(p.stem for p in SCREENS_DIR.glob("*.py") if p.stem != "__init__")


def own_classes() -> list[type]:
    found: list[type] = []
    for stem in MODULES:
        module = importlib.import_module(f"zitui.screens.{stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                found.append(cls)
    return found


def styled_classes() -> list[type]:
    return [cls for cls in own_classes() if issubclass(cls, Screen | App)]


def styled_widgets() -> list[type]:
    """Widgets (not screens) that bring CSS; Textual gives widgets DEFAULT_CSS, not CSS_PATH."""
    return [
        cls
        for cls in own_classes()
        if issubclass(cls, Widget) and not issubclass(cls, Screen) and cls.DEFAULT_CSS
    ]


@pytest.mark.parametrize("cls", styled_classes(), ids=lambda cls: cls.__name__)
def test_each_screen_has_its_own_stylesheet_beside_it(cls: type) -> None:
    css_path = cls.CSS_PATH  # type: ignore[attr-defined]
    assert isinstance(css_path, Path)
    module_file = Path(inspect.getfile(cls))
    assert css_path == module_file.with_suffix(".tcss")
    assert css_path.is_file()


@pytest.mark.parametrize("cls", styled_widgets(), ids=lambda cls: cls.__name__)
def test_each_widget_reads_its_css_from_the_stylesheet_beside_it(cls: type) -> None:
    stylesheet = Path(inspect.getfile(cls)).with_suffix(".tcss")
    assert stylesheet.read_text() == cls.DEFAULT_CSS  # type: ignore[attr-defined]


def test_there_is_one_module_per_stylesheet() -> None:
    stylesheets = {p.stem for p in SCREENS_DIR.glob("*.tcss")}
    styled = [*styled_classes(), *styled_widgets()]
    assert stylesheets == {Path(inspect.getfile(cls)).stem for cls in styled}


def test_the_stylesheets_are_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "screens/*.tcss" in pyproject["tool"]["setuptools"]["package-data"]["zitui"]
