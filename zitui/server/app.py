"""The Starlette application factory shared by `zitui start`, `zitui serve` and the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from zitui.config import Settings
from zitui.core.services import Services, open_services
from zitui.core.setup import SetupResult
from zitui.server import paths
from zitui.server.account import routes as account_routes
from zitui.server.api import routes as api_routes
from zitui.server.browser import BrowserCookieMiddleware
from zitui.server.error_pages import exception_handlers
from zitui.server.headers import SecurityHeadersMiddleware
from zitui.server.login import routes as login_routes
from zitui.server.metrics import RequestMetricsMiddleware, metrics_endpoint
from zitui.server.oidc import routes as oidc_routes
from zitui.server.pages import healthz, index, readyz
from zitui.server.state import AppState

STATIC_DIR = Path(__file__).parent / "static"
# Hosted forms are small; anything bigger is refused with 413 before it is parsed. The limit
# sits inside the security headers (not Starlette's app-level `max_body_size`, which is outside
# every user middleware), so its plain-text 413 carries them too.
MAX_BODY_SIZE = 1024 * 1024


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    on_setup: Callable[[SetupResult], None] | None = None,
) -> Starlette:
    """The server, with its services in the lifespan state as `request.state.services`.

    Given `services` (shared with the TUI) it uses them and leaves them open; otherwise it
    opens its own at start-up, hands the first-run result to `on_setup` (so `serve` can show a
    generated admin password once), and closes them at shutdown. Either way the purge of
    expired rows (zitui/core/housekeeping.py) and the delivery of notifications
    (zitui/core/notifications/delivery.py) run in the background while the app does.
    """
    secure = settings.issuer.startswith("https://")
    return Starlette(
        routes=[
            # Starlette tries routes in order: the machine endpoints, called most often and
            # cheapest to answer, come before the pages' many routes.
            *oidc_routes(),
            Route(paths.HOME, index, methods=["GET"]),
            Route(paths.HEALTHZ, healthz, methods=["GET"]),
            Route(paths.READYZ, readyz, methods=["GET"]),
            Route(paths.METRICS, metrics_endpoint, methods=["GET"]),
            *login_routes(),
            *account_routes(),
            *api_routes(),
            Mount(paths.STATIC, StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            # Outermost: a request's time includes every other middleware's.
            Middleware(RequestMetricsMiddleware),
            Middleware(SecurityHeadersMiddleware, hsts=secure),
            Middleware(
                BrowserCookieMiddleware,
                secure=secure,
                max_age=settings.session_idle_timeout_s,
            ),
            Middleware(RequestBodyLimitMiddleware, max_body_size=MAX_BODY_SIZE),
        ],
        exception_handlers=exception_handlers(hsts=secure),
        lifespan=_lifespan(settings, services, on_setup),
    )


def _lifespan(
    settings: Settings,
    shared: Services | None,
    on_setup: Callable[[SetupResult], None] | None,
) -> Callable[[Starlette], AbstractAsyncContextManager[AppState]]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        if shared is not None:
            async with shared.housekeeping.running(), shared.sender.running():
                yield {"services": shared}
            return
        services, result = await open_services(settings)
        try:
            if on_setup is not None:
                on_setup(result)
            async with services.housekeeping.running(), services.sender.running():
                yield {"services": services}
        finally:
            await services.close()

    return lifespan
