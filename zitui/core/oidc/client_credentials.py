"""The client credentials grant (RFC 6749 §4.4) for machine users with a client secret.

As in ZITADEL, the client is the machine user itself: `client_id` is its username (or
`username@org-domain`), the secret comes by Basic auth or in the form. No refresh token and
no ID token: no end user signed in.
"""

from __future__ import annotations

from zitui.core.crypto import tokens
from zitui.core.oidc import scopes as sc
from zitui.core.oidc.audience import audience_of
from zitui.core.oidc.client_auth import BasicCredentials
from zitui.core.oidc.errors import invalid_client, invalid_scope
from zitui.core.oidc.grant_context import GrantContext
from zitui.core.oidc.issuance import Authorization, PreparedTokens
from zitui.core.oidc.scopes import Scopes
from zitui.records import User, UserState

GRANT_TYPE = "client_credentials"


async def client_credentials(grant: GrantContext, basic: BasicCredentials | None) -> PreparedTokens:
    form = grant.form
    client_id = basic.client_id if basic else form.get("client_id", "")
    secret = basic.secret if basic else form.get("client_secret", "")
    found = await grant.tx.machines.find_secret(client_id) if client_id and secret else None
    if found is None or not tokens.equal(tokens.digest(secret), found.secret_digest):
        raise invalid_client("unknown machine user or wrong secret", basic=basic is not None)
    if found.user.state is not UserState.ACTIVE:
        raise invalid_client("the machine user is not active", basic=basic is not None)
    return await issue_for_machine(grant, found.user, scopes=grant.requested_scopes())


async def issue_for_machine(grant: GrantContext, user: User, *, scopes: Scopes) -> PreparedTokens:
    """An access token for an active machine user acting as itself (this grant and the JWT
    profile), prepared in the grant's read snapshot; the token service stores it."""
    if sc.OFFLINE_ACCESS in scopes:
        raise invalid_scope("machine grants issue no refresh tokens")
    audience = await audience_of(
        grant.tx, client=None, user=user, scopes=scopes, api_audience=grant.issuer.issuer
    )
    authorization = Authorization(
        user=user,
        client_id=user.id,
        app=None,
        scopes=scopes,
        audience=audience.values,
        projects=audience.projects,
        token_type=user.access_token_type,
    )
    return await grant.issuer.prepare(grant.tx, authorization, now=grant.now, id_token=False)
