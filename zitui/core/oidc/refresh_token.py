"""The refresh token grant (RFC 6749 §6) with rotation.

Every refresh token is single use: the response carries its successor in the same family.
Presenting a rotated token again is a replay (OAuth 2.0 Security BCP §4.14.2): the whole
family and its access tokens are revoked. A family ends at its absolute expiry however often
it rotates, and a token unused for the idle lifetime expires (ZITADEL: 90 and 30 days).
A refresh may narrow the scope, never widen it (§6).
"""

from __future__ import annotations

from dataclasses import replace

from zitui.core.crypto import tokens
from zitui.core.oidc import scopes as sc
from zitui.core.oidc.audience import audience_of
from zitui.core.oidc.errors import GrantReplayed, invalid_grant, invalid_scope
from zitui.core.oidc.grant_context import GrantContext
from zitui.core.oidc.issuance import Authorization, TokenResponse
from zitui.core.oidc.scopes import Scopes
from zitui.records import OidcClient

GRANT_TYPE = "refresh_token"


async def refresh(grant: GrantContext, client: OidcClient) -> TokenResponse:
    tx, now = grant.tx, grant.now
    token = await tx.refresh_tokens.find_by_digest(tokens.digest(grant.required("refresh_token")))
    if token is None or token.app_id != client.app_id:
        raise invalid_grant("the refresh token is unknown")
    if token.revoked_at is not None:
        raise invalid_grant("the refresh token was revoked")
    if token.rotated_at is not None:
        raise GrantReplayed(token.family_id, "the refresh token was used already")
    if min(token.idle_expires_at, token.absolute_expires_at) <= now:
        raise invalid_grant("the refresh token has expired")
    scopes = Scopes(token.scopes)
    if "scope" in grant.form:
        asked = grant.requested_scopes()
        if not set(asked.values) <= set(token.scopes):
            raise invalid_scope("a refresh cannot add scopes")
        scopes = asked
    if not await tx.refresh_tokens.rotate(token.id, at=now):
        raise GrantReplayed(token.family_id, "the refresh token was used already")
    user = await grant.active_user(token.user_id)
    audience = await audience_of(
        tx, client=client, user=user, scopes=scopes, api_audience=grant.issuer.issuer
    )
    authorization = Authorization(
        user=user,
        client_id=client.client_id,
        app=client,
        scopes=scopes,
        audience=audience.values,
        projects=audience.projects,
        token_type=client.access_token_type,
        auth_time=token.auth_time,
        amr=token.amr,
        session_id=token.session_id,
        grant_id=token.family_id,
    )
    # The successor keeps the family's scope, so a narrowed refresh can widen again later.
    successor = grant.issuer.next_refresh_token(
        replace(authorization, scopes=Scopes(token.scopes)),
        now=now,
        family_id=token.family_id,
        absolute_expires_at=token.absolute_expires_at,
    )
    return await grant.issuer.issue(
        tx, authorization, now=now, id_token=sc.OPENID in scopes, refresh=successor
    )
