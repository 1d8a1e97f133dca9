"""The programs' endpoints: token, introspection, revocation and userinfo.

Each parses the request, calls `services.tokens` once and answers JSON that no cache keeps.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zitui import metrics
from zitui.core.oidc.errors import OAuthError, invalid_request
from zitui.server import paths
from zitui.server.oidc.common import (
    CORS,
    NO_STORE,
    bearer_challenge,
    client_request,
    context,
    form_fields,
    json_response,
    oauth_endpoint,
)
from zitui.server.state import get_services


@oauth_endpoint
async def token(request: Request) -> Response:
    """RFC 6749 §3.2."""
    services = get_services(request)
    asked = await client_request(request, paths.TOKEN)
    body = await services.tokens.token(context(request), asked)
    # Only a grant type the service knows gets this far: the label set stays small.
    metrics.count_token(asked.form.get("grant_type", ""))
    return json_response(body)


@oauth_endpoint
async def introspect(request: Request) -> Response:
    """RFC 7662 §2.1."""
    services = get_services(request)
    found = await services.tokens.introspect(
        context(request), await client_request(request, paths.INTROSPECT)
    )
    return json_response(found)


@oauth_endpoint
async def revoke(request: Request) -> Response:
    """RFC 7009 §2.1: 200 with an empty body, whether or not the token was known."""
    services = get_services(request)
    await services.tokens.revoke(context(request), await client_request(request, paths.REVOKE))
    return Response(status_code=200, headers={**NO_STORE, **CORS})


@oauth_endpoint
async def userinfo(request: Request) -> Response:
    """OIDC Core §5.3.1 by GET or POST; the token in the header or the form body (RFC 6750
    §2.1-2.2), never both. Without any token: 401 and a bare Bearer challenge (§3.1)."""
    access_token = await _bearer_token(request)
    if not access_token:
        headers = {**NO_STORE, **CORS, "WWW-Authenticate": bearer_challenge(None)}
        return Response(status_code=401, headers=headers)
    claims = await get_services(request).tokens.userinfo(context(request), access_token)
    return json_response(claims)


async def _bearer_token(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    in_header = value.strip() if scheme.lower() == "bearer" else ""
    in_body = ""
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        in_body = (await form_fields(request)).get("access_token", "")
    if in_header and in_body:
        raise _with_challenge(invalid_request("send the access token one way only"))
    return in_header or in_body


def _with_challenge(error: OAuthError) -> OAuthError:
    error.challenge = "Bearer"
    return error
