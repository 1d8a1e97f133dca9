"""JWT assertions (RFC 7523): service-account grants (§2.1) and client authentication (§2.2).

Both are a JWT signed with a key whose public half the store keeps: a machine key for the
`urn:ietf:params:oauth:grant-type:jwt-bearer` grant (ZITADEL's JWT profile: `iss` = `sub` =
user id), an application key for `private_key_jwt` (`iss` = `sub` = client id). §3 lists the
checks; ZITADEL adds that an assertion lives at most one hour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from zitui.core.oidc.errors import OAuthError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
MAX_LIFETIME = timedelta(hours=1)
SKEW = timedelta(seconds=30)
MAX_ASSERTION_LENGTH = 8192


@dataclass(frozen=True)
class Assertion:
    """An assertion's header and claims, read before its signature is checked."""

    kid: str
    claims: dict[str, Any]
    value: str

    @property
    def issuer(self) -> str:
        value = self.claims.get("iss")
        return value if isinstance(value, str) else ""


def read(value: str, *, error: str) -> Assertion:
    """Split an assertion to find its key; nothing in it is trusted yet."""
    if not value or len(value) > MAX_ASSERTION_LENGTH or value.count(".") != 2:
        raise OAuthError(error, "the assertion is not a signed JWT")
    try:
        compact = jws.extract_compact(value.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError) as exc:
        raise OAuthError(error, "the assertion is not a signed JWT") from exc
    kid = compact.protected.get("kid")
    if not isinstance(claims, dict) or not isinstance(kid, str) or not kid:
        raise OAuthError(error, "the assertion needs a kid header and a JSON claims set")
    return Assertion(kid=kid, claims=claims, value=value)


def verify(
    assertion: Assertion,
    public_key_pem: str,
    *,
    error: str,
    expected_subject: str,
    expected_audiences: frozenset[str],
    now: datetime,
    key_expires_at: datetime | None,
) -> dict[str, Any]:
    """RFC 7523 §3: signature, `iss` = `sub` = the key's owner, `aud`, `exp` (≤ 1 h away),
    `nbf` and `iat`. Raises OAuthError(`error`) naming the first failed check."""
    if key_expires_at is not None and key_expires_at <= now:
        raise OAuthError(error, "the key has expired")
    try:
        key = RSAKey.import_key(public_key_pem)
        jws.deserialize_compact(assertion.value, key, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError) as exc:
        raise OAuthError(error, "the assertion's signature does not verify") from exc
    claims = assertion.claims
    if claims.get("iss") != expected_subject or claims.get("sub") != expected_subject:
        raise OAuthError(error, "iss and sub must both name the key's owner")
    audience = claims.get("aud")
    audiences = {audience} if isinstance(audience, str) else set()
    if isinstance(audience, list):
        audiences = {value for value in audience if isinstance(value, str)}
    if not audiences & expected_audiences:
        raise OAuthError(error, "aud must be the issuer")
    _check_times(claims, now=now, error=error)
    return claims


def _check_times(claims: dict[str, Any], *, now: datetime, error: str) -> None:
    stamp, skew = now.timestamp(), SKEW.total_seconds()
    exp = _seconds(claims.get("exp"))
    if exp is None or exp <= stamp - skew:
        raise OAuthError(error, "the assertion has expired or has no exp")
    if exp > stamp + MAX_LIFETIME.total_seconds() + skew:
        raise OAuthError(error, "the assertion may live at most one hour")
    for name, message in (("nbf", "is not valid yet"), ("iat", "was issued in the future")):
        value = claims.get(name)
        if value is None:
            continue
        seconds = _seconds(value)
        if seconds is None or seconds > stamp + skew:
            raise OAuthError(error, f"the assertion {message}")


def _seconds(value: object) -> float | None:
    """A NumericDate (RFC 7519 §2), or None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
