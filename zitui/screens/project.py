"""One project: details, settings, lifecycle, and the way to its roles, apps, grants, managers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.projects import project_resource
from zitui.core.services import Services
from zitui.records import PrivateLabeling, Project, Scope, State
from zitui.screens.apps import AppsScreen
from zitui.screens.events import EventsScreen
from zitui.screens.form import Field, Values
from zitui.screens.formats import aligned, when, yes_no
from zitui.screens.managers import ManagersScreen
from zitui.screens.names import Names
from zitui.screens.project_grants import ProjectGrantsScreen
from zitui.screens.roles import ProjectRolesScreen
from zitui.screens.section import SectionScreen
from zitui.screens.user_grants import UserGrantsScreen

LABELING = {
    PrivateLabeling.UNSPECIFIED: "Instance's, then the user's organisation's",
    PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY: "Project owner's, always",
    PrivateLabeling.ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY: (
        "Project owner's, then the user's organisation's"
    ),
}


def settings_fields(project: Project | None) -> list[Field]:
    return [
        Field(
            "role_assertion",
            "Assert roles on authentication (roles in the ID token and userinfo)",
            project.role_assertion if project else False,
            kind="check",
        ),
        Field(
            "role_check",
            "Check for a user grant on authentication",
            project.role_check if project else False,
            kind="check",
        ),
        Field(
            "has_project_check",
            "Check that the user's organisation has the project",
            project.has_project_check if project else False,
            kind="check",
        ),
        Field(
            "private_labeling_setting",
            "Login branding",
            (project.private_labeling_setting if project else PrivateLabeling.UNSPECIFIED).value,
            kind="choice",
            choices=tuple((label, setting.value) for setting, label in LABELING.items()),
            hint="Whose branding, texts and legal links the login shows when the application "
            "asks for no organisation",
        ),
    ]


def describe_project(project: Project, org_name: str) -> str:
    return aligned(
        [
            ("Name", project.name),
            ("Organisation", org_name),
            ("State", project.state.value),
            ("Role assertion", yes_no(project.role_assertion)),
            ("Role check", yes_no(project.role_check)),
            ("Project check", yes_no(project.has_project_check)),
            ("Login branding", LABELING[project.private_labeling_setting]),
            ("Created", when(project.created_at)),
            ("Changed", when(project.updated_at)),
            ("Id", project.id),
        ]
    )


class ProjectScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("project.tcss")
    BINDINGS = [
        Binding("o", "roles", "Roles"),
        Binding("a", "apps", "Apps"),
        Binding("g", "grants", "Grants"),
        Binding("u", "authorizations", "Authorizations"),
        Binding("m", "managers", "Managers"),
        Binding("h", "history", "History", show=False),
        Binding("s", "settings", "Settings"),
        Binding("r", "rename", "Rename"),
        Binding("d", "deactivate", "Deactivate"),
        Binding("d", "reactivate", "Reactivate"),
        Binding("x", "remove", "Remove"),
    ]

    def __init__(self, services: Services, context: Context, project: Project) -> None:
        super().__init__(services, context)
        self.project = project
        self.org_name = project.org_id

    def compose(self) -> ComposeResult:
        yield from self.title_bar(f"Project {self.project.name}")
        with VerticalScroll(id="project-body"):
            yield Static(
                describe_project(self.project, self.org_name), id="project-details", markup=False
            )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        async def org_name() -> str:
            names = Names(self.services, self.context)
            await names.load_orgs([self.project.org_id])
            return names.org(self.project.org_id)

        self.call(org_name, self.named)

    def named(self, name: str) -> None:
        self.org_name = name
        self.show_project(self.project)

    def show_project(self, project: Project) -> None:
        self.project = project
        self.query_one("#section-title", Static).update(f"Project {project.name}")
        self.query_one("#section-detail", Static).update(f"Organisation {self.org_name}")
        self.query_one("#project-details", Static).update(describe_project(project, self.org_name))
        self.refresh_bindings()

    def saved(self, project: Project) -> None:
        self.notify(f"Project {project.name} is saved.", title="Saved", markup=False)
        self.show_project(project)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        resource = project_resource(self.project)
        writable = self.can("project.write", resource)
        match action:
            case "roles":
                return self.can("project.role.read", resource)
            case "apps":
                return self.can("project.app.read", resource)
            case "grants":
                return self.can("project.grant.read", resource)
            case "authorizations":
                return self.can("user.grant.read", resource)
            case "managers":
                return self.can("project.member.read", resource)
            case "history":
                return self.can("events.read", resource)
            case "settings" | "rename":
                return writable
            case "deactivate":
                return writable and self.project.state is State.ACTIVE
            case "reactivate":
                return writable and self.project.state is State.INACTIVE
            case "remove":
                return self.can("project.delete", resource)
        return True

    def action_settings(self) -> None:
        async def save(values: Values) -> Project:
            return await self.services.projects.update_project_settings(
                self.context, self.project.id, **values
            )

        self.form(
            f"Settings of {self.project.name}", settings_fields(self.project), save, self.saved
        )

    def action_rename(self) -> None:
        async def rename(values: Values) -> Project:
            return await self.services.projects.rename_project(
                self.context, self.project.id, values["name"]
            )

        self.form(
            f"Rename {self.project.name}",
            [Field("name", "Name", self.project.name)],
            rename,
            self.saved,
        )

    def action_deactivate(self) -> None:
        async def deactivate() -> Project:
            return await self.services.projects.deactivate_project(self.context, self.project.id)

        self.confirm(
            "Deactivate a project",
            f"Deactivate {self.project.name}? Its applications can sign nobody in until it is "
            "reactivated.",
            deactivate,
            self.saved,
            action="Deactivate",
        )

    def action_reactivate(self) -> None:
        async def reactivate() -> Project:
            return await self.services.projects.reactivate_project(self.context, self.project.id)

        self.call(reactivate, self.saved)

    def action_remove(self) -> None:
        async def remove() -> None:
            await self.services.projects.remove_project(self.context, self.project.id)

        def removed(_: Any) -> None:
            self.notify(f"Project {self.project.name} is removed.", title="Removed", markup=False)
            self.dismiss(None)

        self.confirm(
            "Remove a project",
            f"Remove {self.project.name} with its roles, applications, grants, authorizations "
            "and managers? This cannot be undone.",
            remove,
            removed,
            action="Remove",
        )

    def action_roles(self) -> None:
        self.open(ProjectRolesScreen(self.services, self.context, self.project))

    def action_apps(self) -> None:
        self.open(AppsScreen(self.services, self.context, self.project))

    def action_grants(self) -> None:
        self.open(ProjectGrantsScreen(self.services, self.context, self.project))

    def action_authorizations(self) -> None:
        self.open(UserGrantsScreen(self.services, self.context, project=self.project))

    def action_managers(self) -> None:
        self.open(
            ManagersScreen(
                self.services,
                self.context,
                scope=Scope.PROJECT,
                scope_id=self.project.id,
                label=f"project {self.project.name}",
                resource=project_resource(self.project),
            )
        )

    def action_history(self) -> None:
        self.open(
            EventsScreen(
                self.services,
                self.context,
                aggregate_id=self.project.id,
                label=f"project {self.project.name}",
            )
        )
