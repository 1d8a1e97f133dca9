"""Projects and their roles: create, change, deactivate, remove, read and list.

A project belongs to one organisation; its applications live in `apps.py`, and its grants
to other organisations and users in `grants.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zitui.core import validation
from zitui.core.audit import record
from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.permissions import Resource
from zitui.core.reach import reach
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Page, PrivateLabeling, Project, ProjectRole, State
from zitui.store import Repositories, Store

_ROLE_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


@dataclass(frozen=True)
class NewProjectRole:
    key: str
    display_name: str = ""
    group: str = ""


def project_resource(project: Project) -> Resource:
    """A project as a permission target: its organisation and its own id."""
    return Resource(org_id=project.org_id, project_id=project.id)


async def load_project(tx: Repositories, project_id: str) -> Project:
    project = await tx.projects.find(project_id)
    if project is None:
        raise NotFound("project.not_found", "no such project", field="project_id")
    return project


class ProjectService:
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def create_project(
        self,
        ctx: Context,
        org_id: str,
        name: str,
        *,
        role_assertion: bool = False,
        role_check: bool = False,
        has_project_check: bool = False,
        private_labeling_setting: str = PrivateLabeling.UNSPECIFIED,
    ) -> Project:
        """Create a project in `org_id`; names are unique per organisation, ignoring case.
        `private_labeling_setting` is one of `PrivateLabeling`'s values."""
        await self._authz.require(ctx, "project.create", Resource(org_id=org_id))
        name = validation.text(name, field="name")
        labeling = private_labeling(private_labeling_setting)
        now = ctx.now()
        project = Project(
            id=new_id(),
            org_id=org_id,
            name=name,
            state=State.ACTIVE,
            role_assertion=role_assertion,
            role_check=role_check,
            has_project_check=has_project_check,
            created_at=now,
            updated_at=now,
            private_labeling_setting=labeling,
        )
        async with self._store.transaction() as tx:
            if await tx.orgs.find(org_id) is None:
                raise NotFound("org.not_found", "no such organisation", field="org_id")
            await _check_name_free(tx, org_id, name)
            await tx.projects.insert(project)
            await record(
                tx,
                ctx,
                "project.added",
                aggregate=("project", project.id),
                org_id=org_id,
                payload={"name": name, **_settings(project)},
            )
        return project

    async def rename_project(self, ctx: Context, project_id: str, name: str) -> Project:
        project = await self._authorized(ctx, "project.write", project_id)
        name = validation.text(name, field="name")
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            if project.name == name:
                return project
            if project.name.lower() != name.lower():
                await _check_name_free(tx, project.org_id, name)
            await tx.projects.update(project_id, name=name, at=ctx.now())
            await _record(tx, ctx, "project.changed", project, {"name": name})
            return await load_project(tx, project_id)

    async def update_project_settings(
        self,
        ctx: Context,
        project_id: str,
        *,
        role_assertion: bool | None = None,
        role_check: bool | None = None,
        has_project_check: bool | None = None,
        private_labeling_setting: str | None = None,
    ) -> Project:
        """Change the token and login checks of a project and whose branding its logins show
        (`PrivateLabeling`); None leaves a setting as it is."""
        await self._authorized(ctx, "project.write", project_id)
        labeling = None
        if private_labeling_setting is not None:
            labeling = private_labeling(private_labeling_setting).value
        wanted: dict[str, object] = {
            "role_assertion": role_assertion,
            "role_check": role_check,
            "has_project_check": has_project_check,
            "private_labeling_setting": labeling,
        }
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            current = _settings(project)
            changes = {k: v for k, v in wanted.items() if v is not None and v != current[k]}
            if not changes:
                return project
            await tx.projects.update(project_id, at=ctx.now(), **changes)
            await _record(tx, ctx, "project.changed", project, changes)
            return await load_project(tx, project_id)

    async def deactivate_project(self, ctx: Context, project_id: str) -> Project:
        """An inactive project's applications cannot sign anyone in."""
        return await self._set_state(ctx, project_id, State.INACTIVE, "project.deactivated")

    async def reactivate_project(self, ctx: Context, project_id: str) -> Project:
        return await self._set_state(ctx, project_id, State.ACTIVE, "project.reactivated")

    async def remove_project(self, ctx: Context, project_id: str) -> None:
        """Remove the project with its roles, apps, grants, user grants and managers."""
        await self._authorized(ctx, "project.delete", project_id)
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            await tx.projects.delete(project_id)
            await _record(tx, ctx, "project.removed", project, {"name": project.name})

    async def get_project(self, ctx: Context, project_id: str) -> Project:
        return await self._authorized(ctx, "project.read", project_id)

    async def find_project_by_name(self, ctx: Context, org_id: str, name: str) -> Project | None:
        """The organisation's project called `name` (any case), or None."""
        async with self._store.reader() as tx:
            project = await tx.projects.find_by_name(org_id, name.strip())
        if project is None:
            if not ctx.can("project.read", Resource(org_id=org_id)):
                await self._authz.require(ctx, "project.read", Resource(org_id=org_id))
            return None
        await self._authz.require(ctx, "project.read", project_resource(project))
        return project

    async def list_projects(
        self,
        ctx: Context,
        *,
        org_id: str | None = None,
        search: str = "",
        offset: int = 0,
        limit: int = 50,
    ) -> Page[Project]:
        """Projects the actor may read (through an organisation or the project), by name.

        Projects granted to the actor's organisation are listed by
        `GrantService.list_granted_projects`.
        """
        offset, limit = validation.page(offset, limit)
        where = reach(ctx, "project.read")
        if where is not None and where.is_empty:
            return Page(items=(), total=0, offset=offset, limit=limit)
        async with self._store.scan() as tx:
            items, total = await tx.projects.list(
                reach=where, org_id=org_id, search=search.strip(), offset=offset, limit=limit
            )
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)

    async def add_project_role(
        self, ctx: Context, project_id: str, key: str, display_name: str = "", group: str = ""
    ) -> ProjectRole:
        """Add a role; its key is what tokens carry (letters, digits and `._:-`)."""
        await self._authorized(ctx, "project.role.write", project_id)
        role = _checked_role(project_id, NewProjectRole(key, display_name, group))
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            await tx.projects.insert_roles([role], at=ctx.now())
            await _record(tx, ctx, "project.role.added", project, _role_payload(role))
        return role

    async def add_project_roles(
        self, ctx: Context, project_id: str, roles: Sequence[NewProjectRole]
    ) -> list[ProjectRole]:
        """Add several roles at once, all or none, with one event."""
        await self._authorized(ctx, "project.role.write", project_id)
        if not roles:
            raise InvalidArgument("project.roles.required", "give at least one role", field="roles")
        checked = [_checked_role(project_id, role) for role in roles]
        keys = [role.key for role in checked]
        repeated = next((key for key in keys if keys.count(key) > 1), None)
        if repeated is not None:
            raise InvalidArgument(
                "project.role.repeated", f"the key {repeated} is given twice", field="key"
            )
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            await tx.projects.insert_roles(checked, at=ctx.now())
            payload = {"roles": [_role_payload(role) for role in checked]}
            await _record(tx, ctx, "project.roles.added", project, payload)
        return checked

    async def change_project_role(
        self,
        ctx: Context,
        project_id: str,
        key: str,
        *,
        display_name: str | None = None,
        group: str | None = None,
    ) -> ProjectRole:
        """Change a role's display name or group; the key itself never changes."""
        await self._authorized(ctx, "project.role.write", project_id)
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            role = await _load_role(tx, project_id, key)
            changed = _checked_role(
                project_id,
                NewProjectRole(
                    role.key,
                    role.display_name if display_name is None else display_name,
                    role.group if group is None else group,
                ),
            )
            if changed == role:
                return role
            await tx.projects.update_role(changed)
            await _record(tx, ctx, "project.role.changed", project, _role_payload(changed))
        return changed

    async def remove_project_role(self, ctx: Context, project_id: str, key: str) -> None:
        """Remove a role, and its key from the project's grants and user grants."""
        await self._authorized(ctx, "project.role.delete", project_id)
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            await _load_role(tx, project_id, key)
            now = ctx.now()
            grants = await tx.project_grants.remove_role_key(project_id, key, at=now)
            user_grants = await tx.user_grants.remove_role_keys(
                [key], project_id=project_id, at=now
            )
            await tx.projects.delete_role(project_id, key)
            payload = {"key": key, "project_grants": grants, "user_grants": user_grants}
            await _record(tx, ctx, "project.role.removed", project, payload)

    async def list_project_roles(
        self, ctx: Context, project_id: str, *, offset: int = 0, limit: int = 50
    ) -> Page[ProjectRole]:
        """The project's roles by group and key."""
        offset, limit = validation.page(offset, limit)
        await self._authorized(ctx, "project.role.read", project_id)
        async with self._store.scan() as tx:
            items, total = await tx.projects.list_roles(project_id, offset=offset, limit=limit)
        return Page(items=tuple(items), total=total, offset=offset, limit=limit)

    async def _authorized(self, ctx: Context, permission: str, project_id: str) -> Project:
        """Load a project and require `permission` on it (outside any write transaction)."""
        async with self._store.reader() as tx:
            project = await load_project(tx, project_id)
        await self._authz.require(ctx, permission, project_resource(project))
        return project

    async def _set_state(
        self, ctx: Context, project_id: str, state: State, event_type: str
    ) -> Project:
        await self._authorized(ctx, "project.write", project_id)
        async with self._store.transaction() as tx:
            project = await load_project(tx, project_id)
            if project.state is state:
                raise PreconditionFailed(
                    f"project.already_{state.value}", f"the project is already {state.value}"
                )
            await tx.projects.update(project_id, state=state.value, at=ctx.now())
            await _record(tx, ctx, event_type, project, {})
            return await load_project(tx, project_id)


