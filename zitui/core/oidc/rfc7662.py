"""Token introspection responses (RFC 7662 §2.2), with ZITADEL's extra claims.

As ZITADEL does, `active: true` goes only to a caller whose project is in the token's
audience (`audience.reaches`, personal access tokens included): an API app cannot learn about
tokens meant for another project.
"""

from __future__ import annotations

from typing import Any

from zitui.core.oidc.bearer import BearerGrant

INACTIVE: dict[str, Any] = {"active": False}


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
