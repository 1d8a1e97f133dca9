"""Projects and their roles."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from zitui.errors import AlreadyExists
from zitui.records import PrivateLabeling, Project, ProjectRole, Scope, State
from zitui.store.models import (
    AppRow,
    AuthRequestRow,
    MembershipRow,
    ProjectGrantRow,
    ProjectRoleRow,
    ProjectRow,
    UserGrantRow,
)
from zitui.store.repos.base import Repository, escape_like, table

PROJECTS = table(ProjectRow)
ROLES = table(ProjectRoleRow)
APPS = table(AppRow)
AUTH_REQUESTS = table(AuthRequestRow)
PROJECT_GRANTS = table(ProjectGrantRow)
USER_GRANTS = table(UserGrantRow)
MEMBERSHIPS = table(MembershipRow)


@dataclass(frozen=True)
class Reach:
    """Where a permission holds below the instance: organisations, projects, project grants.

    The core builds it from the actor's memberships; `None` in its place means everywhere.
    """

    org_ids: frozenset[str] = frozenset()
    project_ids: frozenset[str] = frozenset()
    grant_ids: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.org_ids or self.project_ids or self.grant_ids)


def _project(row: Any) -> Project:
    return Project(
        id=row["id"],
        org_id=row["org_id"],
        name=row["name"],
        state=State(row["state"]),
        role_assertion=row["role_assertion"],
        role_check=row["role_check"],
        has_project_check=row["has_project_check"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        private_labeling_setting=PrivateLabeling(row["private_labeling_setting"]),
    )


def _role(row: Any) -> ProjectRole:
    return ProjectRole(
        project_id=row["project_id"],
        key=row["key"],
        display_name=row["display_name"],
        group=row["group"],
    )


def _name_conflict(_: str) -> AlreadyExists:
    return AlreadyExists(
        "project.name.taken", "the organisation has a project with this name", field="name"
    )


def _role_conflict(_: str) -> AlreadyExists:
    return AlreadyExists("project.role.exists", "the project has a role with this key", field="key")


class ProjectRepository(Repository):
    async def insert(self, project: Project) -> None:
        values = {
            "id": project.id,
            "org_id": project.org_id,
            "name": project.name,
            "state": project.state.value,
            "role_assertion": project.role_assertion,
            "role_check": project.role_check,
            "has_project_check": project.has_project_check,
            "private_labeling_setting": project.private_labeling_setting.value,
            "created_at": project.created_at,
            "updated_at": project.updated_at,
        }
        await self._insert(PROJECTS, values, conflict=_name_conflict)

    async def find(self, project_id: str) -> Project | None:
        query = sa.select(PROJECTS).where(PROJECTS.c.id == project_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _project(row)

    async def find_for_auth_request(self, auth_request_id: str) -> Project | None:
        """The project of the application an authorization request is for, in one query."""
        query = (
            sa.select(PROJECTS)
            .join(APPS, APPS.c.project_id == PROJECTS.c.id)
            .join(AUTH_REQUESTS, AUTH_REQUESTS.c.app_id == APPS.c.id)
            .where(AUTH_REQUESTS.c.id == auth_request_id)
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _project(row)

    async def find_by_name(self, org_id: str, name: str) -> Project | None:
        """Names are unique per organisation regardless of case."""
        query = sa.select(PROJECTS).where(
            PROJECTS.c.org_id == org_id, sa.func.lower(PROJECTS.c.name) == name.lower()
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _project(row)

    async def update(self, project_id: str, *, at: datetime, **values: Any) -> None:
        """Change columns of a project; a taken name becomes AlreadyExists on `name`."""
        statement = PROJECTS.update().where(PROJECTS.c.id == project_id)
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(statement.values(updated_at=at, **values))
        except sa_exc.IntegrityError as exc:
            raise _name_conflict(str(exc.orig)) from exc

    async def delete(self, project_id: str) -> None:
        """The project with its roles, apps, grants, user grants and managers.

        Foreign keys cascade all but the managers (memberships name their scope without one);
        the explicit deletes keep the order the same on every database.
        """
        grant_ids = sa.select(PROJECT_GRANTS.c.id).where(PROJECT_GRANTS.c.project_id == project_id)
        await self.conn.execute(
            MEMBERSHIPS.delete().where(
                sa.or_(
                    sa.and_(
                        MEMBERSHIPS.c.scope == Scope.PROJECT.value,
                        MEMBERSHIPS.c.scope_id == project_id,
                    ),
                    sa.and_(
                        MEMBERSHIPS.c.scope == Scope.PROJECT_GRANT.value,
                        MEMBERSHIPS.c.scope_id.in_(grant_ids),
                    ),
                )
            )
        )
        await self.conn.execute(USER_GRANTS.delete().where(USER_GRANTS.c.project_id == project_id))
        await self.conn.execute(
            PROJECT_GRANTS.delete().where(PROJECT_GRANTS.c.project_id == project_id)
        )
        await self.conn.execute(APPS.delete().where(APPS.c.project_id == project_id))
        await self.conn.execute(ROLES.delete().where(ROLES.c.project_id == project_id))
        await self.conn.execute(PROJECTS.delete().where(PROJECTS.c.id == project_id))

    async def insert_roles(self, roles: Collection[ProjectRole], *, at: datetime) -> None:
        for role in roles:
            values = {
                "project_id": role.project_id,
                "key": role.key,
                "display_name": role.display_name,
                "group": role.group,
                "created_at": at,
            }
            await self._insert(ROLES, values, conflict=_role_conflict)

    async def find_role(self, project_id: str, key: str) -> ProjectRole | None:
        query = sa.select(ROLES).where(ROLES.c.project_id == project_id, ROLES.c.key == key)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _role(row)

    async def role_keys(self, project_id: str) -> set[str]:
        query = sa.select(ROLES.c.key).where(ROLES.c.project_id == project_id)
        return set((await self.conn.scalars(query)).all())

    async def list_roles(
        self, project_id: str, *, offset: int, limit: int
    ) -> tuple[list[ProjectRole], int]:
        query = sa.select(ROLES).where(ROLES.c.project_id == project_id)
        total = await self._count(query)
        page = query.order_by(ROLES.c.group, ROLES.c.key).offset(offset).limit(limit)
        rows = (await self.conn.execute(page)).mappings().all()
        return [_role(row) for row in rows], total

    async def update_role(self, role: ProjectRole) -> None:
        await self.conn.execute(
            ROLES.update()
            .where(ROLES.c.project_id == role.project_id, ROLES.c.key == role.key)
            .values(display_name=role.display_name, group=role.group)
        )

    async def delete_role(self, project_id: str, key: str) -> None:
        await self.conn.execute(
            ROLES.delete().where(ROLES.c.project_id == project_id, ROLES.c.key == key)
        )

    async def list(
        self, *, reach: Reach | None, org_id: str | None, search: str, offset: int, limit: int
    ) -> tuple[list[Project], int]:
        """Projects by name: of `reach`'s organisations or projects (`None`: all)."""
        query = sa.select(PROJECTS)
        if reach is not None:
            query = query.where(
                sa.or_(
                    PROJECTS.c.org_id.in_(sorted(reach.org_ids)),
                    PROJECTS.c.id.in_(sorted(reach.project_ids)),
                )
            )
        if org_id is not None:
            query = query.where(PROJECTS.c.org_id == org_id)
        if search:
            query = query.where(PROJECTS.c.name.ilike(f"%{escape_like(search)}%", escape="\\"))
        total = await self._count(query)
        page = query.order_by(PROJECTS.c.name, PROJECTS.c.id).offset(offset).limit(limit)
        rows = (await self.conn.execute(page)).mappings().all()
        return [_project(row) for row in rows], total
