"""The OIDC settings of an application and the rules they must follow (ZITADEL's semantics).

Sources: ZITADEL `internal/domain/application_oidc.go` (its compliance checks), RFC 6749
§3.1.2 (redirection endpoint: absolute, no fragment), RFC 8252 §7 (native apps: private-use
schemes and loopback redirects).

The response and grant types an app may have are exactly those the provider serves
(`zitui/core/oidc/served.py`): the code flow with refresh tokens. ZITADEL's implicit, hybrid,
device and token-exchange values are refused, and where an app stored before holds one, it
is read as absent (`offered`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

from zitui.core.oidc import served
from zitui.errors import InvalidArgument
from zitui.records import AppType, AuthMethod, TokenType

E = TypeVar("E", bound=Enum)

RESPONSE_TYPES = served.RESPONSE_TYPES
GRANT_TYPES = served.APP_GRANT_TYPES
DEFAULT_RESPONSE_TYPES = ("code",)
DEFAULT_GRANT_TYPES = ("authorization_code",)
MAX_CLOCK_SKEW_S = 5
MAX_URIS = 100
MAX_URI_LENGTH = 2000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Schemes that run or read something locally instead of reaching an application.
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob"})

AUTH_METHODS: dict[AppType, frozenset[AuthMethod]] = {
    AppType.WEB: frozenset(AuthMethod),
    AppType.USER_AGENT: frozenset({AuthMethod.NONE}),
    AppType.NATIVE: frozenset({AuthMethod.NONE}),
    AppType.API: frozenset({AuthMethod.BASIC, AuthMethod.PRIVATE_KEY_JWT}),
}
SECRET_METHODS = frozenset({AuthMethod.BASIC, AuthMethod.POST})


@dataclass(frozen=True)
class OidcConfig:
    """Everything about an app's protocol behaviour, as stored."""

    app_type: AppType
    auth_method: AuthMethod
    redirect_uris: Sequence[str]
    post_logout_redirect_uris: Sequence[str] = ()
    response_types: Sequence[str] = DEFAULT_RESPONSE_TYPES
    grant_types: Sequence[str] = DEFAULT_GRANT_TYPES
    access_token_type: TokenType = TokenType.BEARER
    access_token_role_assertion: bool = False
    id_token_role_assertion: bool = False
    id_token_userinfo_assertion: bool = False
    clock_skew_s: int = 0
    dev_mode: bool = False
    additional_origins: Sequence[str] = ()


def _invalid(code: str, message: str, field: str) -> InvalidArgument:
    return InvalidArgument(f"app.{code}", message, field=field)


def checked(config: OidcConfig) -> OidcConfig:
    """The config with enums, tuples and trimmed URIs, or InvalidArgument naming the field."""
    app_type = _enum(AppType, config.app_type, "app_type")
    auth_method = _enum(AuthMethod, config.auth_method, "auth_method")
    if auth_method not in AUTH_METHODS[app_type]:
        allowed = ", ".join(sorted(m.value for m in AUTH_METHODS[app_type]))
        raise _invalid(
            "auth_method.not_allowed",
            f"{app_type.value} apps authenticate with {allowed}",
            "auth_method",
        )
    skew = config.clock_skew_s
    if isinstance(skew, bool) or not isinstance(skew, int) or not 0 <= skew <= MAX_CLOCK_SKEW_S:
        raise _invalid(
            "clock_skew.range", f"clock skew is 0 to {MAX_CLOCK_SKEW_S} seconds", "clock_skew_s"
        )
    base = OidcConfig(
        app_type=app_type,
        auth_method=auth_method,
        redirect_uris=_strings(config.redirect_uris, "redirect_uris"),
        post_logout_redirect_uris=_strings(
            config.post_logout_redirect_uris, "post_logout_redirect_uris"
        ),
        response_types=_strings(config.response_types, "response_types"),
        grant_types=_strings(config.grant_types, "grant_types"),
        access_token_type=_enum(TokenType, config.access_token_type, "access_token_type"),
        access_token_role_assertion=bool(config.access_token_role_assertion),
        id_token_role_assertion=bool(config.id_token_role_assertion),
        id_token_userinfo_assertion=bool(config.id_token_userinfo_assertion),
        clock_skew_s=skew,
        dev_mode=bool(config.dev_mode),
        additional_origins=_strings(config.additional_origins, "additional_origins"),
    )
    if app_type is AppType.API:
        return _checked_api(base)
    _check_flows(base)
    return replace(
        base,
        response_types=offered(base.response_types, RESPONSE_TYPES),
        grant_types=offered(base.grant_types, GRANT_TYPES),
        redirect_uris=tuple(
            _redirect_uri(u, base, field="redirect_uris") for u in base.redirect_uris
        ),
        post_logout_redirect_uris=tuple(
            _redirect_uri(u, base, field="post_logout_redirect_uris")
            for u in base.post_logout_redirect_uris
        ),
        additional_origins=tuple(dict.fromkeys(_origin(o) for o in base.additional_origins)),
    )


