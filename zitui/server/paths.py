"""Every route path of the server, in one place; OIDC paths follow ZITADEL's."""

from __future__ import annotations

from zitui.core.branding import BRANDING_PREVIEW_PATH
from zitui.core.user_codes import PASSWORD_INIT_PATH, USER_INIT_PATH, VERIFY_EMAIL_PATH

HOME = "/"
HEALTHZ = "/healthz"
# Ready for traffic: the store answers and its schema is this version's (zitui/server/pages.py).
READYZ = "/readyz"
# Prometheus text format, behind a token or on a listener of its own (zitui/server/metrics.py).
METRICS = "/metrics"
STATIC = "/static"
STYLESHEET = f"{STATIC}/zitui.css"
# The one script of the hosted pages: WebAuthn ceremonies (security keys and passkeys).
WEBAUTHN_SCRIPT = f"{STATIC}/webauthn.js"

AUTHORIZE = "/oauth/v2/authorize"
# The hosted login hands a finished sign-in back here (`?id=<auth request id>`), as ZITADEL does.
AUTHORIZE_CALLBACK = "/oauth/v2/authorize/callback"
TOKEN = "/oauth/v2/token"
INTROSPECT = "/oauth/v2/introspect"
REVOKE = "/oauth/v2/revoke"
KEYS = "/oauth/v2/keys"
DEVICE_AUTHORIZATION = "/oauth/v2/device_authorization"
USERINFO = "/oidc/v1/userinfo"
END_SESSION = "/oidc/v1/end_session"
DISCOVERY = "/.well-known/openid-configuration"

LOGIN_PREFIX = "/ui/login"
# Hosted login (ZITADEL's login v1 names): `LOGIN` decides between the account list and the
# login-name page; the others are the steps and the sign-out pages.
LOGIN = f"{LOGIN_PREFIX}/login"
LOGIN_NAME = f"{LOGIN_PREFIX}/loginname"
LOGIN_PASSWORD = f"{LOGIN_PREFIX}/password"
LOGIN_PASSWORD_CHANGE = f"{LOGIN_PREFIX}/password/change"
LOGIN_USER_SELECTION = f"{LOGIN_PREFIX}/userselection"
LOGIN_SIGNED_IN = f"{LOGIN_PREFIX}/signedin"
LOGIN_REGISTER = f"{LOGIN_PREFIX}/register"
# The pages the links in mails open (their paths live with the codes, in core).
LOGIN_VERIFY_EMAIL = VERIFY_EMAIL_PATH
LOGIN_PASSWORD_INIT = PASSWORD_INIT_PATH
LOGIN_USER_INIT = USER_INIT_PATH
LOGIN_PASSWORD_RESET = f"{LOGIN_PREFIX}/password/reset"
LOGIN_CODE_RESEND = f"{LOGIN_PREFIX}/code/resend"
# Second factors after the password: the set-up prompt, TOTP set-up, the recovery codes shown
# once, and the check of a factor.
LOGIN_MFA_PROMPT = f"{LOGIN_PREFIX}/mfa/prompt"
LOGIN_MFA_TOTP = f"{LOGIN_PREFIX}/mfa/totp"
LOGIN_MFA_RECOVERY_CODES = f"{LOGIN_PREFIX}/mfa/recovery-codes"
LOGIN_MFA_VERIFY = f"{LOGIN_PREFIX}/mfa/verify"
# Registering a security key or passkey, proving one, and signing in with a passkey alone.
LOGIN_MFA_KEY = f"{LOGIN_PREFIX}/mfa/key"
LOGIN_MFA_VERIFY_KEY = f"{LOGIN_PREFIX}/mfa/verify/key"
LOGIN_PASSKEY = f"{LOGIN_PREFIX}/login/passwordless"
# A signed-in account adds a factor (from the signed-in page).
LOGIN_MFA_ADD = f"{LOGIN_PREFIX}/mfa/add"
# External identity providers (ZITADEL's login v1 paths): a provider's button, its answer
# (the redirect URI to register at the provider, and its form_post twin), the choice for an
# identity no account is linked to, and the registration pre-filled from the provider.
LOGIN_EXTERNAL = f"{LOGIN_PREFIX}/login/externalidp"
LOGIN_EXTERNAL_CALLBACK = f"{LOGIN_EXTERNAL}/callback"
LOGIN_EXTERNAL_CALLBACK_FORM = f"{LOGIN_EXTERNAL_CALLBACK}/form"
LOGIN_EXTERNAL_OPTION = f"{LOGIN_PREFIX}/externaluser/option"
LOGIN_EXTERNAL_REGISTER = f"{LOGIN_PREFIX}/register/externalidp"
LOGOUT = f"{LOGIN_PREFIX}/logout"
# An organisation's stylesheet, logos and icons (`/{org id or "instance"}/style.css`, `/{kind}`),
# and the login-name page with an organisation's branding and no flow (`?org=`).
LOGIN_BRANDING = f"{LOGIN_PREFIX}/resources/branding"
LOGIN_PREVIEW = BRANDING_PREVIEW_PATH
LOGOUT_DONE = f"{LOGIN_PREFIX}/logout/done"

