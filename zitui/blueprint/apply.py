"""Applying a checked blueprint through the core services, all of it in one transaction.

The steps run in dependency order: the instance's settings and identity providers, every
organisation (a project may be granted to an organisation declared further down) with its
own settings and identity providers, then users, machines, projects with their roles, apps,
project grants, managers (of organisations and of project grants) and user grants. Each step
looks its objects up by name and creates only what is missing, so applying a file twice
creates nothing the second time.
"""

from __future__ import annotations

from zitui.blueprint import accounts, grants, projects
from zitui.blueprint.branding import apply_branding
from zitui.blueprint.idps import apply_idps
from zitui.blueprint.policies import apply_policies
from zitui.blueprint.sms import apply_sms
from zitui.blueprint.smtp import apply_smtp
from zitui.blueprint.specs import Blueprint, OrgSpec
from zitui.blueprint.state import ApplyState, Outcome, at
from zitui.blueprint.texts import apply_texts
from zitui.core.services import Services
from zitui.errors import PreconditionFailed
from zitui.records import Organization

ORIGIN = "blueprint"


async def apply_blueprint(services: Services, blueprint: Blueprint) -> Outcome:
    """Apply `blueprint` as the instance; a refusal anywhere rolls everything back."""
    state = ApplyState(services, services.system_context(origin=ORIGIN))
    async with services.store.atomic():
        if blueprint.sms is not None:
            await apply_sms(state, blueprint.sms)
        await apply_texts(state, blueprint.texts, org_id=None, owner="the instance")
        await apply_policies(state, blueprint.policies, org_id=None, owner="the instance")
        await apply_branding(state, blueprint.branding, org_id=None, owner="the instance")
        await apply_idps(state, blueprint.idps, org_id="", owner="the instance")
        for org in blueprint.orgs:
            await ensure_org(state, org)
        for org in blueprint.orgs:
            org_id = state.orgs[org.name.lower()].id
            await apply_texts(state, org.texts, org_id=org_id, owner=org.name)
            await apply_policies(state, org.policies, org_id=org_id, owner=org.name)
            await apply_branding(state, org.branding, org_id=org_id, owner=org.name)
            await apply_idps(state, org.idps, org_id=org_id, owner=org.name)
        if blueprint.smtp is not None:
            # After the domain policy and the organisations' domains its sender rule reads.
            await apply_smtp(state, blueprint.smtp)
        await grants.resolve_granted_orgs(state, blueprint)
        for org in blueprint.orgs:
            await accounts.ensure_users(state, org)
            await accounts.ensure_machines(state, org)
        for org in blueprint.orgs:
            await projects.ensure_projects(state, org)
        for org in blueprint.orgs:
            await grants.ensure_project_grants(state, org)
        for org in blueprint.orgs:
            await accounts.ensure_managers(state, org)
            await grants.ensure_grant_managers(state, org)
        for org in blueprint.orgs:
            await grants.ensure_user_grants(state, org)
    return state.outcome


async def ensure_org(state: ApplyState, spec: OrgSpec) -> Organization:
    orgs, ctx = state.services.orgs, state.ctx
    with at(spec.path, ("name",)):
        org = await orgs.find_org_by_name(ctx, spec.name)
        if org is None:
            org = await orgs.create_org(ctx, spec.name)
            state.created(f"organisation {spec.name}")
    if spec.domain:
        with at(spec.path + ".domain"):
            org = await _ensure_domain(state, spec, org)
    state.orgs[spec.name.lower()] = org
    return org


async def _ensure_domain(state: ApplyState, spec: OrgSpec, org: Organization) -> Organization:
    """The declared domain is the operator's word: added, verified and made primary."""
    orgs, ctx = state.services.orgs, state.ctx
    found = next((d for d in await orgs.list_domains(ctx, org.id) if d.domain == spec.domain), None)
    added = found is None
    if found is None:
        found = await orgs.add_domain(ctx, org.id, spec.domain)
    steps = []
    if not found.is_verified:
        await _verify(state, org, spec.domain)
        steps.append("verified")
    if not found.is_primary:
        org = await orgs.set_primary_domain(ctx, org.id, spec.domain)
        steps.append("made primary")
    what = f"domain {spec.domain} of {spec.name}"
    if added:
        state.created(f"{what} (verified, primary)")
    elif steps:
        state.changed(f"{what}: {' and '.join(steps)}")
    return org


async def _verify(state: ApplyState, org: Organization, domain: str) -> None:
    orgs, ctx = state.services.orgs, state.ctx
    try:
        await orgs.verify_domain(ctx, org.id, domain)
    except PreconditionFailed as exc:
        if exc.code != "org.domain.no_challenge":
            raise
        # A strict domain policy wants a challenge on record before the confirmation.
        await orgs.generate_domain_validation(ctx, org.id, domain, "dns")
        await orgs.verify_domain(ctx, org.id, domain)
