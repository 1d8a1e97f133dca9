"""The authorization code grant at the token endpoint (RFC 6749 §4.1.3, OIDC Core §3.1.3).

A code is single use: a second redemption fails with `invalid_grant` and revokes every token
issued from it (§4.1.2, §10.5). The code must come from the same client, with the same
redirect URI, and with the PKCE verifier when the request carried a challenge (RFC 7636 §4.6).
"""

from __future__ import annotations

from zitui.core.crypto import tokens
from zitui.core.oidc import acr, rfc7636
from zitui.core.oidc import scopes as sc
from zitui.core.oidc.audience import audience_of
from zitui.core.oidc.errors import GrantReplayed, invalid_grant
from zitui.core.oidc.grant_context import GrantContext
from zitui.core.oidc.issuance import Authorization, TokenResponse
from zitui.core.oidc.scopes import Scopes
from zitui.records import AuthRequestStatus, OidcClient

GRANT_TYPE = "authorization_code"


async def exchange_code(grant: GrantContext, client: OidcClient) -> TokenResponse:
    digest = tokens.digest(grant.required("code"))
    tx, now = grant.tx, grant.now
    code = await tx.auth_requests.find_code(digest)
    request = await tx.auth_requests.find(code.auth_request_id) if code else None
    if code is None or request is None or request.status is not AuthRequestStatus.CODE_ISSUED:
        raise invalid_grant("the code is unknown")
    if code.used_at is not None:
        raise GrantReplayed(request.id, "the code was used already")
    if code.expires_at <= now:
        raise invalid_grant("the code has expired")
    if request.app_id != client.app_id:
        raise invalid_grant("the code was issued to another client")
    redirect_uri = grant.form.get("redirect_uri")
    if redirect_uri is not None and redirect_uri != request.redirect_uri:
        raise invalid_grant("redirect_uri differs from the authorization request's")
    rfc7636.verify(request.code_challenge, grant.form.get("code_verifier", ""))
    if not await tx.auth_requests.use_code(digest, at=now):
        raise GrantReplayed(request.id, "the code was used already")
    user = await grant.active_user(request.user_id)
    scopes = Scopes(request.scopes)
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
        auth_time=request.auth_time,
        amr=request.amr,
        session_id=request.session_id,
        grant_id=request.id,
        nonce=request.nonce,
        # From what the request stored; the code keeps no `acr` of its own. A request linked
        # to a session has its auth_time, whatever `amr` names (none for an external sign-in).
        acr=acr.claim(request.acr_values, request.amr, signed_in=request.auth_time is not None),
    )
    refresh = None
    if sc.OFFLINE_ACCESS in scopes and "refresh_token" in client.grant_types:
        refresh = grant.issuer.next_refresh_token(authorization, now=now, family_id=request.id)
    return await grant.issuer.issue(
        tx, authorization, now=now, id_token=sc.OPENID in scopes, refresh=refresh
    )
