"""What the provider serves: the response types and grants of applications, and the grants of
machine users.

The authorization endpoint answers only `response_type=code` (RFC 6749 §4.1.1;
`authorization_request.py`), and the token endpoint runs only the grants named here
(`tokens.py`). ZITADEL knows more: the response types `id_token` and `id_token token`
(implicit and hybrid flows, OIDC Core §3.2, §3.3) and the grants `implicit`, `device_code`
(RFC 8628) and `token_exchange` (RFC 8693). zitui serves none of them, so an app cannot be
set up with them (`zitui/core/oidc_config.py`) and discovery does not list them. A value
belongs here only together with the code that serves it.
"""

from __future__ import annotations

RESPONSE_TYPES = ("code",)
APP_GRANT_TYPES = ("authorization_code", "refresh_token")
MACHINE_GRANT_TYPES = ("client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer")
GRANT_TYPES = (*APP_GRANT_TYPES, *MACHINE_GRANT_TYPES)

# ZITADEL's values for app settings that zitui does not serve, named in refusals.
UNSERVED_RESPONSE_TYPES = ("id_token", "id_token token")
UNSERVED_GRANT_TYPES = ("implicit", "device_code", "token_exchange")
