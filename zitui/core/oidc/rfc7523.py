"""JWT assertions (RFC 7523): service-account grants (§2.1) and client authentication (§2.2).

Both are a JWT signed with a key whose public half the store keeps: a machine key for the
`urn:ietf:params:oauth:grant-type:jwt-bearer` grant (ZITADEL's JWT profile: `iss` = `sub` =
user id), an application key for `private_key_jwt` (`iss` = `sub` = client id). §3 lists the
checks. Beyond them, as ZITADEL and draft-ietf-oauth-rfc7523bis ask: an assertion lives at
most one hour, and `aud` is one value (a string or an array of one) naming this server. A
`jti` is optional (ZITADEL's key-file assertions carry none); one that is present is spent by
the request the assertion authenticates and refused until the assertion expires (§3 item 7).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import RSAKey

from zitui.core.oidc import rfc7519
from zitui.core.oidc.errors import OAuthError
from zitui.store import Repositories

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
MAX_LIFETIME = timedelta(hours=1)
SKEW = timedelta(seconds=30)
MAX_ASSERTION_LENGTH = rfc7519.MAX_LENGTH


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


@dataclass(frozen=True)
class UsedAssertion:
    """What marks a verified assertion with a `jti` as used: SHA-256 of its issuer and `jti`,
    kept until the assertion can no longer be accepted."""

    digest: str
    expires_at: datetime


def read(value: str, *, error: str) -> Assertion:
    """Split an assertion to find its key; nothing in it is trusted yet."""
    try:
        parsed = rfc7519.parse(value)
    except rfc7519.Malformed as exc:
        raise OAuthError(error, "the assertion is not a signed JWT") from exc
    kid = parsed.header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise OAuthError(error, "the assertion needs a kid header")
    return Assertion(kid=kid, claims=parsed.claims, value=value)


def verify(
    assertion: Assertion,
    public_key_pem: str,
    *,
    error: str,
    expected_subject: str,
    expected_audiences: frozenset[str],
    now: datetime,
    key_expires_at: datetime | None,
) -> UsedAssertion | None:
    """RFC 7523 §3: signature, `iss` = `sub` = the key's owner, `aud`, `exp`, `nbf`, `iat`,
    and a lifetime of one hour at most. Raises OAuthError(`error`) naming the first failed
    check. Returns what marks the assertion used when it has a `jti`: the caller spends it
    (`spend`) in the write transaction of the request it authenticates."""
    if key_expires_at is not None and key_expires_at <= now:
        raise OAuthError(error, "the key has expired")
    key = RSAKey.import_key(public_key_pem)
    if not rfc7519.signed_by(assertion.value, key, algorithms=ALGORITHMS):
        raise OAuthError(error, "the assertion's signature does not verify")
    claims = assertion.claims
    if claims.get("iss") != expected_subject or claims.get("sub") != expected_subject:
        raise OAuthError(error, "iss and sub must both name the key's owner")
    if not _names_this_server(claims.get("aud"), expected_audiences):
        raise OAuthError(error, "aud must be the issuer, alone")
    expires = _check_times(claims, now=now, error=error)
    return _used(expected_subject, claims, expires=expires, error=error)


async def spend(tx: Repositories, used: UsedAssertion | None, *, now: datetime) -> bool:
    """Record the assertion's `jti` as used; False when it already was (§3 item 7). The
    store's primary key decides, so two requests racing with one assertion cannot both win."""
    if used is None:
        return True
    return await tx.used_assertions.add(used.digest, expires_at=used.expires_at, now=now)


def _names_this_server(audience: object, expected: frozenset[str]) -> bool:
    """§3 item 3: `aud` identifies this server: one of `expected`, as a string or the only
    element of an array (more values would let one assertion serve other servers too)."""
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    return isinstance(audience, str) and audience in expected


def _check_times(claims: dict[str, Any], *, now: datetime, error: str) -> float:
    """`exp` (required), `nbf` and `iat` as NumericDates; the lifetime is `exp - iat`, or
    `exp - now` without `iat`. Returns `exp`."""
    stamp, skew = now.timestamp(), SKEW.total_seconds()
    exp = rfc7519.numeric_date(claims.get("exp"))
    if exp is None:
        raise OAuthError(error, "exp must be a NumericDate")
    if exp <= stamp - skew:
        raise OAuthError(error, "the assertion has expired")
    dates: dict[str, float] = {}
    for name in ("nbf", "iat"):
        if name in claims:
            value = rfc7519.numeric_date(claims[name])
            if value is None:
                raise OAuthError(error, f"{name} must be a NumericDate")
            dates[name] = value
    if dates.get("nbf", stamp) > stamp + skew:
        raise OAuthError(error, "the assertion is not valid yet")
    if dates.get("iat", stamp) > stamp + skew:
        raise OAuthError(error, "the assertion was issued in the future")
    if exp - dates.get("iat", stamp) > MAX_LIFETIME.total_seconds() + skew:
        raise OAuthError(error, "the assertion may live at most one hour")
    return exp


def _used(
    issuer: str, claims: dict[str, Any], *, expires: float, error: str
) -> UsedAssertion | None:
    if "jti" not in claims:
        return None
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise OAuthError(error, "jti must be a non-empty string")
    # The issuer is one of this store's ids, which hold no NUL: the pair cannot be confused.
    text = f"{issuer}\x00{jti}".encode("utf-8", "surrogatepass")
    return UsedAssertion(
        digest=hashlib.sha256(text).hexdigest(),
        expires_at=datetime.fromtimestamp(expires, UTC) + SKEW,  # accepted until then
    )
