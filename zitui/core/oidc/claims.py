"""Claims about the user: OIDC Core §5.1 standard claims by scope (§5.4), and ZITADEL's
roles, organisation and resource-owner claims.

Empty values are left out: OIDC Core §5.3.2 allows omitting claims without a value, and the
conformance suite fails on empty strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zitui.core.oidc import scopes as sc
from zitui.core.oidc.scopes import Scopes
from zitui.records import GrantedRoles, Organization, User

ROLES = "urn:zitadel:iam:org:project:roles"
ORG_ID = "urn:zitadel:iam:org:id"
ORG_DOMAIN = "urn:zitadel:iam:org:domain:primary"
RESOURCE_OWNER_ID = "urn:zitadel:iam:user:resourceowner:id"
RESOURCE_OWNER_NAME = "urn:zitadel:iam:user:resourceowner:name"
RESOURCE_OWNER_DOMAIN = "urn:zitadel:iam:user:resourceowner:primary_domain"

PROFILE_CLAIMS = (
    "name",
    "given_name",
    "family_name",
    "nickname",
    "preferred_username",
    "gender",
    "locale",
    "updated_at",
)
EMAIL_CLAIMS = ("email", "email_verified")
PHONE_CLAIMS = ("phone_number", "phone_number_verified")
# Discovery's claims_supported: the ID token's own claims, then everything above.
SUPPORTED = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "acr",
    "azp",
    "at_hash",
    "sid",
    *PROFILE_CLAIMS,
    *EMAIL_CLAIMS,
    *PHONE_CLAIMS,
    ROLES,
    ORG_ID,
    ORG_DOMAIN,
    RESOURCE_OWNER_ID,
    RESOURCE_OWNER_NAME,
    RESOURCE_OWNER_DOMAIN,
)


def project_roles(project_id: str) -> str:
    """The per-project roles claim of `urn:zitadel:iam:org:projects:roles`."""
    return f"urn:zitadel:iam:org:project:{project_id}:roles"


def user_claims(user: User, scopes: Scopes) -> dict[str, Any]:
    """Standard claims of the profile, email and phone scopes that have a value."""
    claims: dict[str, Any] = {}
    if sc.PROFILE in scopes:
        claims |= {
            "name": user.display_name,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "nickname": user.nickname,
            "preferred_username": user.login_name,
            "gender": user.gender,
            "locale": user.preferred_language,
            "updated_at": int(user.updated_at.timestamp()),
        }
    if sc.EMAIL in scopes and user.email:
        claims |= {"email": user.email, "email_verified": user.email_verified}
    if sc.PHONE in scopes and user.phone:
        claims |= {"phone_number": user.phone, "phone_number_verified": user.phone_verified}
    return {name: value for name, value in claims.items() if value != ""}


def org_claims(user: User, org: Organization | None, scopes: Scopes) -> dict[str, Any]:
    """Claims of the organisation and resource-owner scopes, for the user's own organisation."""
    claims: dict[str, Any] = {}
    if org is None:
        return claims
    if scopes.org_id == org.id or (scopes.org_domain and scopes.org_domain == org.primary_domain):
        claims[ORG_ID] = org.id
        if org.primary_domain:
            claims[ORG_DOMAIN] = org.primary_domain
    if sc.RESOURCE_OWNER in scopes:
        claims[RESOURCE_OWNER_ID] = org.id
        claims[RESOURCE_OWNER_NAME] = org.name
        if org.primary_domain:
            claims[RESOURCE_OWNER_DOMAIN] = org.primary_domain
    return claims


def role_claims(
    grants: Iterable[GrantedRoles], scopes: Scopes, *, project_id: str, projects: Iterable[str]
) -> dict[str, Any]:
    """ZITADEL's roles claim `{role: {org_id: org_primary_domain}}` for the client's project,
    and with `urn:zitadel:iam:org:projects:roles` one claim per project of the audience.

    Role scopes filter the roles; `urn:zitadel:iam:org:roles:id:{org}` filters the granting
    organisations. A claim without roles is left out.
    """
    by_project: dict[str, dict[str, dict[str, str]]] = {}
    for grant in grants:
        if scopes.role_orgs and grant.org_id not in scopes.role_orgs:
            continue
        roles = by_project.setdefault(grant.project_id, {})
        for key in grant.role_keys:
            if not scopes.requested_roles or key in scopes.requested_roles:
                roles.setdefault(key, {})[grant.org_id] = grant.org_primary_domain
    claims: dict[str, Any] = {}
    if by_project.get(project_id):
        claims[ROLES] = by_project[project_id]
    if scopes.all_projects_roles:
        for other in projects:
            if by_project.get(other):
                claims[project_roles(other)] = by_project[other]
    return claims
