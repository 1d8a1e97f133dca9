"""A project's roles: the keys tokens carry, with display names and groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.projects import project_resource
from zitui.core.services import Services
from zitui.records import Page, Project, ProjectRole
from zitui.screens.form import Field, Values
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.section import SectionScreen

ROLE_COLUMNS = (
    Column("Key", lambda role: role.key),
    Column("Display name", lambda role: role.display_name),
    Column("Group", lambda role: role.group),
)


class ProjectRolesScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("roles.tcss")
    AUTO_FOCUS = "#roles-table"
    BINDINGS = [
        Binding("c", "create", "New role"),
        Binding("e", "change", "Edit role"),
        Binding("x", "remove", "Remove role"),
    ]

    def __init__(self, services: Services, context: Context, project: Project) -> None:
        super().__init__(services, context)
        self.project = project

    def compose(self) -> ComposeResult:
        yield from self.title_bar(
            f"Roles of {self.project.name}", "Keys appear in tokens; they never change."
        )
        yield PagedTable(
            self.load_page,
            ROLE_COLUMNS,
            Nouns("roles", "role"),
            id="roles",
            key=lambda role: role.key,
            searchable=False,
        )
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[ProjectRole]:
        return await self.services.projects.list_project_roles(
            self.context, self.project.id, offset=offset, limit=limit
        )

    @property
    def roles(self) -> PagedTable:
        return self.query_one("#roles", PagedTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        resource = project_resource(self.project)
        if action == "create":
            return self.can("project.role.write", resource)
        if action == "change":
            return self.can("project.role.write", resource) and self.roles.current is not None
        if action == "remove":
            return self.can("project.role.delete", resource) and self.roles.current is not None
        return True

    def saved(self, role: ProjectRole) -> None:
        self.notify(f"Role {role.key} is saved.", title="Saved", markup=False)
        self.roles.reload()

    def action_create(self) -> None:
        async def create(values: Values) -> ProjectRole:
            return await self.services.projects.add_project_role(
                self.context,
                self.project.id,
                values["key"],
                values["display_name"],
                values["group"],
            )

        fields = [
            Field("key", "Key", placeholder="e.g. admin or reports:read"),
            Field("display_name", "Display name"),
            Field("group", "Group"),
        ]
        self.form(f"New role of {self.project.name}", fields, create, self.saved, action="Create")

    def action_change(self) -> None:
        role: ProjectRole | None = self.roles.current
        if role is None:
            return

        async def change(values: Values) -> ProjectRole:
            return await self.services.projects.change_project_role(
                self.context, self.project.id, role.key, **values
            )

        fields = [
            Field("display_name", "Display name", role.display_name),
            Field("group", "Group", role.group),
        ]
        self.form(f"Role {role.key}", fields, change, self.saved)

    def action_remove(self) -> None:
        role: ProjectRole | None = self.roles.current
        if role is None:
            return

        async def remove() -> None:
            await self.services.projects.remove_project_role(
                self.context, self.project.id, role.key
            )

        def removed(_: Any) -> None:
            self.notify(f"Role {role.key} is removed.", title="Removed", markup=False)
            self.roles.reload()

        self.confirm(
            "Remove a role",
            f"Remove the role {role.key}? Project grants and user grants lose it too.",
            remove,
            removed,
            action="Remove",
        )
