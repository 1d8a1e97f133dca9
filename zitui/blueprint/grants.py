"""Applying project grants with their managers, user grants, and the references they make to
the store.

What the file does not declare (an organisation, project, user or grant made earlier) is
looked up here, and a reference that finds nothing is refused in the same format as the
file's own checks.
"""

from __future__ import annotations

from zitui.blueprint.accounts import ensure_member
from zitui.blueprint.projects import project_roles
from zitui.blueprint.reading import BlueprintError, describe
from zitui.blueprint.references import check_roles
from zitui.blueprint.specs import Blueprint, OrgSpec, UserGrantSpec
from zitui.blueprint.state import ApplyState, at
from zitui.records import Organization, Project, ProjectGrant, Scope, User


async def resolve_granted_orgs(state: ApplyState, blueprint: Blueprint) -> None:
    """Find the organisations the file refers to without declaring them."""
    for spec in blueprint.orgs:
        for project in spec.projects:
            for grant in project.grants:
                await _resolve_org(state, grant.org, grant.path + ".org")
        for user_grant in spec.user_grants:
            if not user_grant.own_project:
                await _resolve_org(state, user_grant.owner, user_grant.path + ".project")


async def _resolve_org(state: ApplyState, name: str, path: str) -> Organization:
    org = state.orgs.get(name.lower())
    if org is None:
        org = await state.services.orgs.find_org_by_name(state.ctx, name)
        if org is None:
            raise BlueprintError(
                path, f"no organisation {describe(name)} in this file or in the store"
            )
        state.orgs[name.lower()] = org
    return org


async def ensure_project_grants(state: ApplyState, spec: OrgSpec) -> None:
    """Grant each project to the organisations named; roles granted already are kept."""
    grants, ctx = state.services.grants, state.ctx
    for project_spec in spec.projects:
        project = state.projects[(spec.name.lower(), project_spec.name.lower())]
        existing = await _project_grants(state, project)
        roles = sorted(await project_roles(state, project))
        for grant in project_spec.grants:
            check_roles(grant.path + ".roles", grant.roles, roles, f"project {project_spec.name}")
            org = state.orgs[grant.org.lower()]
            name = f"{spec.name}/{project_spec.name} to {grant.org}"
            found = existing.get(org.id)
            with at(grant.path, ("roles",), aliases={"role_keys": "roles"}):
                if found is None:
                    found = await grants.grant_project(ctx, project.id, org.id, grant.roles)
                    state.created(f"project grant {name}: {', '.join(grant.roles)}")
                elif missing := [r for r in grant.roles if r not in found.role_keys]:
                    keys = [*found.role_keys, *missing]
                    found = await grants.change_project_grant(ctx, found.id, keys)
                    state.changed(f"project grant {name}: added {', '.join(missing)}")
            existing[org.id] = found


async def ensure_grant_managers(state: ApplyState, spec: OrgSpec) -> None:
    """Make users of each granted organisation managers of its grant; roles held are kept.

    A grant's managers act inside the granted organisation (its users' authorizations for the
    granted project), so the file names them among that organisation's users.
    """
    for project_spec in spec.projects:
        project = state.projects[(spec.name.lower(), project_spec.name.lower())]
        for grant in project_spec.grants:
            org = state.orgs[grant.org.lower()]
            granted = (await _project_grants(state, project))[org.id]
            for manager in grant.managers:
                user = await _find_user(state, grant.org, org, manager.user, manager.path)
                name = (
                    f"{grant.org}/{manager.user} of project grant "
                    f"{spec.name}/{project_spec.name} to {grant.org}"
                )
                with at(manager.path, ("roles", "user"), aliases={"user_id": "user"}):
                    await ensure_member(
                        state, user, Scope.PROJECT_GRANT, granted.id, name, manager.roles
                    )


