"""What zitui learns about an OpenID provider before trusting its answers: its discovery
document (OpenID Connect Discovery 1.0), its signing keys (RFC 7517), and which issuer its
answers and ID tokens must name.

`ProviderMetadata` fetches both documents and keeps them a few minutes per issuer and key
set URL; the functions that read them are pure, so every refusal is testable with a
document made for the purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, KeySet

from zitui.core.clock import Clock
from zitui.core.idp_http import get_json, safe_url, unreachable
from zitui.core.idp_templates import AZURE_TENANTS, filled, template_of
from zitui.core.idp_tokens import entra_issuer, key_known
from zitui.errors import PreconditionFailed, Unauthenticated
from zitui.records import IdentityProvider, IdpType

DISCOVERY_PATH = "/.well-known/openid-configuration"
CACHE_FOR = timedelta(minutes=5)
GOOGLE_ISSUER = "https://accounts.google.com"
# What Entra ID's multi-tenant discovery documents name as issuer, literally.
ENTRA_TEMPLATE_ISSUER = "https://login.microsoftonline.com/{tenantid}/v2.0"


class Entra(Enum):
    NONE = "none"
    ANY_TENANT = "any_tenant"
    NAMED_TENANT = "named_tenant"


@dataclass(frozen=True)
class Endpoints:
    """Where a provider is reached: the configured URLs, else its template's, else (OpenID
    Connect) its discovery document's. `issuer` is "" for OAuth kinds."""

    issuer: str
    authorization: str
    token: str
    userinfo: str = ""
    jwks_uri: str = ""
    auth_methods: tuple[str, ...] = ()
    # RFC 9207 §3: the provider puts `iss` in every authorization response.
    iss_parameter: bool = False


class ProviderMetadata:
    """Discovery documents and key sets, fetched with a timeout and cached by the clock."""

    def __init__(self, clock: Clock, *, timeout_s: float) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._discovered: dict[str, tuple[datetime, Endpoints]] = {}
        self._key_sets: dict[str, tuple[datetime, KeySet]] = {}

    async def discover(self, issuer: str, *, entra: Entra = Entra.NONE) -> Endpoints:
        """Discovery §4: the document at the issuer (trailing `/` removed, the well-known
        path appended)."""
        cached = self._discovered.get(issuer)
        if cached and self._fresh(cached[0]):
            return cached[1]
        url = issuer.rstrip("/") + DISCOVERY_PATH
        status, doc = await get_json(url, timeout_s=self._timeout_s)
        if status != 200:
            raise unreachable()
        endpoints = endpoints_from(doc, issuer=issuer, entra=entra)
        self._discovered[issuer] = (self._clock.now(), endpoints)
        return endpoints

    async def keys(self, jwks_uri: str, *, fresh: bool = False) -> KeySet:
        """The provider's signing keys; `fresh` fetches them again (a rotated key)."""
        cached = self._key_sets.get(jwks_uri)
        if cached and not fresh and self._fresh(cached[0]):
            return cached[1]
        status, doc = await get_json(jwks_uri, timeout_s=self._timeout_s)
        if status != 200:
            raise unreachable()
        keys = signing_keys(doc)
        self._key_sets[jwks_uri] = (self._clock.now(), keys)
        return keys

    async def keys_for(self, jwks_uri: str, id_token: str) -> KeySet:
        """The keys to check `id_token` with: the cached set, or a fresh one when the token
        names a key the cached set lacks (the provider rotated its keys), fetched once."""
        keys = await self.keys(jwks_uri)
        if key_known(id_token, keys):
            return keys
        return await self.keys(jwks_uri, fresh=True)

    def _fresh(self, fetched_at: datetime) -> bool:
        return self._clock.now() - fetched_at < CACHE_FOR


def endpoints_from(doc: object, *, issuer: str, entra: Entra = Entra.NONE) -> Endpoints:
    """A discovery document's endpoints. Its `issuer` must be the configured one exactly
    (Discovery §4.3); every endpoint must be https (http only on loopback).

    Entra ID bends the rule: a multi-tenant document names `{tenantid}`, and a tenant
    configured by domain name is answered with its id, which its tokens then name."""
    if not isinstance(doc, dict):
        raise unreachable()
    named = doc.get("issuer")
    if entra is Entra.ANY_TENANT:
        trusted = named == ENTRA_TEMPLATE_ISSUER
    elif entra is Entra.NAMED_TENANT and isinstance(named, str):
        trusted = bool(entra_issuer({"tid": entra_tid(named)}))
        issuer = named if trusted else issuer
    else:
        trusted = named == issuer
    if not trusted:
        raise PreconditionFailed(
            "idp.discovery_invalid", "the provider's discovery names another issuer"
        )
    return Endpoints(
        issuer=issuer,
        authorization=_url(doc, "authorization_endpoint", required=True),
        token=_url(doc, "token_endpoint", required=True),
        userinfo=_url(doc, "userinfo_endpoint", required=False),
        jwks_uri=_url(doc, "jwks_uri", required=True),
        auth_methods=_names(doc.get("token_endpoint_auth_methods_supported")),
        iss_parameter=doc.get("authorization_response_iss_parameter_supported") is True,
    )


