"""/metrics in Prometheus text format, request latency per route, and the metrics listener.

/metrics is never open on the public listener: with `metrics_token` set it answers there only
to `Authorization: Bearer <token>`; otherwise it answers 404 there, and `metrics_listen` serves
it on an address of its own (for a scraper on the host or a private network).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zitui import metrics
from zitui.config import Settings
from zitui.core.services import Services
from zitui.server import paths
from zitui.server.state import AppState, get_services

NO_STORE = {"Cache-Control": "no-store"}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="metrics"', **NO_STORE}


class RequestMetricsMiddleware:
    """Time every HTTP request under its route's template (`/oauth/v2/token`,
    `/ui/login/…/{id}`), never its raw path: unknown paths would make a series each."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            metrics.observe_request(
                route_template(scope), scope["method"], status, time.perf_counter() - started
            )


def route_template(scope: Scope) -> str:
    """The path template of the route the router chose (it leaves it in the scope)."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    if isinstance(route, Route):
        return route.path
    return metrics.UNMATCHED


async def metrics_endpoint(request: Request) -> Response:
    """/metrics on the public listener: only with the configured bearer token."""
    settings = get_services(request).settings
    if not settings.metrics_token:
        raise HTTPException(status_code=404)
    return await _answer(request, settings.metrics_token)


async def _answer(request: Request, token: str) -> Response:
    if token and not _bearer_matches(request, token):
        raise HTTPException(status_code=401, headers=BEARER_CHALLENGE)
    services = get_services(request)
    body = metrics.exposition(await _store_families(services))
    return Response(body, media_type=metrics.CONTENT_TYPE, headers=NO_STORE)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


async def _store_families(services: Services) -> list[Metric]:
    """What the store holds, read at each scrape: the outbox's unsent messages."""
    outbox = await services.activity.count_outbox()
    family = GaugeMetricFamily(
        "zitui_outbox_messages", "Outbox messages not sent yet, by state", labels=["state"]
    )
    family.add_metric(["pending"], outbox.pending)
    family.add_metric(["failed"], outbox.failed)
    return [family]


def create_metrics_app(settings: Settings, services: Services) -> Starlette:
    """The app of the `metrics_listen` address: /metrics (with the token too, when one is
    set) and nothing else."""

    async def serve_metrics(request: Request) -> Response:
        return await _answer(request, settings.metrics_token)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[AppState]:
        yield {"services": services}

    return Starlette(
        routes=[Route(paths.METRICS, serve_metrics, methods=["GET"])],
        lifespan=lifespan,
    )