async def _project_grants(state: ApplyState, project: Project) -> dict[str, ProjectGrant]:
    """The project's grants by granted organisation, read once per run."""
    if project.id not in state.project_grants:
        found: dict[str, ProjectGrant] = {}
        offset = 0
        while True:
            page = await state.services.grants.list_project_grants(
                state.ctx, project.id, offset=offset, limit=500
            )
            found.update((g.granted_org_id, g) for g in page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        state.project_grants[project.id] = found
    return state.project_grants[project.id]


async def ensure_user_grants(state: ApplyState, spec: OrgSpec) -> None:
    """Give users their roles in projects; roles they hold already are kept."""
    org = state.orgs[spec.name.lower()]
    for grant in spec.user_grants:
        user = await _user(state, spec, org, grant)
        project, through, allowed, where = await _target(state, spec, org, grant)
        check_roles(grant.path + ".roles", grant.roles, sorted(allowed), where)
        name = f"{spec.name}/{grant.user} in {grant.owner or spec.name}/{grant.project}"
        with at(grant.path, ("roles", "user"), aliases={"role_keys": "roles", "user_id": "user"}):
            await _ensure_user_grant(state, grant, name, user, project, through)


async def _ensure_user_grant(
    state: ApplyState,
    spec: UserGrantSpec,
    name: str,
    user: User,
    project: Project,
    through: ProjectGrant | None,
) -> None:
    grants, ctx = state.services.grants, state.ctx
    through_id = through.id if through else None
    found = await grants.find_user_grant(ctx, user.id, project.id)
    if found is None:
        await grants.add_user_grant(
            ctx, user.id, project.id, spec.roles, project_grant_id=through_id
        )
        state.created(f"user grant {name}: {', '.join(spec.roles) or 'no roles'}")
        return
    if found.project_grant_id != through_id:
        raise BlueprintError(
            spec.path + ".project",
            f"{user.username} has a grant on this project made "
            + ("directly by its owner" if through_id else "through a project grant")
            + "; remove it in the TUI to declare it here",
        )
    if missing := [r for r in spec.roles if r not in found.role_keys]:
        await grants.change_user_grant(ctx, found.id, [*found.role_keys, *missing])
        state.changed(f"user grant {name}: added {', '.join(missing)}")


async def _user(state: ApplyState, spec: OrgSpec, org: Organization, grant: UserGrantSpec) -> User:
    return await _find_user(state, spec.name, org, grant.user, grant.path)


async def _find_user(
    state: ApplyState, org_name: str, org: Organization, username: str, path: str
) -> User:
    """A user of `org` that the file declares or the store holds; `path` is where it is named."""
    user = state.users.get((org_name.lower(), username.lower()))
    if user is None:
        user = await state.services.users.find_user_by_username(state.ctx, org.id, username)
    if user is None:
        raise BlueprintError(
            path + ".user",
            f"no user {describe(username)} in {org_name} (in this file or in the store)",
        )
    return user


async def _target(
    state: ApplyState, spec: OrgSpec, org: Organization, grant: UserGrantSpec
) -> tuple[Project, ProjectGrant | None, set[str], str]:
    """The project, the project grant it goes through, the roles allowed and their source."""
    if grant.own_project:
        project = await _project(state, spec.name, org, grant)
        return project, None, await project_roles(state, project), f"project {grant.project}"
    owner = state.orgs[grant.owner.lower()]
    project = await _project(state, grant.owner, owner, grant)
    through = (await _project_grants(state, project)).get(org.id)
    reference = f"project {grant.owner}/{grant.project}"
    if through is None:
        raise BlueprintError(grant.path + ".project", f"{reference} is not granted to {spec.name}")
    return project, through, set(through.role_keys), f"{reference} as granted to {spec.name}"


async def _project(
    state: ApplyState, owner_name: str, owner: Organization, grant: UserGrantSpec
) -> Project:
    project = state.projects.get((owner_name.lower(), grant.project.lower()))
    if project is None:
        project = await state.services.projects.find_project_by_name(
            state.ctx, owner.id, grant.project
        )
    if project is None:
        raise BlueprintError(
            grant.path + ".project",
            f"no project {describe(grant.project)} in {owner_name} (in this file or in the store)",
        )
    return project
