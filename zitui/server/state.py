"""The typed lifespan state that routes read through `request.state`."""

from __future__ import annotations

from typing import TypedDict, cast

from starlette.requests import HTTPConnection

from zitui.core.services import Services


class AppState(TypedDict):
    services: Services


def get_services(conn: HTTPConnection) -> Services:
    return cast(Services, conn.state.services)
