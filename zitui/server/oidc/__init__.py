"""The OpenID Provider's endpoints, at ZITADEL's paths (`zitui.server.paths`)."""

from __future__ import annotations

from starlette.routing import Route

from zitui.server import paths
from zitui.server.oidc.authorize import authorize, callback, end_session
from zitui.server.oidc.discovery import discovery, jwks
from zitui.server.oidc.tokens import introspect, revoke, token, userinfo


def routes() -> list[Route]:
    both = ["GET", "POST"]
    program = ["POST", "OPTIONS"]
    return [
        Route(paths.DISCOVERY, discovery, methods=["GET", "OPTIONS"]),
        Route(paths.KEYS, jwks, methods=["GET", "OPTIONS"]),
        Route(paths.AUTHORIZE, authorize, methods=both),
        Route(paths.AUTHORIZE_CALLBACK, callback, methods=["GET"]),
        Route(paths.TOKEN, token, methods=program),
        Route(paths.INTROSPECT, introspect, methods=program),
        Route(paths.REVOKE, revoke, methods=program),
        Route(paths.USERINFO, userinfo, methods=[*both, "OPTIONS"]),
        Route(paths.END_SESSION, end_session, methods=both),
    ]