def role_key(value: str, *, field: str = "key") -> str:
    key = value.strip()
    if not _ROLE_KEY.match(key):
        raise InvalidArgument(
            "project.role.key.invalid",
            "role keys use letters, digits and . _ : - (1 to 200 characters)",
            field=field,
        )
    return key


def _checked_role(project_id: str, new: NewProjectRole) -> ProjectRole:
    return ProjectRole(
        project_id=project_id,
        key=role_key(new.key),
        display_name=validation.text(new.display_name, field="display_name", required=False),
        group=validation.text(new.group, field="group", required=False),
    )


def _role_payload(role: ProjectRole) -> dict[str, str]:
    return {"key": role.key, "display_name": role.display_name, "group": role.group}


async def _load_role(tx: Repositories, project_id: str, key: str) -> ProjectRole:
    role = await tx.projects.find_role(project_id, key)
    if role is None:
        raise NotFound("project.role.not_found", "the project has no such role", field="key")
    return role


def private_labeling(value: str) -> PrivateLabeling:
    """A project's private_labeling_setting by its name; anything else is refused."""
    try:
        return PrivateLabeling(value)
    except ValueError:
        choices = ", ".join(setting.value for setting in PrivateLabeling)
        raise InvalidArgument(
            "project.private_labeling_invalid",
            f"private_labeling_setting is one of {choices}",
            field="private_labeling_setting",
        ) from None


def _settings(project: Project) -> dict[str, object]:
    return {
        "role_assertion": project.role_assertion,
        "role_check": project.role_check,
        "has_project_check": project.has_project_check,
        "private_labeling_setting": project.private_labeling_setting.value,
    }


async def _check_name_free(tx: Repositories, org_id: str, name: str) -> None:
    if await tx.projects.find_by_name(org_id, name):
        raise AlreadyExists(
            "project.name.taken", "the organisation has a project with this name", field="name"
        )


async def _record(
    tx: Repositories, ctx: Context, event_type: str, project: Project, payload: Mapping[str, object]
) -> None:
    await record(
        tx,
        ctx,
        event_type,
        aggregate=("project", project.id),
        org_id=project.org_id,
        payload=dict(payload),
    )
