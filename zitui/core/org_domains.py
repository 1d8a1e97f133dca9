"""Organisation domains: add, prove ownership, make primary, remove.

zitui may run without outbound network, so it does not fetch the challenge itself:
verifying is an operator's confirmation that the token is published where
`OrgDomain.validation_target` says (ZITADEL's DNS and HTTP challenge locations).
"""

from __future__ import annotations

from typing import Any

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.crypto.tokens import random_token
from zitui.core.permissions import Resource
from zitui.core.policies import DomainPolicy, from_settings
from zitui.errors import AlreadyExists, NotFound, PreconditionFailed
from zitui.records import Organization, OrgDomain
from zitui.store import Repositories, Store

VALIDATION_METHODS = ("dns", "http")


class OrgDomainCommands:
    """The domain part of `OrgService`."""

    _store: Store
    _authz: Authorizer

    async def list_domains(self, ctx: Context, org_id: str) -> list[OrgDomain]:
        await self._authz.require(ctx, "org.read", Resource(org_id=org_id))
        async with self._store.reader() as tx:
            await load_org(tx, org_id)
            return await tx.orgs.list_domains(org_id)

    async def add_domain(self, ctx: Context, org_id: str, domain: str) -> OrgDomain:
        """Add an unverified domain with a fresh validation token."""
        await self._authz.require(ctx, "org.write", Resource(org_id=org_id))
        domain = validation.domain(domain)
        async with self._store.transaction() as tx:
            await load_org(tx, org_id)
            if await tx.orgs.domain_exists(domain):
                raise AlreadyExists(
                    "org.domain.taken", "this domain belongs to an organisation", field="domain"
                )
            await tx.orgs.insert_domain(
                org_id,
                domain,
                primary=False,
                verified=False,
                at=ctx.now(),
                validation_token=_token(),
            )
            await _record(tx, ctx, org_id, "org.domain.added", {"domain": domain})
            return await load_domain(tx, org_id, domain)

    async def generate_domain_validation(
        self, ctx: Context, org_id: str, domain: str, method: str
    ) -> OrgDomain:
        """Choose how ownership is shown (`dns` or `http`) and issue a fresh token."""
        await self._authz.require(ctx, "org.write", Resource(org_id=org_id))
        method = validation.choice(method, VALIDATION_METHODS, field="method")
        domain = validation.domain(domain)
        async with self._store.transaction() as tx:
            found = await load_domain(tx, org_id, domain)
            if found.is_verified:
                raise PreconditionFailed("org.domain.verified", "this domain is verified already")
            await tx.orgs.set_domain_validation(domain, method=method, token=_token())
            payload = {"domain": domain, "validation_type": method}
            await _record(tx, ctx, org_id, "org.domain.verification.added", payload)
            return await load_domain(tx, org_id, domain)

    async def verify_domain(self, ctx: Context, org_id: str, domain: str) -> OrgDomain:
        """Mark a domain verified on an operator's word that the challenge is published.

        When the domain policy demands validated domains only an instance manager
        (`iam.write`) may confirm, and a challenge must have been issued first.
        """
        domain = validation.domain(domain)
        async with self._store.reader() as tx:
            policy = await domain_policy(tx, org_id)
        strict = policy.validate_org_domains
        permission, resource = (
            ("iam.write", Resource.instance()) if strict else ("org.write", Resource(org_id=org_id))
        )
        await self._authz.require(ctx, permission, resource)
        async with self._store.transaction() as tx:
            found = await load_domain(tx, org_id, domain)
            if found.is_verified:
                raise PreconditionFailed("org.domain.verified", "this domain is verified already")
            if strict and not found.validation_type:
                raise PreconditionFailed(
                    "org.domain.no_challenge",
                    "issue a DNS or HTTP challenge for this domain first",
                )
            await tx.orgs.mark_domain_verified(domain)
            payload = {"domain": domain, "validation_type": found.validation_type}
            await _record(tx, ctx, org_id, "org.domain.verified", payload)
            return await load_domain(tx, org_id, domain)

    async def set_primary_domain(self, ctx: Context, org_id: str, domain: str) -> Organization:
        """Make `domain` primary; login names become `username@domain`."""
        await self._authz.require(ctx, "org.write", Resource(org_id=org_id))
        domain = validation.domain(domain)
        async with self._store.transaction() as tx:
            found = await load_domain(tx, org_id, domain)
            if found.is_primary:
                raise PreconditionFailed("org.domain.primary", "this domain is primary already")
            policy = await domain_policy(tx, org_id)
            if policy.validate_org_domains and not found.is_verified:
                raise PreconditionFailed(
                    "org.domain.unverified", "verify this domain before making it primary"
                )
            await tx.orgs.set_primary_domain(org_id, domain)
            await _record(tx, ctx, org_id, "org.domain.primary.set", {"domain": domain})
            return await load_org(tx, org_id)

    async def remove_domain(self, ctx: Context, org_id: str, domain: str) -> None:
        await self._authz.require(ctx, "org.write", Resource(org_id=org_id))
        domain = validation.domain(domain)
        async with self._store.transaction() as tx:
            found = await load_domain(tx, org_id, domain)
            if found.is_primary:
                raise PreconditionFailed(
                    "org.domain.primary", "make another domain primary before removing this one"
                )
            await tx.orgs.delete_domain(domain)
            await _record(tx, ctx, org_id, "org.domain.removed", {"domain": domain})


def _token() -> str:
    return random_token(24)


async def domain_policy(tx: Repositories, org_id: str) -> DomainPolicy:
    return from_settings(DomainPolicy, await tx.policies.find_effective("domain", org_id))


async def load_org(tx: Repositories, org_id: str) -> Organization:
    org = await tx.orgs.find(org_id)
    if org is None:
        raise NotFound("org.not_found", "no such organisation")
    return org


async def load_domain(tx: Repositories, org_id: str, domain: str) -> OrgDomain:
    found = await tx.orgs.find_domain(org_id, domain)
    if found is None:
        raise NotFound(
            "org.domain.not_found", "the organisation has no such domain", field="domain"
        )
    return found


async def _record(
    tx: Repositories, ctx: Context, org_id: str, event_type: str, payload: dict[str, Any]
) -> None:
    await record(tx, ctx, event_type, aggregate=("org", org_id), org_id=org_id, payload=payload)
