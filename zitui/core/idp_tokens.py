"""ID tokens from external OpenID providers, checked without the network (OpenID Connect
Core 1.0 §3.1.3.7), and the client secret JWT Apple asks its clients to sign.

`verify_id_token` is a pure function of the token, the provider's keys, what the login
expects and the time, so every refusal can be tested with tokens made for the purpose.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from zitui.core.oidc import rfc7519
from zitui.errors import PreconditionFailed, Unauthenticated

# Asymmetric algorithms only: `none` and HS* (keyed with the client secret) are refused.
# joserfc spells EdDSA over Ed25519 `Ed25519` (RFC 9864).
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "Ed25519",
)
LEEWAY = timedelta(seconds=60)
APPLE_AUDIENCE = "https://appleid.apple.com"
APPLE_SECRET_LIFETIME = timedelta(minutes=5)
# Entra ID's multi-tenant endpoints (common, organizations, consumers) issue tokens in the
# name of the user's own tenant: the issuer names the token's `tid`.
_ENTRA_ISSUER = "https://login.microsoftonline.com/{tid}/v2.0"
_TENANT_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def key_known(id_token: str, keys: KeySet) -> bool:
    """Whether `keys` hold the key the token names (`kid`); False sends the caller to fetch
    the provider's keys once more (they rotate). A token without `kid` needs no refetch."""
    try:
        kid = rfc7519.parse(id_token).header.get("kid")
    except rfc7519.Malformed:
        return True  # refused by `verify_id_token`; new keys would not help
    if not isinstance(kid, str):
        return True
    try:
        keys.get_by_kid(kid)
    except (JoseError, ValueError):
        return False
    return True


def verify_id_token(
    id_token: str,
    keys: KeySet,
    *,
    expected_issuers: Collection[str],
    expected_audience: str,
    expected_nonce: str,
    now: datetime,
    any_entra_tenant: bool = False,
    leeway: timedelta = LEEWAY,
) -> dict[str, Any]:
    """The token's claims once every check of §3.1.3.7 passes.

    Raises Unauthenticated `idp.token_invalid` (malformed, signature, audience, `azp`, time),
    `idp.issuer_mismatch`, `idp.nonce_mismatch` or `idp.subject_missing`.
    `any_entra_tenant`: the issuer must be Entra ID's for the token's own `tid` instead
    of one of `expected_issuers`."""
    claims = rfc7519.decode(id_token, keys, algorithms=ALGORITHMS)
    if claims is None:
        raise Unauthenticated(
            "idp.token_invalid", "the ID token is malformed or its signature is not valid"
        )
    _check_issuer(claims, expected_issuers, any_entra_tenant)
    _check_audience(claims, expected_audience)
    _check_times(claims, now, leeway)
    nonce = claims.get("nonce")
    if (
        not expected_nonce
        or not isinstance(nonce, str)
        or not hmac.compare_digest(nonce.encode(), expected_nonce.encode())
    ):
        raise Unauthenticated("idp.nonce_mismatch", "the ID token is not for this sign-in")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 255:
        raise Unauthenticated("idp.subject_missing", "the ID token names no user")
    return claims


def entra_issuer(claims: dict[str, Any]) -> str:
    """The issuer Entra ID writes for the token's tenant, or "" when `tid` is no tenant id."""
    tid = claims.get("tid")
    if not isinstance(tid, str) or not _TENANT_ID.match(tid):
        return ""
    return _ENTRA_ISSUER.format(tid=tid)


def _check_issuer(claims: dict[str, Any], expected: Collection[str], any_tenant: bool) -> None:
    issuer = claims.get("iss")
    if any_tenant:
        expected = (entra_issuer(claims),)
    if not isinstance(issuer, str) or not issuer or issuer not in expected:
        raise Unauthenticated("idp.issuer_mismatch", "the ID token was issued by another provider")


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise Unauthenticated("idp.token_invalid", "the ID token is meant for another client")
    azp = claims.get("azp")
    # §3.1.3.7 (4, 5): with several audiences, the party it was issued to must be us.
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise Unauthenticated("idp.token_invalid", "the ID token was issued to another client")


def _check_times(claims: dict[str, Any], now: datetime, leeway: timedelta) -> None:
    expires = rfc7519.numeric_date(claims.get("exp"))
    issued = rfc7519.numeric_date(claims.get("iat"))
    at = now.timestamp()
    if expires is None or issued is None:
        raise Unauthenticated("idp.token_invalid", "the ID token has no exp or iat")
    if expires <= at - leeway.total_seconds():
        raise Unauthenticated("idp.token_invalid", "the ID token has expired")
    if issued > at + leeway.total_seconds():
        raise Unauthenticated("idp.token_invalid", "the ID token was issued in the future")


def apple_client_secret(
    private_key_pem: str, *, team_id: str, key_id: str, client_id: str, now: datetime
) -> str:
    """The client secret Apple's token endpoint takes: a short-lived ES256 JWT signed with
    the team's key (`.p8`), issued by the team for the Services ID. Raises
    PreconditionFailed `idp.apple_key_invalid` when the stored key is no P-256 key."""
    try:
        key = ECKey.import_key(private_key_pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise PreconditionFailed(
            "idp.apple_key_invalid", "the stored Apple key is not a PEM private key"
        ) from exc
    if key.curve_name != "P-256" or not key.is_private:
        raise PreconditionFailed(
            "idp.apple_key_invalid", "the stored Apple key is not a P-256 private key"
        )
    issued = int(now.timestamp())
    claims = {
        "iss": team_id,
        "iat": issued,
        "exp": issued + int(APPLE_SECRET_LIFETIME.total_seconds()),
        "aud": APPLE_AUDIENCE,
        "sub": client_id,
    }
    header = {"alg": "ES256", "kid": key_id}
    return jwt.encode(header, claims, key, algorithms=["ES256"])
