"""Issuing tokens: access tokens (opaque, or RFC 9068 JWTs), refresh tokens and ID tokens.

ID token claims follow OIDC Core §2 and ZITADEL: `iss sub aud exp iat auth_time amr azp sid`,
`nonce` when one was sent, `acr` when the request asked `acr_values` zitui knows (`acr.py`;
a refreshed ID token has none, since refresh tokens keep no `acr_values`), and `at_hash`
(§3.1.3.6). Profile, email and phone claims stay in userinfo unless the app sets
`id_token_userinfo_assertion` (§5.4: claims go to userinfo when an access token is issued);
the roles claim is added with `id_token_role_assertion`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt

from zitui.config import Settings
from zitui.core.crypto import tokens
from zitui.core.crypto.signing import ALG, PrivateSigningKey
from zitui.core.ids import new_id
from zitui.core.oidc import claims as cl
from zitui.core.oidc import scopes as sc
from zitui.core.oidc.scopes import Scopes
from zitui.records import (
    AccessTokenInfo,
    OidcClient,
    RefreshTokenInfo,
    TokenType,
    User,
)
from zitui.store import Repositories

ACCESS_TOKEN_BYTES = 32
REFRESH_TOKEN_BYTES = 32


@dataclass(frozen=True)
class Lifetimes:
    access_token: timedelta
    id_token: timedelta
    refresh_idle: timedelta
    refresh_absolute: timedelta
    auth_code: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Lifetimes:
        return cls(
            access_token=timedelta(seconds=settings.access_token_lifetime_s),
            id_token=timedelta(seconds=settings.id_token_lifetime_s),
            refresh_idle=timedelta(seconds=settings.refresh_token_idle_lifetime_s),
            refresh_absolute=timedelta(seconds=settings.refresh_token_absolute_lifetime_s),
            auth_code=timedelta(seconds=settings.auth_code_lifetime_s),
        )


@dataclass(frozen=True)
class Authorization:
    """Who let which client act for whom, with what: the input of every token issued."""

    user: User
    client_id: str
    app: OidcClient | None  # None for a machine user's own grant
    scopes: Scopes
    audience: tuple[str, ...]
    projects: tuple[str, ...]  # the projects of the audience, for the roles claims
    token_type: TokenType
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    session_id: str | None = None
    grant_id: str | None = None  # the authorization request: the family of its tokens
    nonce: str = ""
    acr: str = ""  # the ID token's `acr`; "" leaves the claim out


@dataclass(frozen=True)
class TokenResponse:
    """RFC 6749 §5.1 (and OIDC Core §3.1.3.3 with an ID token)."""

    access_token: str
    expires_in: int
    scope: str
    id_token: str | None = None
    refresh_token: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        if self.id_token:
            body["id_token"] = self.id_token
        return body


@dataclass(frozen=True)
class PreparedTokens:
    """Tokens made and signed by `TokenIssuer.prepare`, not stored yet."""

    response: TokenResponse
    access: AccessTokenInfo
    access_digest: str | None
    refresh: RefreshTokenInfo | None


async def subject_claims(
    tx: Repositories,
    authorization: Authorization,
    *,
    profile: bool,
    roles: bool,
) -> dict[str, Any]:
    """The claims about the user: profile/email/phone when `profile`, organisation claims
    when their scopes ask, and the roles claims when `roles`."""
    user, scopes = authorization.user, authorization.scopes
    claims: dict[str, Any] = cl.user_claims(user, scopes) if profile else {}
    if scopes.org_id or scopes.org_domain or sc.RESOURCE_OWNER in scopes:
        claims |= cl.org_claims(user, await tx.orgs.find(user.org_id), scopes)
    if roles and authorization.projects:
        grants = await tx.oidc_clients.granted_roles(user.id, authorization.projects)
        project_id = authorization.app.project_id if authorization.app else ""
        claims |= cl.role_claims(
            grants, scopes, project_id=project_id, projects=authorization.projects
        )
    return claims


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the SHA-256 of the token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


class TokenIssuer:
    """Makes, signs and stores tokens inside the caller's transaction.

    The signing key is fetched before that transaction opens: fetching it may start the
    key schedule's upkeep, a write that must not wait for the caller's own write lock.
    """

    def __init__(self, issuer: str, lifetimes: Lifetimes, signing_key: PrivateSigningKey) -> None:
        self.issuer = issuer
        self.lifetimes = lifetimes
        self._key = signing_key

    async def issue(
        self,
        tx: Repositories,
        authorization: Authorization,
        *,
        now: datetime,
        id_token: bool,
        refresh: RefreshTokenInfo | None = None,
    ) -> TokenResponse:
        """An access token, with a refresh token when `refresh` describes one, and an ID
        token when asked; `refresh` is the new token's record (see `next_refresh_token`)."""
        made = await self.prepare(tx, authorization, now=now, id_token=id_token, refresh=refresh)
        return await self.store(tx, made)

    async def prepare(
        self,
        tx: Repositories,
        authorization: Authorization,
        *,
        now: datetime,
        id_token: bool,
        refresh: RefreshTokenInfo | None = None,
    ) -> PreparedTokens:
        """Make and sign the tokens, reading what their claims need; nothing is written.

        Machine grants prepare in a read snapshot and `store` in a short write transaction,
        so the write lock (one for all processes on SQLite) is held only for the inserts.
        """
        refresh_value = tokens.random_token(REFRESH_TOKEN_BYTES) if refresh else None
        access, info, digest = await self._access_token(
            tx, authorization, now=now, refresh_id=refresh.id if refresh else None
        )
        signed_id_token = await self._id_token(tx, authorization, now, access) if id_token else None
        response = TokenResponse(
            access_token=access,
            expires_in=int(self.lifetimes.access_token.total_seconds()),
            scope=authorization.scopes.text,
            id_token=signed_id_token,
            refresh_token=refresh_value,
        )
        return PreparedTokens(response, info, digest, refresh)

    async def store(self, tx: Repositories, made: PreparedTokens) -> TokenResponse:
        """Record prepared tokens; only then may the response go out."""
        if made.refresh is not None and made.response.refresh_token:
            digest = tokens.digest(made.response.refresh_token)
            await tx.refresh_tokens.insert(made.refresh, digest=digest)
        await tx.access_tokens.insert(made.access, digest=made.access_digest)
        return made.response

    def next_refresh_token(
        self,
        authorization: Authorization,
        *,
        now: datetime,
        family_id: str,
        absolute_expires_at: datetime | None = None,
    ) -> RefreshTokenInfo:
        """A refresh token of `family_id`; a rotation keeps the family's absolute expiry."""
        assert authorization.app is not None
        absolute = absolute_expires_at or now + self.lifetimes.refresh_absolute
        return RefreshTokenInfo(
            id=new_id(),
            family_id=family_id,
            app_id=authorization.app.app_id,
            user_id=authorization.user.id,
            session_id=authorization.session_id,
            scopes=authorization.scopes.values,
            audience=authorization.audience,
            auth_time=authorization.auth_time,
            amr=authorization.amr,
            created_at=now,
            idle_expires_at=min(now + self.lifetimes.refresh_idle, absolute),
            absolute_expires_at=absolute,
            rotated_at=None,
            revoked_at=None,
        )

    async def _access_token(
        self,
        tx: Repositories,
        authorization: Authorization,
        *,
        now: datetime,
        refresh_id: str | None,
    ) -> tuple[str, AccessTokenInfo, str | None]:
        """The token, its record, and the digest it is found by (None: a JWT, found by id)."""
        app = authorization.app
        info = AccessTokenInfo(
            id=new_id(),
            user_id=authorization.user.id,
            client_id=authorization.client_id,
            app_id=app.app_id if app else None,
            session_id=authorization.session_id,
            refresh_token_id=refresh_id,
            auth_request_id=authorization.grant_id,
            scopes=authorization.scopes.values,
            audience=authorization.audience,
            auth_time=authorization.auth_time,
            amr=authorization.amr,
            created_at=now,
            expires_at=now + self.lifetimes.access_token,
            revoked_at=None,
        )
        if authorization.token_type is TokenType.JWT:
            return await self._jwt_access_token(tx, authorization, info), info, None
        value = tokens.random_token(ACCESS_TOKEN_BYTES)
        return value, info, tokens.digest(value)

    async def _jwt_access_token(
        self, tx: Repositories, authorization: Authorization, info: AccessTokenInfo
    ) -> str:
        """RFC 9068 §2: `typ` at+jwt, with the token's id as `jti` (revocation finds it)."""
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": authorization.user.id,
            "aud": list(info.audience),
            "exp": int(info.expires_at.timestamp()),
            "iat": int(info.created_at.timestamp()),
            "nbf": int(info.created_at.timestamp()),
            "jti": info.id,
            "client_id": authorization.client_id,
            "scope": authorization.scopes.text,
        }
        if authorization.session_id:
            claims["sid"] = authorization.session_id
        app = authorization.app
        if app is not None and app.access_token_role_assertion:
            claims |= await subject_claims(tx, authorization, profile=False, roles=True)
        return self.sign(claims, typ="at+jwt")

    async def _id_token(
        self, tx: Repositories, authorization: Authorization, now: datetime, access_token: str
    ) -> str:
        app = authorization.app
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": authorization.user.id,
            "aud": list(authorization.audience),
            "exp": issued + int(self.lifetimes.id_token.total_seconds()),
            "iat": issued,
            "azp": authorization.client_id,
            "at_hash": at_hash(access_token),
        }
        if authorization.auth_time is not None:
            claims["auth_time"] = int(authorization.auth_time.timestamp())
        if authorization.amr:
            claims["amr"] = list(authorization.amr)
        if authorization.acr:
            claims["acr"] = authorization.acr
        if authorization.nonce:
            claims["nonce"] = authorization.nonce
        if authorization.session_id:
            claims["sid"] = authorization.session_id
        claims |= await subject_claims(
            tx,
            authorization,
            profile=bool(app and app.id_token_userinfo_assertion),
            roles=bool(app and app.id_token_role_assertion),
        )
        return self.sign(claims)

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        header = {"alg": ALG, "kid": self._key.kid, "typ": typ}
        return jwt.encode(header, claims, self._key.key, algorithms=[ALG])
