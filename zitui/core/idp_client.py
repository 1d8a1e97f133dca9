"""The protocol client for external identity providers: one client for every kind, OpenID
Connect (discovery, an ID token checked against the issuer's keys) or plain OAuth 2.0 (an
access token and a userinfo call), with authlib's OAuth 2.0 client over httpx2.

The login flow calls `authorization_url` to send the browser away and `identity` with what
the callback brought back. Errors are the provider's failure (UpstreamUnavailable
`idp.unreachable`, 502) or a refused sign-in (`idp.discovery_invalid`, `idp.token_refused`,
`idp.token_invalid`, `idp.issuer_mismatch`, `idp.nonce_mismatch`, `idp.subject_missing`).
No message carries the client secret, the code or a token.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from zitui.core.clock import Clock
from zitui.core.idp_discovery import (
    Endpoints,
    ProviderMetadata,
    accepted_issuers,
    any_entra_tenant,
    check_response_issuer,
    configured_endpoints,
    entra_kind,
    issuer_of,
)
from zitui.core.idp_http import get_json, safe_url, unreachable
from zitui.core.idp_identity import (
    ExternalIdentity,
    attribute,
    external_id_of,
    identity_from_claims,
)
from zitui.core.idp_templates import filled, template_of
from zitui.core.idp_tokens import apple_client_secret, verify_id_token
from zitui.errors import InvalidArgument, PreconditionFailed, Unauthenticated
from zitui.records import IdentityProvider, IdpType

__all__ = ["Endpoints", "ExternalIdentity", "IdpClient", "primary_email"]

# RFC 6749 §5.2: an `error` code is printable ASCII without `"` and `\`.
_ERROR_CODE = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$")
MAX_CODE = 4096


class IdpClient:
    """Shared by every request; caches discovery documents and key sets per provider for
    a few minutes (by the injected clock)."""

    def __init__(self, clock: Clock, *, timeout_s: float = 10.0) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._metadata = ProviderMetadata(clock, timeout_s=timeout_s)

    def redirect_uri(self, idp: IdentityProvider, callbacks: tuple[str, str]) -> str:
        """`callbacks` = (query callback, form_post callback) from `idps.callback_urls`;
        kinds that answer with form_post (Apple) use the second."""
        return callbacks[1] if template_of(idp.type).form_post else callbacks[0]

    async def authorization_url(
        self,
        idp: IdentityProvider,
        *,
        callbacks: tuple[str, str],
        state: str,
        nonce: str,
        code_verifier: str,
    ) -> str:
        """Where to send the browser (RFC 6749 §4.1.1): the code flow with `state`, the
        `nonce` for OpenID kinds and an S256 challenge (RFC 7636 §4.3) when the provider
        uses PKCE."""
        endpoints = await self.endpoints(idp)
        extra: dict[str, str] = {}
        if idp.is_oidc:
            extra["nonce"] = nonce
        if template_of(idp.type).form_post:
            extra["response_mode"] = "form_post"
        if idp.use_pkce:
            extra["code_challenge"] = create_s256_code_challenge(code_verifier)
            extra["code_challenge_method"] = "S256"
        url: str = prepare_grant_uri(
            endpoints.authorization,
            client_id=idp.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri(idp, callbacks),
            scope=list(_scopes(idp)),
            state=state,
            **extra,
        )
        return url

    async def identity(
        self,
        idp: IdentityProvider,
        secret: str,
        *,
        callbacks: tuple[str, str],
        code: str,
        code_verifier: str,
        nonce: str,
        iss: str = "",
    ) -> ExternalIdentity:
        """Exchange the callback's `code` and say who signed in.

        `iss` is the callback's RFC 9207 parameter, "" when it had none; a provider whose
        discovery promises it must send it. OpenID kinds: the ID token is verified (keys,
        issuer, audience, times, nonce), then claims come from the userinfo endpoint unless
        the provider maps from the ID token (`id_token_mapping`). OAuth kinds: the userinfo
        answer, its id in `id_attribute`."""
        endpoints = await self.endpoints(idp)
        check_response_issuer(idp, endpoints, iss)
        redirect = self.redirect_uri(idp, callbacks)
        token = await self._exchange(idp, secret, endpoints, redirect, code, code_verifier)
        if idp.is_oidc:
            external_id, claims = await self._oidc_claims(idp, endpoints, token, nonce)
            if iss and any_entra_tenant(idp) and iss != claims.get("iss"):
                raise Unauthenticated(
                    "idp.issuer_mismatch", "the answer's issuer is not the ID token's"
                )
        else:
            external_id, claims = await self._oauth_claims(idp, endpoints, token)
        found = identity_from_claims(idp, external_id, claims)
        if idp.type is IdpType.GITHUB:
            found = await self._github_email(idp, token, found)
        return found

    # --- endpoints, discovery and keys -------------------------------------------------

    async def endpoints(self, idp: IdentityProvider) -> Endpoints:
        """The provider's endpoints; OpenID kinds read (and cache) the discovery document,
        and URLs configured for the provider take precedence over its answers."""
        if not idp.is_oidc:
            endpoints = configured_endpoints(idp)
        else:
            found = await self._metadata.discover(issuer_of(idp), entra=entra_kind(idp))
            endpoints = replace(
                found,
                authorization=idp.authorization_endpoint or found.authorization,
                token=idp.token_endpoint or found.token,
                userinfo=idp.userinfo_endpoint or found.userinfo,
                jwks_uri=idp.jwks_uri or found.jwks_uri,
            )
        for name in ("authorization", "token"):
            if not safe_url(getattr(endpoints, name)):
                raise PreconditionFailed(
                    "idp.discovery_invalid", f"the provider has no usable {name} endpoint"
                )
        return endpoints

    # --- the token request -------------------------------------------------------------

    async def _exchange(
        self,
        idp: IdentityProvider,
        secret: str,
        endpoints: Endpoints,
        redirect_uri: str,
        code: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """RFC 6749 §4.1.3, with the verifier of RFC 7636 §4.5 when PKCE is on."""
        if not code or len(code) > MAX_CODE:
            raise InvalidArgument("idp.code_invalid", "the identity provider sent no usable code")
        method = _auth_method(idp, endpoints, secret)
        if idp.type is IdpType.APPLE:
            secret = apple_client_secret(
                secret,
                team_id=idp.extra.get("team_id", ""),
                key_id=idp.extra.get("key_id", ""),
                client_id=idp.client_id,
                now=self._clock.now(),
            )
        params = {"code": code, "redirect_uri": redirect_uri}
        if idp.use_pkce:
            params["code_verifier"] = code_verifier
        try:
            token = await self._token_request(idp, secret, method, endpoints.token, params)
        except OAuthError as exc:
            if not _post_may_help(method, exc, endpoints):
                raise _refused(exc) from None
            try:
                token = await self._token_request(
                    idp, secret, "client_secret_post", endpoints.token, params
                )
            except OAuthError as again:
                raise _refused(again) from None
        if not isinstance(token.get("access_token"), str) or not token["access_token"]:
            raise Unauthenticated(
                "idp.token_invalid", "the identity provider answered without an access token"
            )
        return dict(token)

    async def _token_request(
        self,
        idp: IdentityProvider,
        secret: str,
        method: str,
        url: str,
        params: dict[str, str],
    ) -> dict[str, Any]:
        """One token request through authlib; OAuthError when the provider refuses it."""
        client = AsyncOAuth2Client(
            client_id=idp.client_id,
            client_secret=secret,
            token_endpoint_auth_method=method,
            timeout=self._timeout_s,
            trust_env=False,
        )
        try:
            async with client:
                token = await client.fetch_token(url, grant_type="authorization_code", **params)
        except (httpx2.HTTPError, ValueError) as exc:
            raise unreachable() from exc
        return dict(token)

    # --- who signed in -----------------------------------------------------------------

    async def _oidc_claims(
        self, idp: IdentityProvider, endpoints: Endpoints, token: dict[str, Any], nonce: str
    ) -> tuple[str, dict[str, Any]]:
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise Unauthenticated("idp.token_invalid", "the identity provider sent no ID token")
        keys = await self._metadata.keys_for(endpoints.jwks_uri, id_token)
        claims = verify_id_token(
            id_token,
            keys,
            expected_issuers=accepted_issuers(idp, endpoints.issuer),
            expected_audience=idp.client_id,
            expected_nonce=nonce,
            now=self._clock.now(),
            any_entra_tenant=any_entra_tenant(idp),
        )
        subject: str = claims["sub"]
        if idp.id_token_mapping or not endpoints.userinfo:
            return subject, claims
        info = await self._userinfo(idp, endpoints.userinfo, token)
        # OpenID Connect Core §5.3.2: a userinfo answer for another subject is not used.
        if info.get("sub") != subject:
            raise Unauthenticated(
                "idp.token_invalid", "the userinfo answer is for another user than the ID token"
            )
        return subject, {**claims, **info}

    async def _oauth_claims(
        self, idp: IdentityProvider, endpoints: Endpoints, token: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        info = await self._userinfo(idp, endpoints.userinfo, token)
        name = idp.id_attribute or template_of(idp.type).id_attribute
        external_id = external_id_of(attribute(info, name))
        if not external_id:
            raise Unauthenticated(
                "idp.subject_missing", "the identity provider's answer names no user id"
            )
        return external_id, info

    async def _userinfo(
        self, idp: IdentityProvider, url: str, token: dict[str, Any]
    ) -> dict[str, Any]:
        if not safe_url(url):
            raise PreconditionFailed(
                "idp.discovery_invalid", "the provider has no usable userinfo endpoint"
            )
        status, info = await get_json(url, headers=_bearer(idp, token), timeout_s=self._timeout_s)
        if status >= 400:
            raise Unauthenticated(
                "idp.token_refused", "the identity provider refused its own access token"
            )
        if not isinstance(info, dict):
            raise unreachable()
        return info

    async def _github_email(
        self, idp: IdentityProvider, token: dict[str, Any], found: ExternalIdentity
    ) -> ExternalIdentity:
        """GitHub's /user shows only a public email and never says whether it is verified;
        with `user:email` granted, /user/emails names the primary address and its state."""
        granted = re.split(r"[\s,]+", str(token.get("scope", "")))
        if "user:email" not in granted:
            return found
        url = filled("{api}/user/emails", idp.extra)
        status, emails = await get_json(url, headers=_bearer(idp, token), timeout_s=self._timeout_s)
        primary = primary_email(emails) if status == 200 else None
        if primary is None:
            return found
        address, verified = primary
        return replace(found, email=address, email_verified=verified)


def primary_email(emails: object) -> tuple[str, bool] | None:
    """GitHub's primary address from /user/emails and whether it is verified."""
    entries = emails if isinstance(emails, list) else []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("primary") is True:
            address = entry.get("email")
            if isinstance(address, str) and address.strip():
                return address.strip()[:320], entry.get("verified") is True
    return None


