"""The OIDC settings of an application and the rules they must follow (ZITADEL's semantics).

Sources: ZITADEL `internal/domain/application_oidc.go` (its compliance checks), RFC 6749
§3.1.2 (redirection endpoint: absolute, no fragment), RFC 8252 §7 (native apps: private-use
schemes and loopback redirects).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

from zitui.errors import InvalidArgument
from zitui.records import AppType, AuthMethod, TokenType

E = TypeVar("E", bound=Enum)

RESPONSE_TYPES = ("code", "id_token", "id_token token")
GRANT_TYPES = ("authorization_code", "implicit", "refresh_token", "device_code", "token_exchange")
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
    implicit = "implicit" in base.grant_types
    return replace(
        base,
        redirect_uris=tuple(
            _redirect_uri(u, base, field="redirect_uris", implicit=implicit)
            for u in base.redirect_uris
        ),
        post_logout_redirect_uris=tuple(
            _redirect_uri(u, base, field="post_logout_redirect_uris", implicit=False)
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


def _check_flows(config: OidcConfig) -> None:
    """Response types, grant types and redirect URIs must fit together."""
    responses, grants = set(config.response_types), set(config.grant_types)
    _subset(responses, RESPONSE_TYPES, "response_types")
    _subset(grants, GRANT_TYPES, "grant_types")
    if not responses:
        raise _invalid("response_types.required", "choose a response type", "response_types")
    if "code" in responses and not grants & {"authorization_code", "device_code"}:
        raise _invalid(
            "grant_types.code",
            "the code response type needs the authorization_code or device_code grant",
            "grant_types",
        )
    if responses & {"id_token", "id_token token"} and "implicit" not in grants:
        raise _invalid(
            "grant_types.implicit", "id_token response types need the implicit grant", "grant_types"
        )
    if "authorization_code" in grants and "code" not in responses:
        raise _invalid(
            "response_types.code",
            "the authorization_code grant needs the code response type",
            "response_types",
        )
    if "implicit" in grants and not responses & {"id_token", "id_token token"}:
        raise _invalid(
            "response_types.implicit",
            "the implicit grant needs an id_token response type",
            "response_types",
        )
    if "refresh_token" in grants and not grants & {"authorization_code", "device_code"}:
        raise _invalid(
            "grant_types.refresh",
            "refresh tokens come with the authorization_code or device_code grant",
            "grant_types",
        )
    if grants & {"authorization_code", "implicit"} and not config.redirect_uris:
        raise _invalid("redirect_uris.required", "add at least one redirect URI", "redirect_uris")


def _redirect_uri(uri: str, config: OidcConfig, *, field: str, implicit: bool) -> str:
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
        if implicit:
            raise _invalid(
                "redirect_uri.implicit_http",
                f"{uri}: the implicit flow needs https outside dev mode",
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


def _subset(values: set[str], allowed: tuple[str, ...], field: str) -> None:
    unknown = sorted(values - set(allowed))
    if unknown:
        raise _invalid(
            f"{field}.unknown", f"{unknown[0]} is not one of {', '.join(allowed)}", field
        )


def _enum(kind: type[E], value: object, field: str) -> E:
    try:
        return kind(value)
    except ValueError as exc:
        options = ", ".join(str(member.value) for member in kind)
        raise _invalid(f"{field}.invalid", f"{field} must be one of {options}", field) from exc