def signing_keys(doc: object) -> KeySet:
    """The signature keys of a JWKS document (RFC 7517 §5). Keys for encryption, symmetric
    keys (HS* is refused anyway) and kinds joserfc does not know are left out rather than
    failing the set."""
    entries = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise unreachable()
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") == "oct":
            continue
        try:
            keys.append(JWKRegistry.import_key(entry))
        except (JoseError, ValueError, TypeError, KeyError):
            continue
    return KeySet(keys)


def configured_endpoints(idp: IdentityProvider) -> Endpoints:
    """An OAuth kind's endpoints: the configured URLs, else its template's."""
    template = template_of(idp.type)

    def url(configured: str, pattern: str) -> str:
        return configured or (filled(pattern, idp.extra) if pattern else "")

    return Endpoints(
        issuer=idp.issuer,
        authorization=url(idp.authorization_endpoint, template.authorization_endpoint),
        token=url(idp.token_endpoint, template.token_endpoint),
        userinfo=url(idp.userinfo_endpoint, template.userinfo_endpoint),
    )


# --- issuers ----------------------------------------------------------------------------------


def issuer_of(idp: IdentityProvider) -> str:
    """The issuer an OpenID kind is configured with, or its template's."""
    return idp.issuer or filled(template_of(idp.type).issuer, idp.extra)


def entra_kind(idp: IdentityProvider) -> Entra:
    """How an Entra ID provider names its issuer: multi-tenant (`common`, `organizations`,
    `consumers`: tokens name the user's own tenant), a tenant given by domain name rather
    than id, or plainly (a tenant id, or an issuer the manager set)."""
    if idp.type is not IdpType.AZURE:
        return Entra.NONE
    template = template_of(idp.type).issuer
    if issuer_of(idp) in {template.format(tenant=t) for t in AZURE_TENANTS}:
        return Entra.ANY_TENANT
    if idp.issuer or entra_issuer({"tid": idp.extra.get("tenant", "")}):
        return Entra.NONE
    return Entra.NAMED_TENANT


def any_entra_tenant(idp: IdentityProvider) -> bool:
    return entra_kind(idp) is Entra.ANY_TENANT


def accepted_issuers(idp: IdentityProvider, issuer: str) -> tuple[str, ...]:
    """The `iss` values an ID token of this provider may carry."""
    # Google's ID tokens may name the issuer without the scheme.
    if idp.type is IdpType.GOOGLE and issuer == GOOGLE_ISSUER:
        return (issuer, "accounts.google.com")
    return (issuer,)


def check_response_issuer(idp: IdentityProvider, endpoints: Endpoints, iss: str) -> None:
    """RFC 9207 §2.4: before the code is sent anywhere, the answer's `iss` must name the
    provider it was asked of; a provider that promises `iss` must send it."""
    if not iss:
        if endpoints.iss_parameter:
            raise Unauthenticated("idp.issuer_mismatch", "the provider's answer names no issuer")
        return
    if any_entra_tenant(idp):
        ok = bool(entra_issuer({"tid": entra_tid(iss)}))
    else:
        ok = not endpoints.issuer or iss == endpoints.issuer
    if not ok:
        raise Unauthenticated("idp.issuer_mismatch", "the answer comes from another provider")


def entra_tid(issuer: str) -> str:
    """The tenant part of an Entra ID issuer URL, or "" when it is none."""
    prefix, suffix = "https://login.microsoftonline.com/", "/v2.0"
    if issuer.startswith(prefix) and issuer.endswith(suffix):
        return issuer[len(prefix) : -len(suffix)]
    return ""


def _url(doc: dict[str, Any], name: str, *, required: bool) -> str:
    value = doc.get(name)
    if value is None and not required:
        return ""
    if not safe_url(value):
        raise PreconditionFailed(
            "idp.discovery_invalid", f"the provider's {name} is missing or not https"
        )
    return str(value)


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))
