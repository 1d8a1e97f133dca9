"""Applying projects: their settings, their roles, and their applications."""

from __future__ import annotations

from zitui.blueprint.apps import ensure_app
from zitui.blueprint.specs import PROJECT_KEYS, OrgSpec, ProjectSpec
from zitui.blueprint.state import ApplyState, at
from zitui.core.projects import NewProjectRole
from zitui.records import Organization, Project


async def ensure_projects(state: ApplyState, spec: OrgSpec) -> None:
    org = state.orgs[spec.name.lower()]
    for project_spec in spec.projects:
        name = f"{spec.name}/{project_spec.name}"
        with at(project_spec.path, PROJECT_KEYS):
            project = await _ensure_project(state, org, project_spec, name)
        state.projects[(spec.name.lower(), project_spec.name.lower())] = project
        await _ensure_roles(state, project_spec, project, name)
        for app in project_spec.apps:
            await ensure_app(state, project, app, name)


# The settings a file may bring an existing project to (those it leaves out stay as they are).
SETTINGS = ("role_assertion", "role_check", "private_labeling_setting")


async def _ensure_project(
    state: ApplyState, org: Organization, spec: ProjectSpec, name: str
) -> Project:
    """Create the project, or bring the settings the file sets (`SETTINGS`) to its values."""
    projects, ctx = state.services.projects, state.ctx
    found = await projects.find_project_by_name(ctx, org.id, spec.name)
    if found is None:
        created = await projects.create_project(
            ctx,
            org.id,
            spec.name,
            role_assertion=spec.role_assertion,
            role_check=spec.role_check,
            private_labeling_setting=spec.private_labeling_setting,
        )
        state.created(f"project {name}")
        return created
    wanted = {key: getattr(spec, key) for key in SETTINGS if key in spec.given}
    changed = {key: value for key, value in wanted.items() if getattr(found, key) != value}
    if not changed:
        return found
    state.changed(f"project {name}: {', '.join(sorted(changed))}")
    return await projects.update_project_settings(ctx, found.id, **changed)


async def _ensure_roles(state: ApplyState, spec: ProjectSpec, project: Project, name: str) -> None:
    """Add the roles the project lacks; roles it has beyond the file's stay."""
    projects, ctx = state.services.projects, state.ctx
    existing = await project_roles(state, project)
    missing = [key for key in spec.roles if key not in existing]
    if not missing:
        return
    with at(spec.path + ".roles"):
        await projects.add_project_roles(
            ctx, project.id, [NewProjectRole(key, display_name=key) for key in missing]
        )
    state.roles[project.id] = existing | set(missing)
    state.created(f"roles of project {name}: {', '.join(missing)}")


async def project_roles(state: ApplyState, project: Project) -> set[str]:
    """The role keys a project has now, read once per run."""
    if project.id not in state.roles:
        keys: set[str] = set()
        offset = 0
        while True:
            page = await state.services.projects.list_project_roles(
                state.ctx, project.id, offset=offset, limit=500
            )
            keys.update(role.key for role in page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        state.roles[project.id] = keys
    return state.roles[project.id]
