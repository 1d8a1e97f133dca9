"""Token revocation (RFC 7009 §2.1).

A client revokes only its own tokens; anything else, unknown tokens included, is answered
with success and changes nothing (§2.2), so the endpoint reveals nothing. Revoking a refresh
token revokes its whole family and the access tokens issued with it (§2.1: "SHOULD also
invalidate all access tokens based on the same authorization grant").
"""

from __future__ import annotations

from datetime import datetime

from joserfc.jwk import KeySet

from zitui.core.crypto import tokens
from zitui.core.oidc.bearer import find_issued
from zitui.records import OidcClient
from zitui.store import Repositories


async def revoke(
    tx: Repositories,
    token: str,
    *,
    client: OidcClient,
    hint: str,
    keys: KeySet | None,
    issuer: str,
    now: datetime,
) -> None:
    """Revoke `token` if `client` owns it; `hint` only changes which kind is tried first."""
    if hint == "refresh_token":
        await _refresh_token(tx, token, client, now) or await _access_token(
            tx, token, client, keys=keys, issuer=issuer, now=now
        )
    else:
        await _access_token(tx, token, client, keys=keys, issuer=issuer, now=now) or (
            await _refresh_token(tx, token, client, now)
        )


async def _refresh_token(tx: Repositories, token: str, client: OidcClient, now: datetime) -> bool:
    found = await tx.refresh_tokens.find_by_digest(tokens.digest(token))
    if found is None:
        return False
    if found.app_id == client.app_id:
        await tx.refresh_tokens.revoke_family(found.family_id, at=now)
        await tx.access_tokens.revoke_for_grant(found.family_id, at=now)
    return True


async def _access_token(
    tx: Repositories,
    token: str,
    client: OidcClient,
    *,
    keys: KeySet | None,
    issuer: str,
    now: datetime,
) -> bool:
    found = await find_issued(tx, token, keys=keys, issuer=issuer, now=now)
    if found is None:
        return False
    if found.app_id == client.app_id:
        await tx.access_tokens.revoke(found.id, at=now)
    return True