def _scopes(idp: IdentityProvider) -> tuple[str, ...]:
    return idp.scopes or template_of(idp.type).scopes


def _auth_method(idp: IdentityProvider, endpoints: Endpoints, secret: str) -> str:
    """client_secret_basic (RFC 6749 §2.3.1's default), unless the provider's discovery
    lists only client_secret_post; Apple and GitHub take the secret in the body."""
    if idp.type in (IdpType.APPLE, IdpType.GITHUB):
        return "client_secret_post"
    if not secret:
        return "none"
    supported = endpoints.auth_methods
    if supported and "client_secret_basic" not in supported and "client_secret_post" in supported:
        return "client_secret_post"
    return "client_secret_basic"


def _post_may_help(method: str, refusal: OAuthError, endpoints: Endpoints) -> bool:
    """A client registered for client_secret_post at a provider that offers both methods
    is refused its Basic header before the code is looked at (RFC 6749 §5.2
    `invalid_client`): then the same request once more, the secret in the body."""
    if method != "client_secret_basic" or refusal.error != "invalid_client":
        return False
    return not endpoints.auth_methods or "client_secret_post" in endpoints.auth_methods


def _bearer(idp: IdentityProvider, token: dict[str, Any]) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    if idp.type is IdpType.GITHUB:
        headers["Accept"] = "application/vnd.github+json"
    return headers


def _refused(exc: OAuthError) -> Unauthenticated:
    """The provider's `error` code, when it is one; never its free text, which may echo
    what was sent."""
    code = exc.error if isinstance(exc.error, str) else ""
    code = code if _ERROR_CODE.match(code) else "unknown_error"
    return Unauthenticated("idp.token_refused", f"the identity provider refused the code: {code}")
