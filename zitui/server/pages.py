"""The landing page and the health check."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zitui.server import paths
from zitui.server.rendering import render
from zitui.server.state import get_services

log = logging.getLogger("zitui.server")
NO_STORE = {"Cache-Control": "no-store"}


async def index(request: Request) -> Response:
    settings = get_services(request).settings
    return render(request, "index.html", {"issuer": settings.issuer, "discovery": paths.DISCOVERY})


async def healthz(request: Request) -> Response:
    try:
        await get_services(request).instance.check_ready()
    except Exception:
        # Whatever the store raises, the answer is "not ready"; the reason goes to the log.
        log.warning("health check failed", exc_info=True)
        return JSONResponse({"status": "unavailable"}, status_code=503, headers=NO_STORE)
    return JSONResponse({"status": "ok"}, headers=NO_STORE)
