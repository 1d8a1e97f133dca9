"""Checking an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1-3.1.2.2).

`trusted_redirect` runs first: until the client and the exact redirect URI are known good,
nothing may be sent anywhere (RFC 6749 §4.1.2.1, §10.15), so its failures are pages. Every
later failure is an error response to that redirect URI. Unknown parameters are ignored
(§3.1); request objects are refused with the errors of OIDC Core §6.1 and §6.2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from joserfc.jwk import KeySet

from zitui.core.crypto.signing import ALG
from zitui.core.ids import new_id
from zitui.core.oidc import rfc7519, rfc7636
from zitui.core.oidc import scopes as sc
from zitui.core.oidc.audience import check_requested
from zitui.core.oidc.errors import OAuthError, invalid_request, invalid_scope
from zitui.core.oidc.request_bounds import check_bounds
from zitui.core.oidc.responses import QUERY, RESPONSE_MODES
from zitui.core.oidc.scopes import Scopes
from zitui.errors import InvalidArgument
from zitui.records import AuthMethod, AuthRequestStatus, OidcClient, StoredAuthRequest
from zitui.store import Repositories

AUTH_REQUEST_LIFETIME = timedelta(hours=1)
PROMPTS = ("none", "login", "consent", "select_account", "create")
# The parameters this endpoint reads; sending one of them twice is an error (OIDC Core §3.1.2.1).
KNOWN = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "ui_locales",
    "acr_values",
    "request",
    "request_uri",
)


@dataclass(frozen=True)
class AuthorizeParams:
    """The request's parameters as sent (query for GET, form for POST)."""

    values: dict[str, str] = field(default_factory=dict)
    repeated: tuple[str, ...] = ()

    @classmethod
    def from_items(cls, items: Iterable[tuple[str, str]]) -> AuthorizeParams:
        values: dict[str, str] = {}
        repeated: list[str] = []
        for name, value in items:
            if name not in KNOWN:
                continue
            if name in values:
                repeated.append(name)
            values[name] = value
        return cls(values, tuple(dict.fromkeys(repeated)))

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def trusted_redirect(client: OidcClient | None, params: AuthorizeParams) -> tuple[OidcClient, str]:
    """The client and its registered redirect URI, or InvalidArgument for an error page."""
    if client is None or not client.active:
        raise InvalidArgument(
            "oidc.client.unknown", "the application is unknown or inactive", field="client_id"
        )
    if "client_id" in params.repeated or "redirect_uri" in params.repeated:
        raise InvalidArgument(
            "oidc.redirect_uri.repeated", "the request repeats a parameter", field="redirect_uri"
        )
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise InvalidArgument(
            "oidc.redirect_uri.missing", "the request has no redirect_uri", field="redirect_uri"
        )
    if redirect_uri not in client.redirect_uris:
        raise InvalidArgument(
            "oidc.redirect_uri.unregistered",
            "the redirect_uri is not registered for this application",
            field="redirect_uri",
        )
    return client, redirect_uri


def response_mode(params: AuthorizeParams) -> str:
    """The mode to answer in; an unsupported one is itself answered in the query."""
    mode = params.get("response_mode") or QUERY
    return mode if mode in RESPONSE_MODES else QUERY


