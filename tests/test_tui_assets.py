"""Every screen brings its stylesheet from the package directory, where pip and PyInstaller look."""

from __future__ import annotations

import importlib
import inspect
import tomllib
from pathlib import Path

import pytest
from textual.app import App
from textual.screen import Screen

import zitui.screens

SCREENS_DIR = Path(zitui.screens.__file__).resolve().parent
ROOT = SCREENS_DIR.parents[1]
MODULES = sorted(p.stem for p in SCREENS_DIR.glob("*.py") if p.stem != "__init__")


def styled_classes() -> list[type]:
    found: list[type] = []
    for stem in MODULES:
        module = importlib.import_module(f"zitui.screens.{stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, Screen | App):
                found.append(cls)
    return found


@pytest.mark.parametrize("cls", styled_classes(), ids=lambda cls: cls.__name__)
def test_each_screen_has_its_own_stylesheet_beside_it(cls: type) -> None:
    css_path = cls.CSS_PATH  # type: ignore[attr-defined]
    assert isinstance(css_path, Path)
    module_file = Path(inspect.getfile(cls))
    assert css_path == module_file.with_suffix(".tcss")
    assert css_path.is_file()


def test_there_is_one_module_per_stylesheet() -> None:
    stylesheets = {p.stem for p in SCREENS_DIR.glob("*.tcss")}
    assert stylesheets == {Path(inspect.getfile(cls)).stem for cls in styled_classes()}


def test_the_stylesheets_are_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "screens/*.tcss" in pyproject["tool"]["setuptools"]["package-data"]["zitui"]