# The signed-in user's own account pages (ZITADEL's console path); `?account=<session id>`
# picks one of the browser's accounts. The POST-only paths are the forms' actions.
ACCOUNT = "/ui/console/users/me"
ACCOUNT_PROFILE = f"{ACCOUNT}/profile"
ACCOUNT_USERNAME = f"{ACCOUNT}/username"
ACCOUNT_EMAIL = f"{ACCOUNT}/email"
ACCOUNT_EMAIL_VERIFY = f"{ACCOUNT}/email/verify"
ACCOUNT_EMAIL_RESEND = f"{ACCOUNT}/email/resend"
ACCOUNT_PHONE = f"{ACCOUNT}/phone"
ACCOUNT_PHONE_VERIFY = f"{ACCOUNT}/phone/verify"
ACCOUNT_PHONE_RESEND = f"{ACCOUNT}/phone/resend"
ACCOUNT_PHONE_REMOVE = f"{ACCOUNT}/phone/remove"
ACCOUNT_PASSWORD = f"{ACCOUNT}/password"
ACCOUNT_SECURITY = f"{ACCOUNT}/security"
ACCOUNT_FACTOR_ADD = f"{ACCOUNT}/security/add"
ACCOUNT_FACTOR_RENAME = f"{ACCOUNT}/security/rename"
ACCOUNT_FACTOR_REMOVE = f"{ACCOUNT}/security/remove"
ACCOUNT_RECOVERY_CODES = f"{ACCOUNT}/security/recovery-codes"
ACCOUNT_CONNECTIONS = f"{ACCOUNT}/connections"
ACCOUNT_LINK_ADD = f"{ACCOUNT}/connections/link"
ACCOUNT_LINK_REMOVE = f"{ACCOUNT}/connections/remove"
ACCOUNT_SESSIONS = f"{ACCOUNT}/sessions"
ACCOUNT_SESSION_END = f"{ACCOUNT}/sessions/end"
ACCOUNT_SESSIONS_END_OTHERS = f"{ACCOUNT}/sessions/end-others"
ACCOUNT_APP_REVOKE = f"{ACCOUNT}/sessions/revoke"
ACCOUNT_DELETE = f"{ACCOUNT}/delete"
ACCOUNT_DELETED = f"{ACCOUNT}/deleted"

# The account API (ZITADEL's auth API paths), its OpenAPI document and its reference page.
AUTH_API = "/auth/v1"
OPENAPI = "/openapi.json"
API_REFERENCE = "/docs/api"

# Clients of these paths are programs: their errors are JSON whatever they accept.
JSON_PREFIXES = ("/oauth/", "/oidc/", "/api/", "/auth/")
# Endpoints that clients call with tokens or client credentials and that never render a form.
MACHINE_ENDPOINTS = frozenset({TOKEN, INTROSPECT, REVOKE, KEYS, USERINFO, DISCOVERY})
