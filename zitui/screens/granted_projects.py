"""Projects other organisations granted to one organisation: the customer's side."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.project_grants import granted_resource
from zitui.core.services import Services
from zitui.records import Organization, Page, ProjectGrant, Scope
from zitui.screens.formats import when
from zitui.screens.managers import ManagersScreen
from zitui.screens.names import Names
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.pickers import org_picker
from zitui.screens.section import SectionScreen
from zitui.screens.user_grants import UserGrantsScreen


class GrantedProjectsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("granted_projects.tcss")
    AUTO_FOCUS = "#granted-table"
    BINDINGS = [
        Binding("f", "filter", "Choose organisation"),
        Binding("u", "authorizations", "Authorizations"),
        Binding("m", "managers", "Managers"),
    ]

    def __init__(
        self, services: Services, context: Context, *, org: Organization | None = None
    ) -> None:
        super().__init__(services, context)
        self.org = org
        self.names = Names(services, context)

    def compose(self) -> ComposeResult:
        yield from self.title_bar("Granted projects", self.describe_org())
        columns = (
            Column("Project", lambda g: g.project_name),
            Column("Owner", lambda g: self.names.org(g.owner_org_id)),
            Column("Roles", lambda g: ", ".join(g.role_keys)),
            Column("State", lambda g: g.state.value),
            Column("Since", lambda g: when(g.created_at)),
        )
        yield PagedTable(
            self.load_page,
            columns,
            Nouns("granted projects", "granted project"),
            id="granted",
            searchable=False,
        )
        yield Footer(compact=True)

    def describe_org(self) -> str:
        if self.org is None:
            return "Press f to choose the organisation whose granted projects to show."
        return f"Granted to {self.org.name}. Enter shows who is authorized."

    async def load_page(self, search: str, offset: int, limit: int) -> Page[ProjectGrant]:
        if self.org is None:
            return Page(items=(), total=0, offset=offset, limit=limit)
        page = await self.services.grants.list_granted_projects(
            self.context, self.org.id, offset=offset, limit=limit
        )
        await self.names.load_orgs(grant.owner_org_id for grant in page.items)
        return page

    @property
    def granted(self) -> PagedTable:
        return self.query_one("#granted", PagedTable)

    @property
    def grant(self) -> ProjectGrant | None:
        return self.granted.current if self.is_mounted else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        grant = self.grant
        if action == "authorizations":
            return grant is not None and self.can("user.grant.read", granted_resource(grant))
        if action == "managers":
            return grant is not None and self.can(
                "project.grant.member.read", granted_resource(grant)
            )
        return True

    def action_filter(self) -> None:
        def picked(org: Organization | None) -> None:
            if org is None:
                return
            self.org = org
            self.query_one("#section-detail", Static).update(self.describe_org())
            self.granted.reload(first_page=True)

        title = "Projects granted to which organisation?"
        self.app.push_screen(org_picker(self.services, self.context, title), picked)

    @on(PagedTable.Opened, "#granted")
    def opened(self, event: PagedTable.Opened) -> None:
        if self.check_action("authorizations", ()):
            self.action_authorizations()

    def action_authorizations(self) -> None:
        grant = self.grant
        if grant is not None:
            self.open(UserGrantsScreen(self.services, self.context, project_grant=grant))

    def action_managers(self) -> None:
        grant = self.grant
        if grant is None:
            return
        self.open(
            ManagersScreen(
                self.services,
                self.context,
                scope=Scope.PROJECT_GRANT,
                scope_id=grant.id,
                label=f"granted project {grant.project_name}",
                resource=granted_resource(grant),
            )
        )
