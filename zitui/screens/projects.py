"""Projects: search and page through them, filter by organisation, create."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import Organization, Page, Project
from zitui.screens.form import Field, Values
from zitui.screens.formats import yes_no
from zitui.screens.names import Names
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.pickers import org_picker
from zitui.screens.project import ProjectScreen, settings_fields
from zitui.screens.section import SectionScreen


class ProjectsScreen(SectionScreen):
    """Projects the actor may read, or those of one organisation (`org`)."""

    CSS_PATH = Path(__file__).with_name("projects.tcss")
    AUTO_FOCUS = "#projects-table"
    BINDINGS = [
        Binding("c", "create", "New project"),
        Binding("f", "filter", "Filter by organisation"),
        Binding("a", "all_orgs", "All organisations"),
    ]

    def __init__(
        self,
        services: Services,
        context: Context,
        *,
        org: Organization | None = None,
        fixed: bool = False,
    ) -> None:
        super().__init__(services, context)
        self.org = org
        self.fixed = fixed and org is not None
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

    def describe_filter(self) -> str:
        where = f"Organisation {self.org.name}" if self.org else "All organisations you manage"
        return f"{where}. Enter opens a project."

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

    @property
    def projects(self) -> PagedTable:
        return self.query_one("#projects", PagedTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "create":
            if self.org is not None:
                return self.can("project.create", Resource(org_id=self.org.id))
            scope = self.context.org_scope("project.create")
            return scope is None or bool(scope)
        if action == "filter":
            return not self.fixed
        if action == "all_orgs":
            return not self.fixed and self.org is not None
        return True

    def set_org(self, org: Organization | None) -> None:
        self.org = org
        self.query_one("#section-detail", Static).update(self.describe_filter())
        self.projects.reload(first_page=True)
        self.refresh_bindings()

    def action_filter(self) -> None:
        def picked(org: Organization | None) -> None:
            if org is not None:
                self.set_org(org)

        title = "Show the projects of which organisation?"
        self.app.push_screen(org_picker(self.services, self.context, title), picked)

    def action_all_orgs(self) -> None:
        self.set_org(None)

    @on(PagedTable.Opened, "#projects")
    def open_project(self, event: PagedTable.Opened) -> None:
        self.app.push_screen(ProjectScreen(self.services, self.context, event.item), self.closed)

    def closed(self, _: Any) -> None:
        self.projects.reload()

    def action_create(self) -> None:
        if self.org is not None:
            self.create_in(self.org)
            return

        def picked(org: Organization | None) -> None:
            if org is not None:
                self.create_in(org)

        title = "Create the project in which organisation?"
        self.app.push_screen(org_picker(self.services, self.context, title), picked)

    def create_in(self, org: Organization) -> None:
        async def create(values: Values) -> Project:
            return await self.services.projects.create_project(
                self.context,
                org.id,
                values["name"],
                role_assertion=values["role_assertion"],
                role_check=values["role_check"],
                has_project_check=values["has_project_check"],
            )

        def created(project: Project) -> None:
            self.notify(f"Project {project.name} is created.", title="Created", markup=False)
            self.projects.reload()

        fields = [Field("name", "Name"), *settings_fields(None)]
        self.form(f"New project in {org.name}", fields, create, created, action="Create")
