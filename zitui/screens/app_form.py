"""The OIDC settings form shared by creating and editing an application."""

from __future__ import annotations

from zitui.core.apps import NewOidcApp, OidcConfigChange
from zitui.core.oidc_config import GRANT_TYPES, RESPONSE_TYPES
from zitui.errors import InvalidArgument
from zitui.records import App, AppType, AuthMethod, TokenType
from zitui.screens.form import Field, Values

APP_TYPES = (
    ("Web (server-side)", AppType.WEB.value),
    ("User agent (single-page)", AppType.USER_AGENT.value),
    ("Native (mobile, desktop)", AppType.NATIVE.value),
    ("API (resource server)", AppType.API.value),
)
AUTH_METHODS = (
    ("Basic (client secret in the header)", AuthMethod.BASIC.value),
    ("Post (client secret in the body)", AuthMethod.POST.value),
    ("Private key JWT", AuthMethod.PRIVATE_KEY_JWT.value),
    ("None (PKCE)", AuthMethod.NONE.value),
)
TOKEN_TYPES = (("Opaque (bearer)", TokenType.BEARER.value), ("JWT", TokenType.JWT.value))


def oidc_fields(app: App | None) -> list[Field]:
    """Every setting; for a new app the defaults of a web app with a client secret."""
    return [
        Field(
            "app_type",
            "Type",
            app.app_type.value if app else AppType.WEB.value,
            kind="choice",
            choices=APP_TYPES,
        ),
        Field(
            "auth_method",
            "Authentication",
            app.auth_method.value if app else AuthMethod.BASIC.value,
            kind="choice",
            choices=AUTH_METHODS,
        ),
        Field(
            "redirect_uris",
            "Redirect URIs",
            app.redirect_uris if app else (),
            kind="lines",
            hint="One per line.",
        ),
        Field(
            "post_logout_redirect_uris",
            "Post-logout redirect URIs",
            app.post_logout_redirect_uris if app else (),
            kind="lines",
        ),
        Field(
            "response_types",
            "Response types",
            app.response_types if app else ("code",),
            kind="multi",
            choices=tuple((t, t) for t in RESPONSE_TYPES),
        ),
        Field(
            "grant_types",
            "Grant types",
            app.grant_types if app else ("authorization_code",),
            kind="multi",
            choices=tuple((t, t) for t in GRANT_TYPES),
        ),
        Field(
            "access_token_type",
            "Access token",
            app.access_token_type.value if app else TokenType.BEARER.value,
            kind="choice",
            choices=TOKEN_TYPES,
        ),
        Field(
            "access_token_role_assertion",
            "Roles in the access token",
            app.access_token_role_assertion if app else False,
            kind="check",
        ),
        Field(
            "id_token_role_assertion",
            "Roles in the ID token",
            app.id_token_role_assertion if app else False,
            kind="check",
        ),
        Field(
            "id_token_userinfo_assertion",
            "User info in the ID token",
            app.id_token_userinfo_assertion if app else False,
            kind="check",
        ),
        Field(
            "clock_skew_s",
            "Clock skew (seconds)",
            str(app.clock_skew_s if app else 0),
            hint="0 to 5.",
        ),
        Field(
            "dev_mode",
            "Development mode (allows http and loose redirects)",
            app.dev_mode if app else False,
            kind="check",
        ),
        Field(
            "additional_origins",
            "Additional origins",
            app.additional_origins if app else (),
            kind="lines",
            hint="For CORS, one per line.",
        ),
    ]


def clock_skew(text: str) -> int:
    try:
        return int(text.strip() or "0")
    except ValueError:
        raise InvalidArgument(
            "app.clock_skew.number",
            "clock skew is a whole number of seconds",
            field="clock_skew_s",
        ) from None


def config_values(values: Values) -> dict[str, object]:
    return {
        "app_type": AppType(values["app_type"]),
        "auth_method": AuthMethod(values["auth_method"]),
        "redirect_uris": tuple(values["redirect_uris"]),
        "post_logout_redirect_uris": tuple(values["post_logout_redirect_uris"]),
        "response_types": tuple(values["response_types"]),
        "grant_types": tuple(values["grant_types"]),
        "access_token_type": TokenType(values["access_token_type"]),
        "access_token_role_assertion": values["access_token_role_assertion"],
        "id_token_role_assertion": values["id_token_role_assertion"],
        "id_token_userinfo_assertion": values["id_token_userinfo_assertion"],
        "clock_skew_s": clock_skew(values["clock_skew_s"]),
        "dev_mode": values["dev_mode"],
        "additional_origins": tuple(values["additional_origins"]),
    }


def new_app(values: Values) -> NewOidcApp:
    return NewOidcApp(name=values["name"], **config_values(values))  # type: ignore[arg-type]


def config_change(values: Values) -> OidcConfigChange:
    return OidcConfigChange(**config_values(values))  # type: ignore[arg-type]
