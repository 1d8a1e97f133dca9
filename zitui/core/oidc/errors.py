"""OAuth 2.0 errors with the specification's `error` codes.

RFC 6749 §4.1.2.1 (authorization errors, sent to the redirect URI), §5.2 (token endpoint
errors: 400, or 401 with `WWW-Authenticate` for failed client authentication), RFC 6750 §3.1
(bearer token errors at resource endpoints such as userinfo), OIDC Core §3.1.2.6
(`login_required`, `interaction_required`, …) and §6.1 (`request_not_supported`).
"""

from __future__ import annotations

import re

# RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E (no `"` and no `\`).
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    """An error a client sees as `{"error": …, "error_description": …}`.

    `status_code` is 400 unless the specification asks otherwise (401 for `invalid_client`
    and `invalid_token`). `challenge` names the `WWW-Authenticate` scheme to send, if any.
    """

    def __init__(
        self,
        error: str,
        description: str = "",
        *,
        status_code: int = 400,
        challenge: str | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = _UNSAFE.sub(" ", description)
        self.status_code = status_code
        self.challenge = challenge

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_scope(description: str) -> OAuthError:
    return OAuthError("invalid_scope", description)


def unauthorized_client(description: str) -> OAuthError:
    return OAuthError("unauthorized_client", description)


def invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    """RFC 6749 §5.2: 401, and a `Basic` challenge when the client tried Basic auth."""
    return OAuthError(
        "invalid_client", description, status_code=401, challenge="Basic" if basic else None
    )


def invalid_token(description: str) -> OAuthError:
    """RFC 6750 §3.1: the access token is expired, revoked, malformed or unknown."""
    return OAuthError("invalid_token", description, status_code=401, challenge="Bearer")


class GrantReplayed(OAuthError):
    """A code or refresh token was used twice: `invalid_grant`, and every token of the grant
    is revoked (RFC 6749 §4.1.2 for codes; OAuth 2.0 Security BCP §4.14.2 for refresh
    tokens). The revocation commits on its own, after the failed request rolled back."""

    def __init__(self, grant_id: str, description: str) -> None:
        super().__init__("invalid_grant", description)
        self.grant_id = grant_id
