"""Helpers for the server tests: a browser's Accept header and test-only routes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def add_routes(app: Starlette, *routes: BaseRoute) -> Starlette:
    """Mount routes that exist only in a test, ahead of the app's own."""
    app.router.routes[0:0] = routes
    return app
