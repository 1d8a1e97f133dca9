"""Every route path of the server, in one place; OIDC paths follow ZITADEL's."""

from __future__ import annotations

HOME = "/"
HEALTHZ = "/healthz"
STATIC = "/static"
STYLESHEET = f"{STATIC}/zitui.css"

AUTHORIZE = "/oauth/v2/authorize"
TOKEN = "/oauth/v2/token"
INTROSPECT = "/oauth/v2/introspect"
REVOKE = "/oauth/v2/revoke"
KEYS = "/oauth/v2/keys"
DEVICE_AUTHORIZATION = "/oauth/v2/device_authorization"
USERINFO = "/oidc/v1/userinfo"
END_SESSION = "/oidc/v1/end_session"
DISCOVERY = "/.well-known/openid-configuration"

LOGIN_PREFIX = "/ui/login"

# Clients of these paths are programs: their errors are JSON whatever they accept.
JSON_PREFIXES = ("/oauth/", "/oidc/", "/api/")
