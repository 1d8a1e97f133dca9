"""Projects: search and page through them, filter by organisation, create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.services import Services
from zitui.records import Organization, Page, Project
from zitui.screens.form import Field, Values
from zitui.screens.formats import yes_no
from zitui.screens.names import Names
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.project import ProjectScreen, settings_fields
from zitui.screens.section import FILTER_BINDINGS, OrgFilteredScreen


class ProjectsScreen(OrgFilteredScreen):
    """Projects the actor may read, or those of one organisation (`org`)."""

    CSS_PATH = Path(__file__).with_name("projects.tcss")
    AUTO_FOCUS = "#projects-table"
    ITEM = "project"
    TABLE_ID = "projects"
    BINDINGS = [
        Binding("c", "create", "New project"),
        *FILTER_BINDINGS,
    ]

    def __init__(
        self,
        services: Services,
        context: Context,
        *,
        org: Organization | None = None,
        fixed: bool = False,
    ) -> None:
        super().__init__(services, context, org=org, fixed=fixed)
        self.names = Names(services, context)

    def compose(self) -> ComposeResult:
        yield from self.title_bar("Projects", self.describe_filter())
        columns = (
            Column("Name", lambda p: p.name),
            Column("Organisation", lambda p: self.names.org(p.org_id)),
            Column("State", lambda p: p.state.value),
            Column("Role assertion", lambda p: yes_no(p.role_assertion)),
            Column("Role check", lambda p: yes_no(p.role_check)),
            Column("Project check", lambda p: yes_no(p.has_project_check)),
        )
        yield PagedTable(self.load_page, columns, Nouns("projects", "project"), id="projects")
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[Project]:
        page = await self.services.projects.list_projects(
            self.context,
            org_id=self.org.id if self.org else None,
            search=search,
            offset=offset,
            limit=limit,
        )
        await self.names.load_orgs(project.org_id for project in page.items)
        return page

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "create":
            return self.may_create("project.create")
        allowed = self.filter_action_allowed(action)
        return True if allowed is None else allowed

    @on(PagedTable.Opened, "#projects")
    def open_project(self, event: PagedTable.Opened) -> None:
        self.app.push_screen(ProjectScreen(self.services, self.context, event.item), self.closed)

    def closed(self, _: Any) -> None:
        self.table.reload()

    def action_create(self) -> None:
        self.in_org(self.create_in)

    def create_in(self, org: Organization) -> None:
        async def create(values: Values) -> Project:
            return await self.services.projects.create_project(
                self.context,
                org.id,
                values["name"],
                role_assertion=values["role_assertion"],
                role_check=values["role_check"],
                has_project_check=values["has_project_check"],
                private_labeling_setting=values["private_labeling_setting"],
            )

        def created(project: Project) -> None:
            self.notify(f"Project {project.name} is created.", title="Created", markup=False)
            self.table.reload()

        fields = [Field("name", "Name"), *settings_fields(None)]
        self.form(f"New project in {org.name}", fields, create, created, action="Create")
