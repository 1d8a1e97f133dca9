"""The `metrics_listen` address: /metrics served beside the main listener, in the same loop.

The socket is bound before anything runs (with the main one, by the parent of `--workers`,
whose workers all accept on it: any of them answers with every worker's figures).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from zitui.config import Settings
from zitui.core.services import Services


def bind_metrics_socket(settings: Settings) -> socket.socket | None:
    """The metrics address bound now, or None when none is configured."""
    from zitui.runner import bind_address

    return bind_address(settings.metrics_listen) if settings.metrics_listen else None


@asynccontextmanager
async def serving_metrics(
    settings: Settings, services: Services, sock: socket.socket | None
) -> AsyncIterator[None]:
    """Serve /metrics on `sock` for the duration of the block (nothing when it is None)."""
    if sock is None:
        yield
        return
    from zitui.runner import EmbeddedServer
    from zitui.server.metrics import create_metrics_app

    config = uvicorn.Config(
        create_metrics_app(settings, services),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="zitui-metrics")
    try:
        yield
    finally:
        server.should_exit = True
        await task