async def checked_request(
    tx: Repositories,
    client: OidcClient,
    redirect_uri: str,
    params: AuthorizeParams,
    *,
    keys: KeySet,
    issuer: str,
    now: datetime,
) -> StoredAuthRequest:
    """The request to store, or the OAuthError to send to the redirect URI."""
    _refuse_request_objects(params)
    if params.repeated:
        raise invalid_request(f"{params.repeated[0]} is given more than once")
    check_bounds(params.values)
    if params.get("response_mode") not in ("", *RESPONSE_MODES):
        raise invalid_request("response_mode must be query or form_post")
    _check_response_type(client, params.get("response_type"))
    scopes = _checked_scopes(params.get("scope"))
    await check_requested(tx, client, scopes)
    challenge, method = rfc7636.checked_challenge(
        params.get("code_challenge"), params.get("code_challenge_method")
    )
    if client.auth_method is AuthMethod.NONE and not challenge:
        raise invalid_request("public clients must send a PKCE code_challenge (S256)")
    return StoredAuthRequest(
        id=new_id(),
        app_id=client.app_id,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        response_type="code",
        response_mode=params.get("response_mode") or QUERY,
        scopes=scopes.values,
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        code_challenge_method=method,
        prompt=_prompt(params.get("prompt")),
        max_age=_max_age(params.get("max_age")),
        login_hint=params.get("login_hint").strip(),
        ui_locales=tuple(params.get("ui_locales").split()),
        acr_values=tuple(params.get("acr_values").split()),
        id_token_hint_subject=hint_subject(params.get("id_token_hint"), keys=keys, issuer=issuer),
        org_id=await _org(tx, scopes),
        session_id=None,
        user_id=None,
        auth_time=None,
        amr=(),
        status=AuthRequestStatus.PENDING,
        created_at=now,
        expires_at=now + AUTH_REQUEST_LIFETIME,
    )


def hint_subject(hint: str, *, keys: KeySet, issuer: str) -> str:
    """The `sub` of an ID token this provider issued; expiry does not matter (a hint says who,
    not that they are still signed in). A hint that does not verify is `login_required`."""
    if not hint:
        return ""
    claims = verified_id_token(hint, keys=keys, issuer=issuer)
    if claims is None or not isinstance(claims.get("sub"), str):
        raise OAuthError("login_required", "the id_token_hint is not valid")
    return str(claims["sub"])


def verified_id_token(token: str, *, keys: KeySet, issuer: str) -> dict[str, object] | None:
    """The claims of a token signed with one of this provider's published keys, else None."""
    claims = rfc7519.decode(token, keys, algorithms=[ALG])
    return claims if claims is not None and claims.get("iss") == issuer else None


def _refuse_request_objects(params: AuthorizeParams) -> None:
    if "request" in params.values:
        raise OAuthError("request_not_supported", "request objects are not supported")
    if "request_uri" in params.values:
        raise OAuthError("request_uri_not_supported", "request_uri is not supported")


def _check_response_type(client: OidcClient, response_type: str) -> None:
    if not response_type:
        raise invalid_request("response_type is required")
    if response_type != "code":
        raise OAuthError("unsupported_response_type", "only response_type=code is supported")
    if "authorization_code" not in client.grant_types:
        raise OAuthError("unauthorized_client", "the client may not use the code flow")


def _checked_scopes(text: str) -> Scopes:
    values = sc.parse(text)
    if not sc.well_formed(values):
        raise invalid_scope("the scope is malformed")
    if sc.OPENID not in values:
        raise invalid_scope("the scope must include openid")
    return Scopes(values)


def _prompt(text: str) -> tuple[str, ...]:
    prompt = tuple(value for value in dict.fromkeys(text.split()) if value in PROMPTS)
    if "none" in prompt and len(prompt) > 1:
        raise invalid_request("prompt=none cannot be combined with other values")
    return prompt


def _max_age(text: str) -> int | None:
    if not text:
        return None
    # ASCII only: str.isdigit() also takes "²" and "٣", which int() refuses or reads.
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise invalid_request("max_age must be a number of seconds")
    return int(text)


async def _org(tx: Repositories, scopes: Scopes) -> str:
    """The organisation the reserved org scopes name; it must exist."""
    org_id = scopes.org_id
    if scopes.org_domain and not org_id:
        org_id = await tx.oidc_clients.org_of_primary_domain(scopes.org_domain) or ""
        if not org_id:
            raise invalid_scope("no organisation has this primary domain")
    if org_id and await tx.orgs.find(org_id) is None:
        raise invalid_scope("the organisation of the scope does not exist")
    return org_id
