"""Client authentication at the token, introspection and revocation endpoints.

RFC 6749 §2.3.1 (`client_secret_basic`, `client_secret_post`; a client uses one method per
request), RFC 7523 §2.2 and OIDC Core §9 (`private_key_jwt`), RFC 7636 / OIDC Core §9
(`none`: public clients identify themselves and prove possession with PKCE instead).
Secrets are high-entropy, so a SHA-256 digest compared in constant time checks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from zitui.core.crypto import tokens
from zitui.core.oidc import rfc7523
from zitui.core.oidc.errors import OAuthError, invalid_client, invalid_request
from zitui.records import AuthMethod, OidcClient
from zitui.store import Repositories

SECRET_APP_METHODS = frozenset({AuthMethod.BASIC, AuthMethod.POST})


class Presented(Enum):
    """How a client authenticated in this request."""

    BASIC = "client_secret_basic"
    POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"


@dataclass(frozen=True)
class BasicCredentials:
    """The Authorization header's client id and secret, already url-decoded (RFC 6749 §2.3.1)."""

    client_id: str
    secret: str


@dataclass(frozen=True)
class ClientRequest:
    """What a client sent to an endpoint that authenticates it."""

    form: Mapping[str, str]
    basic: BasicCredentials | None
    endpoint: str  # the URL called, accepted as an assertion audience besides the issuer


@dataclass(frozen=True)
class AuthenticatedClient:
    client: OidcClient
    method: Presented
    assertion: rfc7523.UsedAssertion | None = None  # a private_key_jwt assertion's jti


def presented(request: ClientRequest) -> Presented:
    form = request.form
    methods = [
        method
        for method, used in (
            (Presented.BASIC, request.basic is not None),
            (Presented.POST, "client_secret" in form),
            (Presented.PRIVATE_KEY_JWT, "client_assertion" in form),
        )
        if used
    ]
    if len(methods) > 1:
        raise invalid_request("use one client authentication method per request")
    return methods[0] if methods else Presented.NONE


async def authenticate_client(
    tx: Repositories,
    request: ClientRequest,
    *,
    issuer: str,
    now: datetime,
    allowed: frozenset[Presented],
) -> AuthenticatedClient:
    """The authenticated client, or `invalid_client` (401; a Basic challenge after Basic).

    `tx` is a write transaction: an assertion's `jti` is spent in it (RFC 7523 §3 item 7).
    """
    authenticated = await check_client(tx, request, issuer=issuer, now=now, allowed=allowed)
    await spend_assertion(tx, authenticated, now=now)
    return authenticated


async def spend_assertion(tx: Repositories, client: AuthenticatedClient, *, now: datetime) -> None:
    """Mark the client's assertion used, in a write transaction; `invalid_client` if it was."""
    if not await rfc7523.spend(tx, client.assertion, now=now):
        raise invalid_client("the client assertion was already used")


async def check_client(
    tx: Repositories,
    request: ClientRequest,
    *,
    issuer: str,
    now: datetime,
    allowed: frozenset[Presented],
) -> AuthenticatedClient:
    """`authenticate_client` in a read snapshot: the caller must `spend_assertion` in a write
    transaction before it answers."""
    method = presented(request)
    basic = method is Presented.BASIC
    if method not in allowed:
        raise invalid_client(f"{method.value} is not accepted here", basic=basic)
    if method is Presented.PRIVATE_KEY_JWT:
        return await _by_assertion(tx, request, issuer=issuer, now=now)
    client_id = request.basic.client_id if request.basic else request.form.get("client_id", "")
    form_id = request.form.get("client_id")
    if basic and form_id is not None and form_id != client_id:
        raise invalid_request("client_id differs from the authenticated client")
    client = await tx.oidc_clients.find_by_client_id(client_id) if client_id else None
    if client is None or not client.active:
        raise invalid_client("unknown or inactive client", basic=basic)
    if method is Presented.NONE:
        if client.auth_method is not AuthMethod.NONE:
            raise invalid_client("the client must authenticate", basic=basic)
        return AuthenticatedClient(client, method)
    secret = request.basic.secret if request.basic else request.form.get("client_secret", "")
    if client.auth_method not in SECRET_APP_METHODS or not client.secret_digest:
        raise invalid_client("the client does not authenticate with a secret", basic=basic)
    if not tokens.equal(tokens.digest(secret), client.secret_digest):
        raise invalid_client("wrong client secret", basic=basic)
    return AuthenticatedClient(client, method)


async def _by_assertion(
    tx: Repositories, request: ClientRequest, *, issuer: str, now: datetime
) -> AuthenticatedClient:
    form = request.form
    if form.get("client_assertion_type") != rfc7523.CLIENT_ASSERTION_TYPE:
        raise invalid_client(f"client_assertion_type must be {rfc7523.CLIENT_ASSERTION_TYPE}")
    try:
        assertion = rfc7523.read(form.get("client_assertion", ""), error="invalid_client")
    except OAuthError as exc:
        raise invalid_client(exc.description) from exc  # 401, as every failed authentication
    client_id = form.get("client_id") or assertion.issuer
    client = await tx.oidc_clients.find_by_client_id(client_id) if client_id else None
    key = await tx.app_keys.find(assertion.kid)
    if client is None or not client.active or key is None or key.app_id != client.app_id:
        raise invalid_client("unknown client or key")
    if client.auth_method is not AuthMethod.PRIVATE_KEY_JWT:
        raise invalid_client("the client does not authenticate with private_key_jwt")
    try:
        used = rfc7523.verify(
            assertion,
            key.public_key_pem,
            error="invalid_client",
            expected_subject=client.client_id,
            expected_audiences=frozenset({issuer, request.endpoint}),
            now=now,
            key_expires_at=key.expires_at,
        )
    except OAuthError as exc:
        raise invalid_client(exc.description) from exc
    return AuthenticatedClient(client, Presented.PRIVATE_KEY_JWT, assertion=used)
