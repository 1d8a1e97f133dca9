"""Scopes: OIDC Core §5.4 standard scopes and ZITADEL's reserved `urn:zitadel:iam:…` scopes.

ZITADEL source: `internal/domain/oidc_scopes.go` and `internal/domain/auth_request.go`;
semantics in `reference/zitadel-behaviour.md` §2 of the project brief.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

OPENID = "openid"
PROFILE = "profile"
EMAIL = "email"
PHONE = "phone"
ADDRESS = "address"
OFFLINE_ACCESS = "offline_access"

ROLE_PREFIX = "urn:zitadel:iam:org:project:role:"
PROJECTS_ROLES = "urn:zitadel:iam:org:projects:roles"
PROJECT_ID_PREFIX = "urn:zitadel:iam:org:project:id:"
AUD_SUFFIX = ":aud"
ORG_ID_PREFIX = "urn:zitadel:iam:org:id:"
ORG_DOMAIN_PREFIX = "urn:zitadel:iam:org:domain:primary:"
ROLES_OF_ORG_PREFIX = "urn:zitadel:iam:org:roles:id:"
METADATA = "urn:zitadel:iam:user:metadata"
RESOURCE_OWNER = "urn:zitadel:iam:user:resourceowner"

# What discovery advertises: the scopes zitui answers with claims. `address` is left out on
# purpose: users have no postal address here, and an advertised scope without its claim is a
# conformance warning, while an unlisted one is simply skipped.
SUPPORTED = (
    OPENID,
    PROFILE,
    EMAIL,
    PHONE,
    OFFLINE_ACCESS,
    PROJECTS_ROLES,
    RESOURCE_OWNER,
)
MAX_SCOPES = 100
MAX_SCOPE_LENGTH = 400


def parse(text: str) -> tuple[str, ...]:
    """RFC 6749 §3.3: space-delimited, order-insensitive; duplicates are dropped."""
    return tuple(dict.fromkeys(s for s in text.split(" ") if s))


def well_formed(scopes: tuple[str, ...]) -> bool:
    """RFC 6749 §3.3 scope-token characters, within sane limits."""
    return len(scopes) <= MAX_SCOPES and all(
        len(s) <= MAX_SCOPE_LENGTH and all(0x21 <= ord(c) <= 0x7E and c not in '"\\' for c in s)
        for s in scopes
    )


@dataclass(frozen=True)
class Scopes:
    """A granted scope list and what its reserved scopes ask for."""

    values: tuple[str, ...]

    def __contains__(self, scope: object) -> bool:
        return scope in self.values

    @property
    def text(self) -> str:
        return " ".join(self.values)

    @cached_property
    def requested_roles(self) -> frozenset[str]:
        """`urn:zitadel:iam:org:project:role:{key}`: the roles claim is filtered to these."""
        return frozenset(s[len(ROLE_PREFIX) :] for s in self.values if s.startswith(ROLE_PREFIX))

    @property
    def all_projects_roles(self) -> bool:
        return PROJECTS_ROLES in self.values

    @property
    def asks_for_roles(self) -> bool:
        return bool(self.requested_roles) or self.all_projects_roles

    @cached_property
    def audience_projects(self) -> tuple[str, ...]:
        """`urn:zitadel:iam:org:project:id:{id}:aud`: projects added to the audience."""
        return tuple(
            s[len(PROJECT_ID_PREFIX) : -len(AUD_SUFFIX)]
            for s in self.values
            if s.startswith(PROJECT_ID_PREFIX) and s.endswith(AUD_SUFFIX)
        )

    @cached_property
    def org_id(self) -> str:
        """`urn:zitadel:iam:org:id:{id}`: the user must belong to this organisation."""
        return next(
            (s[len(ORG_ID_PREFIX) :] for s in self.values if s.startswith(ORG_ID_PREFIX)), ""
        )

    @cached_property
    def org_domain(self) -> str:
        """`urn:zitadel:iam:org:domain:primary:{domain}`: the same, chosen by primary domain."""
        return next(
            (s[len(ORG_DOMAIN_PREFIX) :] for s in self.values if s.startswith(ORG_DOMAIN_PREFIX)),
            "",
        )

    @cached_property
    def role_orgs(self) -> frozenset[str]:
        """`urn:zitadel:iam:org:roles:id:{id}`: only roles granted by these organisations."""
        return frozenset(
            s[len(ROLES_OF_ORG_PREFIX) :] for s in self.values if s.startswith(ROLES_OF_ORG_PREFIX)
        )
