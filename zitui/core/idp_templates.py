"""What each kind of external identity provider fills in: endpoints, scopes and the names
its answers give the user's attributes.

Every kind speaks one of two protocols through one client (`idp_client.py`): OpenID Connect
(an ID token, endpoints found by the issuer's discovery document) or plain OAuth 2.0 (an
access token and a userinfo call). A template only pre-fills a provider's fields; a manager
may override any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from zitui.records import IdpType

# Our profile fields, and the standard OpenID Connect claims that hold them.
OIDC_CLAIMS = MappingProxyType(
    {
        "username": "preferred_username",
        "email": "email",
        "email_verified": "email_verified",
        "given_name": "given_name",
        "family_name": "family_name",
        "display_name": "name",
        "nickname": "nickname",
        "language": "locale",
        "phone": "phone_number",
        "phone_verified": "phone_number_verified",
    }
)
GITHUB_CLAIMS = MappingProxyType(
    {"username": "login", "email": "email", "display_name": "name", "nickname": "login"}
)
GITHUB_URL = "https://github.com"
GITLAB_URL = "https://gitlab.com"
AZURE_TENANTS = ("common", "organizations", "consumers")


@dataclass(frozen=True)
class Template:
    """`issuer` and the endpoints may hold `{base}` (GitHub Enterprise, self-hosted GitLab)
    or `{tenant}` (Entra ID), filled from the provider's `extra` fields."""

    oidc: bool
    scopes: tuple[str, ...]
    issuer: str = ""
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    userinfo_endpoint: str = ""
    id_attribute: str = "sub"
    claims: MappingProxyType[str, str] = field(default_factory=lambda: OIDC_CLAIMS)
    # The `extra` fields this kind takes, and their defaults.
    extra: dict[str, str] = field(default_factory=dict)
    # Where the provider's emails are taken as verified without a claim saying so.
    emails_verified: bool = False
    # Apple answers with form_post when names or emails are asked for.
    form_post: bool = False


TEMPLATES: MappingProxyType[IdpType, Template] = MappingProxyType(
    {
        IdpType.OIDC: Template(oidc=True, scopes=("openid", "profile", "email")),
        IdpType.OAUTH: Template(oidc=False, scopes=(), id_attribute="id"),
        IdpType.GOOGLE: Template(
            oidc=True,
            scopes=("openid", "profile", "email"),
            issuer="https://accounts.google.com",
        ),
        IdpType.GITLAB: Template(
            oidc=True,
            scopes=("openid", "profile", "email"),
            issuer="{base}",
            extra={"base_url": GITLAB_URL},
        ),
        IdpType.AZURE: Template(
            oidc=True,
            scopes=("openid", "profile", "email"),
            issuer="https://login.microsoftonline.com/{tenant}/v2.0",
            extra={"tenant": "common", "email_verified": "false"},
        ),
        IdpType.APPLE: Template(
            oidc=True,
            scopes=("openid", "name", "email"),
            issuer="https://appleid.apple.com",
            extra={"team_id": "", "key_id": ""},
            form_post=True,
        ),
        IdpType.GITHUB: Template(
            oidc=False,
            scopes=("read:user", "user:email"),
            authorization_endpoint="{base}/login/oauth/authorize",
            token_endpoint="{base}/login/oauth/access_token",
            userinfo_endpoint="{api}/user",
            id_attribute="id",
            claims=GITHUB_CLAIMS,
            extra={"base_url": GITHUB_URL},
        ),
    }
)


def template_of(kind: IdpType) -> Template:
    return TEMPLATES[kind]


def filled(value: str, extra: dict[str, str]) -> str:
    """A template's URL with the provider's `extra` fields in it."""
    base = extra.get("base_url", "").rstrip("/")
    # GitHub's own API lives on its own host; an Enterprise server's under /api/v3.
    api = "https://api.github.com" if base in ("", GITHUB_URL) else f"{base}/api/v3"
    return value.format(base=base, api=api, tenant=extra.get("tenant", ""))
