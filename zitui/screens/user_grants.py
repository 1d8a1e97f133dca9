"""Authorizations (user grants): which users hold which roles of a project.

One screen serves three views: the grants of a user, of a project (direct grants), and of a
project grant (the granted organisation authorizing its own users).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.project_grants import granted_resource
from zitui.core.projects import project_resource
from zitui.core.services import Services
from zitui.core.user_grants import user_grant_resource
from zitui.core.validation import MAX_PAGE
from zitui.records import Page, Project, ProjectGrant, State, User, UserGrant
from zitui.screens.form import Field, Values
from zitui.screens.formats import when
from zitui.screens.names import Names
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.pickers import granted_project_picker, project_picker, user_picker
from zitui.screens.section import SectionScreen


def roles_field(keys: Sequence[str], labels: dict[str, str], chosen: Sequence[str] = ()) -> Field:
    choices = tuple((f"{key} · {labels[key]}" if labels.get(key) else key, key) for key in keys)
    return Field("role_keys", "Roles", tuple(chosen), kind="multi", choices=choices)


class UserGrantsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("user_grants.tcss")
    AUTO_FOCUS = "#user-grants-table"
    BINDINGS = [
        Binding("a", "add", "Authorize"),
        Binding("t", "add_granted", "Authorize on a granted project"),
        Binding("e", "change", "Change roles"),
        Binding("d", "deactivate", "Deactivate"),
        Binding("d", "reactivate", "Reactivate"),
        Binding("x", "remove", "Remove authorization"),
    ]

    def __init__(
        self,
        services: Services,
        context: Context,
        *,
        user: User | None = None,
        project: Project | None = None,
        project_grant: ProjectGrant | None = None,
    ) -> None:
        super().__init__(services, context)
        self.user = user
        self.project = project
        self.project_grant = project_grant
        self.names = Names(services, context)

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user {self.user.login_name}"
        if self.project is not None:
            return f"project {self.project.name}"
        assert self.project_grant is not None
        return f"{self.project_grant.project_name} (granted)"

    def compose(self) -> ComposeResult:
        yield from self.title_bar(
            f"Authorizations of {self.label}", "Which users hold which roles of a project."
        )
        columns = (
            Column("User", lambda g: self.names.user(g.user_id)),
            Column("Project", lambda g: self.names.project(g.project_id)),
            Column("Roles", lambda g: ", ".join(g.role_keys)),
            Column("Through", lambda g: "project grant" if g.project_grant_id else "project"),
            Column("State", lambda g: g.state.value),
            Column("Since", lambda g: when(g.created_at)),
        )
        yield PagedTable(
            self.load_page,
            columns,
            Nouns("authorizations", "authorization"),
            id="user-grants",
            searchable=False,
        )
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[UserGrant]:
        grant = self.project_grant
        page = await self.services.grants.list_user_grants(
            self.context,
            user_id=self.user.id if self.user else None,
            project_id=self.project.id if self.project else grant.project_id if grant else None,
            org_id=grant.granted_org_id if grant else None,
            offset=offset,
            limit=limit,
        )
        if self.user is not None:
            self.names.users[self.user.id] = self.user.login_name
        if self.project is not None:
            self.names.projects[self.project.id] = self.project.name
        await self.names.load_users(g.user_id for g in page.items)
        await self.names.load_projects(page.items)
        return page

    @property
    def grants(self) -> PagedTable:
        return self.query_one("#user-grants", PagedTable)

    @property
    def grant(self) -> UserGrant | None:
        return self.grants.current if self.is_mounted else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        grant = self.grant
        match action:
            case "add":
                if self.project is not None:
                    return self.can("user.grant.write", project_resource(self.project))
                if self.project_grant is not None:
                    return self.can("user.grant.write", granted_resource(self.project_grant))
                return self.user is not None
            case "add_granted":
                return self.user is not None
            case "change" | "deactivate" | "reactivate":
                if grant is None or not self.can("user.grant.write", user_grant_resource(grant)):
                    return False
                if action == "deactivate":
                    return grant.state is State.ACTIVE
                if action == "reactivate":
                    return grant.state is State.INACTIVE
                return True
            case "remove":
                return grant is not None and self.can(
                    "user.grant.delete", user_grant_resource(grant)
                )
        return True

    def saved(self, grant: UserGrant) -> None:
        self.notify(
            f"{self.names.user(grant.user_id)} holds {', '.join(grant.role_keys) or 'no role'} "
            f"on {self.names.project(grant.project_id)}.",
            title="Saved",
            markup=False,
        )
        self.grants.reload()

    def action_add(self) -> None:
        if self.user is not None:
            user = self.user
            title = f"Authorize {user.login_name} on which project?"

            def project_picked(project: Project | None) -> None:
                if project is not None:
                    self.names.projects[project.id] = project.name
                    self.authorize(user, project.id, project.name, None)

            self.app.push_screen(project_picker(self.services, self.context, title), project_picked)
            return

        grant = self.project_grant
        org_id = grant.granted_org_id if grant else None
        name = self.project.name if self.project else grant.project_name if grant else ""

        def user_picked(user: User | None) -> None:
            if user is None:
                return
            self.names.users[user.id] = user.login_name
            project_id = self.project.id if self.project else grant.project_id if grant else ""
            self.authorize(user, project_id, name, grant)

        title = f"Whom to authorize on {name}?"
        self.app.push_screen(
            user_picker(self.services, self.context, title, org_id=org_id), user_picked
        )

    def action_add_granted(self) -> None:
        user = self.user
        if user is None:
            return

        def picked(grant: ProjectGrant | None) -> None:
            if grant is not None:
                self.names.projects[grant.project_id] = grant.project_name
                self.authorize(user, grant.project_id, grant.project_name, grant)

        title = f"Authorize {user.login_name} on which project granted to their organisation?"
        self.app.push_screen(
            granted_project_picker(self.services, self.context, title, org_id=user.org_id),
            picked,
        )

    def with_roles(self, project_id: str, grant: ProjectGrant | None, then: Any) -> None:
        """Call `then(keys, labels)` with the roles a grant on this project may hold.

        Through a project grant they are the grant's keys; the owner's role names stay
        with the owner, whose project the granted side may not read.
        """
        if grant is not None:
            then(list(grant.role_keys), {})
            return

        async def load() -> tuple[list[str], dict[str, str]]:
            page = await self.services.projects.list_project_roles(
                self.context, project_id, limit=MAX_PAGE
            )
            return [role.key for role in page.items], {
                role.key: role.display_name for role in page.items
            }

        self.call(load, lambda found: then(*found))

    def authorize(
        self, user: User, project_id: str, project_name: str, grant: ProjectGrant | None
    ) -> None:
        async def add(values: Values) -> UserGrant:
            return await self.services.grants.add_user_grant(
                self.context,
                user.id,
                project_id,
                values["role_keys"],
                project_grant_id=grant.id if grant else None,
            )

        def open_form(keys: list[str], labels: dict[str, str]) -> None:
            self.form(
                f"Roles of {user.login_name} on {project_name}",
                [roles_field(keys, labels)],
                add,
                self.saved,
                action="Authorize",
            )

        self.with_roles(project_id, grant, open_form)

    def action_change(self) -> None:
        current = self.grant
        if current is None:
            return

        async def change(values: Values) -> UserGrant:
            return await self.services.grants.change_user_grant(
                self.context, current.id, values["role_keys"]
            )

        def open_form(keys: list[str], labels: dict[str, str]) -> None:
            self.form(
                f"Roles of {self.names.user(current.user_id)} on "
                f"{self.names.project(current.project_id)}",
                [roles_field(keys, labels, current.role_keys)],
                change,
                self.saved,
            )

        if current.project_grant_id is None:
            self.with_roles(current.project_id, None, open_form)
            return

        async def load_grant() -> ProjectGrant:
            assert current.project_grant_id is not None
            return await self.services.grants.get_project_grant(
                self.context, current.project_grant_id
            )

        self.call(load_grant, lambda g: self.with_roles(current.project_id, g, open_form))

    def action_deactivate(self) -> None:
        grant = self.grant
        if grant is None:
            return

        async def deactivate() -> UserGrant:
            return await self.services.grants.deactivate_user_grant(self.context, grant.id)

        self.confirm(
            "Deactivate an authorization",
            f"Deactivate the roles of {self.names.user(grant.user_id)} on "
            f"{self.names.project(grant.project_id)}?",
            deactivate,
            self.saved,
            action="Deactivate",
        )

    def action_reactivate(self) -> None:
        grant = self.grant
        if grant is not None:
            self.call(
                lambda: self.services.grants.reactivate_user_grant(self.context, grant.id),
                self.saved,
            )

    def action_remove(self) -> None:
        grant = self.grant
        if grant is None:
            return

        async def remove() -> None:
            await self.services.grants.remove_user_grant(self.context, grant.id)

        self.confirm(
            "Remove an authorization",
            f"Remove all roles of {self.names.user(grant.user_id)} on "
            f"{self.names.project(grant.project_id)}?",
            remove,
            lambda _: self.grants.reload(),
            action="Remove",
        )
