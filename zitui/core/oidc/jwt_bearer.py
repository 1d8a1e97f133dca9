"""The JWT bearer grant (RFC 7523 §2.1): ZITADEL's "JWT profile" for machine users.

The assertion is signed with a machine key from the key file ZITADEL hands out
(`{"type": "serviceaccount", "keyId", "key", "userId"}`): header `kid` = keyId, and
`iss` = `sub` = userId, `aud` = the issuer, `exp` at most an hour away (rfc7523.py has
every rule). No client authentication is needed: the assertion is the credential.
"""

from __future__ import annotations

from zitui.core.oidc import rfc7523
from zitui.core.oidc.client_credentials import issue_for_machine
from zitui.core.oidc.errors import invalid_grant
from zitui.core.oidc.grant_context import GrantContext
from zitui.core.oidc.issuance import PreparedTokens

GRANT_TYPE = rfc7523.GRANT_TYPE


async def jwt_bearer(grant: GrantContext) -> tuple[PreparedTokens, rfc7523.UsedAssertion | None]:
    """The tokens, prepared in the grant's read snapshot, and the assertion's `jti` if it has
    one: the token service spends it in the write transaction that stores the tokens."""
    assertion = rfc7523.read(grant.required("assertion"), error="invalid_grant")
    key = await grant.tx.machines.find_key(assertion.kid)
    if key is None:
        raise invalid_grant("unknown key")
    used = rfc7523.verify(
        assertion,
        key.public_key_pem,
        error="invalid_grant",
        expected_subject=key.user_id,
        expected_audiences=frozenset({grant.issuer.issuer, grant.endpoint}),
        now=grant.now,
        key_expires_at=key.expires_at,
    )
    user = await grant.active_user(key.user_id)
    return await issue_for_machine(grant, user, scopes=grant.requested_scopes()), used
