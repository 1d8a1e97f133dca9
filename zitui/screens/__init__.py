"""The operator console: Textual screens over the core services."""

from __future__ import annotations

from zitui.screens.app import ZituiApp, make_app

__all__ = ["ZituiApp", "make_app"]
