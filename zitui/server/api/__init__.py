"""The account JSON API under /auth/v1, its OpenAPI document and its reference page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from zitui.server import paths
from zitui.server.api.openapi import openapi_document
from zitui.server.api.operations import CORS
from zitui.server.api.reference import api_reference
from zitui.server.api.routes import OPERATIONS
from zitui.server.state import get_services

# Browsers ask before sending `Authorization` from another origin (Fetch, CORS preflight).
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=PREFLIGHT)


async def openapi(request: Request) -> Response:
    document = openapi_document(get_services(request).settings.issuer)
    return JSONResponse(document, headers=CORS)


def routes() -> list[BaseRoute]:
    return [
        Route(paths.OPENAPI, openapi, methods=["GET"]),
        Route(paths.API_REFERENCE, api_reference, methods=["GET"]),
        *(operation.route() for operation in OPERATIONS),
        *(Route(path, preflight, methods=["OPTIONS"]) for path in {o.path for o in OPERATIONS}),
    ]
