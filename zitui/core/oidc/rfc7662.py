"""Token introspection responses (RFC 7662 §2.2), with ZITADEL's extra claims.

ZITADEL answers `active: true` only to a caller whose project (or client id) is in the
token's audience: an API app cannot learn about tokens meant for another project. Personal
access tokens carry no audience and are answered to any authenticated caller.
"""

from __future__ import annotations

from typing import Any

from zitui.core.oidc.bearer import BearerGrant
from zitui.records import OidcClient

INACTIVE: dict[str, Any] = {"active": False}


def meant_for(grant: BearerGrant, caller: OidcClient) -> bool:
    if grant.personal:
        return True
    return caller.project_id in grant.audience or caller.client_id in grant.audience


def response(grant: BearerGrant, claims: dict[str, Any], *, issuer: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "active": True,
        "scope": grant.scopes.text,
        "client_id": grant.client_id,
        "token_type": "Bearer",
        "iat": int(grant.issued_at.timestamp()),
        "nbf": int(grant.issued_at.timestamp()),
        "iss": issuer,
        "jti": grant.token_id,
    }
    if grant.expires_at is not None:
        body["exp"] = int(grant.expires_at.timestamp())
    if grant.audience:
        body["aud"] = list(grant.audience)
    if "preferred_username" in claims:
        body["username"] = claims["preferred_username"]
    return {**claims, **body}
