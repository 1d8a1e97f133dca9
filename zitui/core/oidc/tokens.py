"""The token service: the token endpoint's grants, userinfo, introspection and revocation.

These are the hot paths: each call is one transaction of indexed SQLAlchemy Core queries
(machine grants: a read snapshot, then a write transaction for the insert alone),
signing keys come from `KeyService`'s cache, and no audit event is written per token (the
sign-in that led to a code is audited when the session is linked to the request).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from joserfc.jwk import KeySet

from zitui.core.clock import Clock
from zitui.core.context import Context, RequestMeta
from zitui.core.oidc import rfc7009, rfc7523, rfc7662
from zitui.core.oidc.api_access import api_actor, may_call_api
from zitui.core.oidc.audience import asked_projects, reaches
from zitui.core.oidc.authorization_code import exchange_code
from zitui.core.oidc.bearer import BearerGrant, looks_like_jwt, resolve
from zitui.core.oidc.client_auth import (
    ClientRequest,
    Presented,
    authenticate_client,
    check_client,
    spend_assertion,
)
from zitui.core.oidc.client_credentials import client_credentials
from zitui.core.oidc.errors import (
    GrantReplayed,
    OAuthError,
    invalid_grant,
    invalid_request,
    invalid_token,
    unauthorized_client,
)
from zitui.core.oidc.grant_context import GrantContext
from zitui.core.oidc.issuance import Authorization, Lifetimes, TokenIssuer, subject_claims
from zitui.core.oidc.jwt_bearer import jwt_bearer
from zitui.core.oidc.keys import KeyService
from zitui.core.oidc.refresh_token import refresh
from zitui.core.oidc.rfc7523 import UsedAssertion
from zitui.errors import Unauthenticated
from zitui.records import OidcClient, UserState
from zitui.store import Repositories, Store

ALL_METHODS = frozenset(Presented)
MACHINE_GRANTS = ("client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer")
GRANT_TYPES = ("authorization_code", "refresh_token", *MACHINE_GRANTS)


class TokenService:
    def __init__(
        self, store: Store, keys: KeyService, clock: Clock, *, issuer: str, lifetimes: Lifetimes
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self.issuer = issuer
        self._lifetimes = lifetimes

    async def token(self, ctx: Context, request: ClientRequest) -> dict[str, Any]:
        """RFC 6749 §3.2: run the grant `grant_type` names; the response body of §5.1.

        Raises OAuthError with the §5.2 error. A replayed code or refresh token revokes its
        grant's tokens in a transaction of its own, since the failed one rolls back.
        """
        grant_type = request.form.get("grant_type", "")
        if grant_type not in GRANT_TYPES:
            if not grant_type:
                raise invalid_request("grant_type is required")
            raise OAuthError("unsupported_grant_type", f"{grant_type} is not supported")
        issuer = TokenIssuer(self.issuer, self._lifetimes, await self._keys.signing_key())
        if grant_type in MACHINE_GRANTS:
            # Nothing to consume, only a token to add: check and sign in a read snapshot,
            # then hold the write lock just for the insert.
            used: UsedAssertion | None = None
            async with self._store.reader() as tx:
                grant = GrantContext(tx, issuer, request.form, request.endpoint, ctx.now())
                if grant_type == "client_credentials":
                    made = await client_credentials(grant, request.basic)
                else:
                    made, used = await jwt_bearer(grant)
            async with self._store.transaction() as tx:
                if not await rfc7523.spend(tx, used, now=ctx.now()):
                    raise invalid_grant("the assertion was already used")
                return (await issuer.store(tx, made)).to_dict()
        try:
            async with self._store.transaction() as tx:
                grant = GrantContext(tx, issuer, request.form, request.endpoint, ctx.now())
                response = await self._grant(grant, grant_type, request)
        except GrantReplayed as replay:
            await self._revoke_grant(replay.grant_id, ctx)
            raise
        return response.to_dict()

    async def userinfo(self, ctx: Context, access_token: str) -> dict[str, Any]:
        """OIDC Core §5.3: `sub` and the claims of the token's scopes; the roles claim when the
        project asserts roles or a role scope asked for them. RFC 6750 `invalid_token` if the
        token is not live."""
        keys = await self._verification_keys(access_token)
        async with self._store.reader() as tx:
            grant = await resolve(tx, access_token, keys=keys, issuer=self.issuer, now=ctx.now())
            claims = await self._claims(tx, grant) if grant else None
        if claims is None:
            raise invalid_token("the access token is invalid or has expired")
        return claims

    async def account_context(self, access_token: str, request: RequestMeta) -> Context:
        """The context of the user an access token acts for, at the account API: the token's
        `auth_time` and session ride along for the changes that ask for a recent sign-in.
        Unauthenticated when the token is not live, its user is not active, or the API is
        not in its audience (zitui/core/oidc/api_access.py)."""
        keys = await self._verification_keys(access_token)
        async with self._store.reader() as tx:
            now = self._clock.now()
            grant = await resolve(tx, access_token, keys=keys, issuer=self.issuer, now=now)
            actor = await api_actor(tx, grant)
        if grant is not None and not may_call_api(grant):
            raise Unauthenticated(
                "api.token_audience", "the access token was not issued for this API"
            )
        if grant is None or actor is None:
            raise Unauthenticated("api.token_invalid", "the access token is invalid or has expired")
        return Context(
            clock=self._clock,
            actor=actor,
            request=request,
            auth_time=grant.auth_time,
            session_id=grant.session_id,
        )

    async def introspect(self, ctx: Context, request: ClientRequest) -> dict[str, Any]:
        """RFC 7662 §2: callers authenticate (Basic or private_key_jwt, as ZITADEL's API
        apps do); a token not meant for the caller's project is reported inactive."""
        token = request.form.get("token", "")
        keys = await self._verification_keys(token)
        async with self._store.reader() as tx:
            caller = await check_client(
                tx,
                request,
                issuer=self.issuer,
                now=ctx.now(),
                allowed=frozenset({Presented.BASIC, Presented.PRIVATE_KEY_JWT}),
            )
            if not token:
                raise invalid_request("token is required")
            answer = await self._introspection(tx, token, caller.client, keys, ctx.now())
        if caller.assertion is not None:
            async with self._store.transaction() as tx:
                await spend_assertion(tx, caller, now=ctx.now())
        return answer

    async def _introspection(
        self, tx: Repositories, token: str, caller: OidcClient, keys: KeySet | None, now: datetime
    ) -> dict[str, Any]:
        grant = await resolve(tx, token, keys=keys, issuer=self.issuer, now=now)
        if grant is None or not await reaches(tx, grant, caller.project_id):
            return rfc7662.INACTIVE
        claims = await self._claims(tx, grant)
        if claims is None:
            return rfc7662.INACTIVE
        return rfc7662.response(grant, claims, issuer=self.issuer)

    async def revoke(self, ctx: Context, request: ClientRequest) -> None:
        """RFC 7009 §2: revoke the client's own token; unknown tokens are no error (§2.2)."""
        token = request.form.get("token", "")
        keys = await self._verification_keys(token)
        async with self._store.transaction() as tx:
            caller = await authenticate_client(
                tx, request, issuer=self.issuer, now=ctx.now(), allowed=ALL_METHODS
            )
            if not token:
                raise invalid_request("token is required")
            await rfc7009.revoke(
                tx,
                token,
                client=caller.client,
                hint=request.form.get("token_type_hint", ""),
                keys=keys,
                issuer=self.issuer,
                now=ctx.now(),
            )

    async def _grant(self, grant: GrantContext, grant_type: str, request: ClientRequest) -> Any:
        client = await self._client(grant.tx, request, grant_type)
        if grant_type == "authorization_code":
            return await exchange_code(grant, client)
        return await refresh(grant, client)

    async def _client(
        self, tx: Repositories, request: ClientRequest, grant_type: str
    ) -> OidcClient:
        now = self._clock.now()
        authenticated = await authenticate_client(
            tx, request, issuer=self.issuer, now=now, allowed=ALL_METHODS
        )
        client = authenticated.client
        if grant_type not in client.grant_types:
            raise unauthorized_client(f"the client may not use the {grant_type} grant")
        return client

    async def _claims(self, tx: Repositories, grant: BearerGrant) -> dict[str, Any] | None:
        user = await tx.users.find(grant.user_id)
        if user is None or user.state is not UserState.ACTIVE:
            return None
        client = await tx.oidc_clients.find_by_app_id(grant.app_id) if grant.app_id else None
        wanted = ([client.project_id] if client else []) + list(asked_projects(grant.scopes))
        authorization = Authorization(
            user=user,
            client_id=grant.client_id,
            app=client,
            scopes=grant.scopes,
            audience=grant.audience,
            projects=tuple(p for p in dict.fromkeys(wanted) if p in grant.audience),
            token_type=user.access_token_type,
        )
        roles = grant.scopes.asks_for_roles or bool(client and client.project_role_assertion)
        claims = await subject_claims(tx, authorization, profile=True, roles=roles)
        return {"sub": user.id, **claims}

    async def _verification_keys(self, token: str) -> KeySet | None:
        return await self._keys.public_keys() if looks_like_jwt(token) else None

    async def _revoke_grant(self, grant_id: str, ctx: Context) -> None:
        async with self._store.transaction() as tx:
            await tx.refresh_tokens.revoke_family(grant_id, at=ctx.now())
            await tx.access_tokens.revoke_for_grant(grant_id, at=ctx.now())
