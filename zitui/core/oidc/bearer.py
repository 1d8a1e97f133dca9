"""Resolving a presented access token (RFC 6750) to what it stands for.

Three kinds are accepted wherever an access token is: opaque tokens (found by digest), JWT
access tokens (signature and `exp` checked, then found by `jti` so a revoked one fails), and
machine users' personal access tokens (found by digest in their own table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from joserfc.jwk import KeySet

from zitui.core.crypto import tokens
from zitui.core.crypto.signing import ALG
from zitui.core.oidc import rfc7519
from zitui.core.oidc import scopes as sc
from zitui.core.oidc.scopes import Scopes
from zitui.records import AccessTokenInfo, UserState
from zitui.store import Repositories

# A personal access token acts for its machine user with the user-information scopes.
PAT_SCOPES = (sc.OPENID, sc.PROFILE, sc.EMAIL, sc.PHONE)
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class BearerGrant:
    """A valid access token: whose, for which client and audience, with which scopes."""

    token_id: str
    user_id: str
    client_id: str
    app_id: str | None
    scopes: Scopes
    audience: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None
    session_id: str | None = None
    auth_time: datetime | None = None
    # A personal access token names no projects: its audience is every project this
    # organisation (its machine user's) owns or holds a grant of.
    audience_org: str | None = None


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


async def resolve(
    tx: Repositories, token: str, *, keys: KeySet | None, issuer: str, now: datetime
) -> BearerGrant | None:
    """The grant behind `token`, or None when it is unknown, expired or revoked."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    if looks_like_jwt(token):
        info = await _jwt(tx, token, keys=keys, issuer=issuer, now=now)
        return _live(info, now)
    digest = tokens.digest(token)
    info = await tx.access_tokens.find_by_digest(digest)
    if info is not None:
        return _live(info, now)
    owner = await tx.machines.find_by_pat_digest(digest)
    if owner is None or owner.user_state is not UserState.ACTIVE:
        return None
    if owner.expires_at is not None and owner.expires_at <= now:
        return None
    return BearerGrant(
        token_id=owner.token_id,
        user_id=owner.user_id,
        client_id=owner.user_id,
        app_id=None,
        scopes=Scopes(PAT_SCOPES),
        audience=(),
        issued_at=now,
        expires_at=owner.expires_at,
        audience_org=owner.org_id,
    )


async def find_issued(
    tx: Repositories, token: str, *, keys: KeySet | None, issuer: str, now: datetime
) -> AccessTokenInfo | None:
    """The stored record of an access token this provider issued, live or not (revocation)."""
    if looks_like_jwt(token):
        return await _jwt(tx, token, keys=keys, issuer=issuer, now=now, check_expiry=False)
    return await tx.access_tokens.find_by_digest(tokens.digest(token))


async def _jwt(
    tx: Repositories,
    token: str,
    *,
    keys: KeySet | None,
    issuer: str,
    now: datetime,
    check_expiry: bool = True,
) -> AccessTokenInfo | None:
    if keys is None:
        return None
    claims = rfc7519.decode(token, keys, algorithms=[ALG])
    if claims is None:
        return None
    exp, jti = claims.get("exp"), claims.get("jti")
    if claims.get("iss") != issuer or not isinstance(jti, str) or not isinstance(exp, int):
        return None
    if check_expiry and exp <= now.timestamp():
        return None
    return await tx.access_tokens.find(jti)


def _live(info: AccessTokenInfo | None, now: datetime) -> BearerGrant | None:
    if info is None or info.revoked_at is not None or info.expires_at <= now:
        return None
    return BearerGrant(
        token_id=info.id,
        user_id=info.user_id,
        client_id=info.client_id,
        app_id=info.app_id,
        scopes=Scopes(info.scopes),
        audience=info.audience,
        issued_at=info.created_at,
        expires_at=info.expires_at,
        session_id=info.session_id,
        auth_time=info.auth_time,
    )
