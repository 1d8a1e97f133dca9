"""Provider metadata (OIDC Discovery 1.0 §3, RFC 8414 §2) and the JWKS (RFC 7517 §5).

Only members the conformance suite's schema knows are listed (an unknown member is a
warning), and each says what zitui really does: `request_parameter_supported` and
`request_uri_parameter_supported` are false explicitly (the latter defaults to true), and
`authorization_response_iss_parameter_supported` is true because every authorization
response, errors included, carries `iss` (RFC 9207). The response and grant types are the
served ones (`zitui/core/oidc/served.py`), which are also all an app can be set up with.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zitui.core.crypto.signing import ALG
from zitui.core.oidc import acr, claims, rfc7636, scopes, served
from zitui.core.oidc.responses import RESPONSE_MODES
from zitui.i18n import SUPPORTED_LOCALES
from zitui.server import paths
from zitui.server.oidc.common import CORS, CORS_PREFLIGHT
from zitui.server.state import get_services

# ZITADEL's JWKS max-age; discovery changes only with a new release or issuer.
KEYS_CACHE = "public, max-age=300"
DISCOVERY_CACHE = "public, max-age=3600"
CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


def metadata(issuer: str) -> dict[str, Any]:
    def url(path: str) -> str:
        return issuer + path

    return {
        "issuer": issuer,
        "authorization_endpoint": url(paths.AUTHORIZE),
        "token_endpoint": url(paths.TOKEN),
        "introspection_endpoint": url(paths.INTROSPECT),
        "userinfo_endpoint": url(paths.USERINFO),
        "revocation_endpoint": url(paths.REVOKE),
        "end_session_endpoint": url(paths.END_SESSION),
        "jwks_uri": url(paths.KEYS),
        "scopes_supported": list(scopes.SUPPORTED),
        "response_types_supported": list(served.RESPONSE_TYPES),
        "response_modes_supported": list(RESPONSE_MODES),
        "grant_types_supported": list(served.GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALG],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH,
        "token_endpoint_auth_signing_alg_values_supported": [ALG],
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "claims_supported": list(claims.SUPPORTED),
        "acr_values_supported": list(acr.SUPPORTED),
        "code_challenge_methods_supported": list(rfc7636.METHODS),
        "ui_locales_supported": list(SUPPORTED_LOCALES),
        "prompt_values_supported": ["none", "login", "select_account", "create"],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


async def discovery(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS_PREFLIGHT)
    issuer = get_services(request).settings.issuer
    return JSONResponse(metadata(issuer), headers={**CORS, "Cache-Control": DISCOVERY_CACHE})


async def jwks(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS_PREFLIGHT)
    keys = await get_services(request).keys.jwks()
    return JSONResponse(keys, headers={**CORS, "Cache-Control": KEYS_CACHE})