def _checked_api(config: OidcConfig) -> OidcConfig:
    """API apps are resource servers: they introspect tokens and never send users anywhere.

    The default response and grant types of a new app are accepted and dropped.
    """
    for field in ("redirect_uris", "post_logout_redirect_uris", "additional_origins"):
        if getattr(config, field):
            raise _invalid(f"api.{field}", "API apps have no redirects or origins", field)
    if tuple(config.response_types) not in ((), DEFAULT_RESPONSE_TYPES):
        raise _invalid("api.response_types", "API apps have no response types", "response_types")
    if tuple(config.grant_types) not in ((), DEFAULT_GRANT_TYPES):
        raise _invalid("api.grant_types", "API apps use no grant types", "grant_types")
    return replace(config, response_types=(), grant_types=())


def offered(values: Sequence[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The values that are on offer, in the offer's order; any other value counts as absent."""
    return tuple(value for value in allowed if value in values)


def _check_flows(config: OidcConfig) -> None:
    """Response types, grant types and redirect URIs must fit together.

    Only the code flow is served, so every browser app has the code response type, the
    authorization_code grant and a redirect URI; refresh tokens are optional.
    """
    responses, grants = set(config.response_types), set(config.grant_types)
    _served(responses, RESPONSE_TYPES, served.UNSERVED_RESPONSE_TYPES, "response_types")
    _served(grants, GRANT_TYPES, served.UNSERVED_GRANT_TYPES, "grant_types")
    if not responses:
        raise _invalid("response_types.required", "choose a response type", "response_types")
    if "refresh_token" in grants and "authorization_code" not in grants:
        raise _invalid(
            "grant_types.refresh",
            "refresh tokens come with the authorization_code grant",
            "grant_types",
        )
    if "authorization_code" not in grants:
        raise _invalid(
            "grant_types.code",
            "the code response type needs the authorization_code grant",
            "grant_types",
        )
    if not config.redirect_uris:
        raise _invalid("redirect_uris.required", "add at least one redirect URI", "redirect_uris")


def _redirect_uri(uri: str, config: OidcConfig, *, field: str) -> str:
    """One redirect or post-logout URI, checked against the app's type and dev mode."""
    parts = _split(uri, field)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if config.app_type is not AppType.NATIVE:
            raise _invalid(
                "redirect_uri.custom_only_native",
                f"{uri}: custom schemes are for native apps; use https",
                field,
            )
        if scheme in _FORBIDDEN_SCHEMES or not (parts.netloc or parts.path):
            raise _invalid("redirect_uri.invalid", f"{uri} cannot be a redirect URI", field)
        return uri
    if not parts.hostname:
        raise _invalid("redirect_uri.no_host", f"{uri} has no host", field)
    if scheme == "http" and not config.dev_mode:
        loopback = parts.hostname in LOOPBACK_HOSTS
        if config.app_type is not AppType.NATIVE or not loopback:
            raise _invalid(
                "redirect_uri.http_not_allowed",
                f"{uri}: use https (http only in dev mode, or to loopback for native apps)",
                field,
            )
    return uri


def _origin(value: str) -> str:
    """A CORS origin: scheme, host and optional port, nothing else."""
    field = "additional_origins"
    parts = _split(value, field)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.username is not None
    ):
        raise _invalid(
            "origin.invalid", f"{value} is not an origin like https://app.example.com", field
        )
    port = f":{parts.port}" if parts.port is not None else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme.lower()}://{host}{port}"


def _split(uri: str, field: str) -> SplitResult:
    if len(uri) > MAX_URI_LENGTH or any(c.isspace() or ord(c) < 0x20 for c in uri):
        raise _invalid("uri.invalid", f"{uri[:80]} is not a URI", field)
    if "#" in uri:
        raise _invalid("uri.fragment", f"{uri}: URIs cannot have a fragment", field)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise _invalid("uri.invalid", f"{uri} is not a URI", field) from exc
    if not parts.scheme:
        raise _invalid("uri.relative", f"{uri}: give an absolute URI with a scheme", field)
    return parts


def _strings(values: Sequence[str], field: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise _invalid(f"{field}.not_list", f"give {field} as a list", field)
    cleaned = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(cleaned) > MAX_URIS:
        raise _invalid(f"{field}.too_many", f"at most {MAX_URIS} entries", field)
    return cleaned


def _served(
    values: set[str], allowed: tuple[str, ...], unserved: tuple[str, ...], field: str
) -> None:
    """Refuse a value the provider does not serve; ZITADEL's own values get their own code."""
    for value in sorted(values - set(allowed)):
        choices = ", ".join(allowed)
        if value in unserved:
            raise _invalid(
                f"{field}.unsupported",
                f"{value} is not served by zitui; choose from {choices}",
                field,
            )
        raise _invalid(f"{field}.unknown", f"{value} is not one of {choices}", field)


def _enum(kind: type[E], value: object, field: str) -> E:
    try:
        return kind(value)
    except ValueError as exc:
        options = ", ".join(str(member.value) for member in kind)
        raise _invalid(f"{field}.invalid", f"{field} must be one of {options}", field) from exc
