"""The landing page and the health and readiness checks."""

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


async def readyz(request: Request) -> Response:
    """200 when this process may take traffic; 503 with the reason when it may not."""
    reason = await get_services(request).instance.readiness()
    if reason is not None:
        return JSONResponse(
            {"status": "unavailable", "reason": reason}, status_code=503, headers=NO_STORE
        )
    return JSONResponse({"status": "ready"}, headers=NO_STORE)
