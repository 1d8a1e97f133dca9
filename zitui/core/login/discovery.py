"""Domain discovery (ZITADEL's `allow_domain_discovery`): the organisation a typed login
name leads to when the request names none.

The text after the last `@` must be a verified domain of an active organisation whose login
policy allows discovery; the flow then continues in that organisation, whose policies,
branding and texts apply from the next page on.
"""

from __future__ import annotations

from dataclasses import dataclass

from zitui.core.credentials import login_policy
from zitui.core.policies import LoginPolicy
from zitui.records import OrgState
from zitui.store import Repositories


@dataclass(frozen=True)
class Discovered:
    """The organisation a login name's domain discovered, and its login policy."""

    org_id: str
    policy: LoginPolicy

    @property
    def offers_registration(self) -> bool:
        return self.policy.allow_register and self.policy.allow_username_password


async def discovered_org(tx: Repositories, login_name: str) -> Discovered | None:
    """The organisation `login_name`'s domain discovers, or None."""
    _, at, domain = login_name.rpartition("@")
    if not at or not domain:
        return None
    org = await tx.orgs.find_by_verified_domain(domain)
    if org is None or org.state is not OrgState.ACTIVE:
        return None
    policy = await login_policy(tx, org.id)
    return Discovered(org.id, policy) if policy.allow_domain_discovery else None
