"""Authorization responses (RFC 6749 §4.1.2, §4.1.2.1) with the issuer (RFC 9207 §2).

Every response to the redirect URI, success or error, carries `iss`. `query` appends the
parameters to the redirect URI, keeping its own query (§3.1.2); `form_post` (OAuth 2.0 Form
Post Response Mode) has the browser POST them, which the server renders as a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from zitui.core.oidc.errors import OAuthError

QUERY = "query"
FORM_POST = "form_post"
RESPONSE_MODES = (QUERY, FORM_POST)


@dataclass(frozen=True)
class Redirect:
    """Send the browser back to the client with `params`."""

    redirect_uri: str
    response_mode: str
    params: tuple[tuple[str, str], ...]

    @property
    def location(self) -> str:
        separator = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{separator}{urlencode(self.params)}"

    @classmethod
    def success(
        cls, redirect_uri: str, response_mode: str, *, code: str, state: str, issuer: str
    ) -> Redirect:
        params = [("code", code)] + ([("state", state)] if state else []) + [("iss", issuer)]
        return cls(redirect_uri, response_mode, tuple(params))

    @classmethod
    def error(
        cls, redirect_uri: str, response_mode: str, error: OAuthError, *, state: str, issuer: str
    ) -> Redirect:
        params = [("error", error.error)]
        if error.description:
            params.append(("error_description", error.description))
        params += ([("state", state)] if state else []) + [("iss", issuer)]
        return cls(redirect_uri, response_mode, tuple(params))


@dataclass(frozen=True)
class ToLogin:
    """Let the user sign in on the hosted login pages for this auth request."""

    auth_request_id: str
