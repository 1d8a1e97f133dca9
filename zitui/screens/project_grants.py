"""The organisations a project is shared with (project grants), from the owner's side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.project_grants import granted_resource, owner_resource
from zitui.core.projects import project_resource
from zitui.core.services import Services
from zitui.core.validation import MAX_PAGE
from zitui.records import Organization, Page, Project, ProjectGrant, ProjectRole, Scope, State
from zitui.screens.form import Field, Values
from zitui.screens.formats import when
from zitui.screens.managers import ManagersScreen
from zitui.screens.names import Names
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.pickers import org_picker
from zitui.screens.section import SectionScreen
from zitui.screens.user_grants import UserGrantsScreen


def role_choices(roles: Sequence[ProjectRole]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"{role.key} · {role.display_name}" if role.display_name else role.key, role.key)
        for role in roles
    )


def role_keys_field(roles: Sequence[ProjectRole], chosen: Sequence[str] = ()) -> Field:
    return Field("role_keys", "Roles", tuple(chosen), kind="multi", choices=role_choices(roles))


class ProjectGrantsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("project_grants.tcss")
    AUTO_FOCUS = "#grants-table"
    BINDINGS = [
        Binding("c", "create", "Grant to an organisation"),
        Binding("e", "change", "Change roles"),
        Binding("u", "authorizations", "Authorizations"),
        Binding("m", "managers", "Managers"),
        Binding("d", "deactivate", "Deactivate"),
        Binding("d", "reactivate", "Reactivate"),
        Binding("x", "remove", "Remove grant"),
    ]

    def __init__(self, services: Services, context: Context, project: Project) -> None:
        super().__init__(services, context)
        self.project = project
        self.names = Names(services, context)

    def compose(self) -> ComposeResult:
        yield from self.title_bar(
            f"Grants of {self.project.name}",
            "Organisations that may give their users some of this project's roles.",
        )
        columns = (
            Column("Organisation", lambda g: self.names.org(g.granted_org_id)),
            Column("Roles", lambda g: ", ".join(g.role_keys)),
            Column("State", lambda g: g.state.value),
            Column("Since", lambda g: when(g.created_at)),
        )
        yield PagedTable(
            self.load_page, columns, Nouns("grants", "grant"), id="grants", searchable=False
        )
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[ProjectGrant]:
        page = await self.services.grants.list_project_grants(
            self.context, self.project.id, offset=offset, limit=limit
        )
        await self.names.load_orgs(grant.granted_org_id for grant in page.items)
        return page

    @property
    def grants(self) -> PagedTable:
        return self.query_one("#grants", PagedTable)

    @property
    def grant(self) -> ProjectGrant | None:
        return self.grants.current if self.is_mounted else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        grant = self.grant
        if action == "create":
            return self.can("project.grant.write", project_resource(self.project))
        if grant is None:
            return action not in {
                "change",
                "authorizations",
                "managers",
                "deactivate",
                "reactivate",
                "remove",
            }
        writable = self.can("project.grant.write", owner_resource(grant))
        match action:
            case "change":
                return writable
            case "deactivate":
                return writable and grant.state is State.ACTIVE
            case "reactivate":
                return writable and grant.state is State.INACTIVE
            case "remove":
                return self.can("project.grant.delete", owner_resource(grant))
            case "authorizations":
                return self.can("user.grant.read", granted_resource(grant))
            case "managers":
                return self.can("project.grant.member.read", granted_resource(grant))
        return True

    def with_roles(self, then: Any) -> None:
        """Load the project's roles, then call `then(roles)`."""

        async def load() -> tuple[ProjectRole, ...]:
            page = await self.services.projects.list_project_roles(
                self.context, self.project.id, limit=MAX_PAGE
            )
            return page.items

        self.call(load, then)

    def saved(self, grant: ProjectGrant) -> None:
        org = self.names.org(grant.granted_org_id)
        self.notify(
            f"{self.project.name} is granted to {org} with {', '.join(grant.role_keys)}.",
            title="Saved",
            markup=False,
        )
        self.grants.reload()

    def action_create(self) -> None:
        def picked(org: Organization | None) -> None:
            if org is not None:
                self.names.orgs[org.id] = org.name
                self.with_roles(lambda roles: self.create_for(org, roles))

        title = f"Grant {self.project.name} to which organisation?"
        self.app.push_screen(org_picker(self.services, self.context, title), picked)

    def create_for(self, org: Organization, roles: Sequence[ProjectRole]) -> None:
        async def create(values: Values) -> ProjectGrant:
            return await self.services.grants.grant_project(
                self.context, self.project.id, org.id, values["role_keys"]
            )

        self.form(
            f"Grant {self.project.name} to {org.name}",
            [role_keys_field(roles)],
            create,
            self.saved,
            action="Grant",
            intro="Its managers can then give their users these roles.",
        )

    def action_change(self) -> None:
        grant = self.grant
        if grant is None:
            return

        async def change(values: Values) -> ProjectGrant:
            return await self.services.grants.change_project_grant(
                self.context, grant.id, values["role_keys"]
            )

        def open_form(roles: Sequence[ProjectRole]) -> None:
            org = self.names.org(grant.granted_org_id)
            self.form(
                f"Roles granted to {org}",
                [role_keys_field(roles, grant.role_keys)],
                change,
                self.saved,
                intro="Roles taken away are also taken from the users who hold them.",
            )

        self.with_roles(open_form)

    def action_deactivate(self) -> None:
        grant = self.grant
        if grant is None:
            return

        async def deactivate() -> ProjectGrant:
            return await self.services.grants.deactivate_project_grant(self.context, grant.id)

        org = self.names.org(grant.granted_org_id)
        self.confirm(
            "Deactivate a grant",
            f"Deactivate the grant to {org}? Its users lose the project's roles until it is "
            "reactivated.",
            deactivate,
            self.saved,
            action="Deactivate",
        )

    def action_reactivate(self) -> None:
        grant = self.grant
        if grant is not None:
            self.call(
                lambda: self.services.grants.reactivate_project_grant(self.context, grant.id),
                self.saved,
            )

    def action_remove(self) -> None:
        grant = self.grant
        if grant is None:
            return

        async def remove() -> None:
            await self.services.grants.remove_project_grant(self.context, grant.id)

        org = self.names.org(grant.granted_org_id)
        self.confirm(
            "Remove a grant",
            f"Remove the grant of {self.project.name} to {org}, with the authorizations and "
            "managers made through it?",
            remove,
            lambda _: self.grants.reload(),
            action="Remove",
        )

    @on(PagedTable.Opened, "#grants")
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
        org = self.names.org(grant.granted_org_id)
        self.open(
            ManagersScreen(
                self.services,
                self.context,
                scope=Scope.PROJECT_GRANT,
                scope_id=grant.id,
                label=f"the grant of {grant.project_name} to {org}",
                resource=granted_resource(grant),
            )
        )
