"""Managers at one scope (instance, organisation, project, project grant): add, change, remove."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.permissions import Resource, roles_for_scope
from zitui.core.services import Services
from zitui.records import Membership, Page, Scope, User
from zitui.screens.form import Field, Values
from zitui.screens.formats import when
from zitui.screens.names import Names
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.pickers import user_picker
from zitui.screens.section import SectionScreen

_AREA = {
    Scope.INSTANCE: "iam.member",
    Scope.ORG: "org.member",
    Scope.PROJECT: "project.member",
    Scope.PROJECT_GRANT: "project.grant.member",
}


def roles_field(scope: Scope, chosen: Sequence[str] = ()) -> Field:
    choices = tuple((role, role) for role in roles_for_scope(scope))
    return Field("roles", "Roles", tuple(chosen), kind="multi", choices=choices)


class ManagersScreen(SectionScreen):
    """`resource` is what the permission is asked for, e.g. Resource(org_id=…) for an org."""

    CSS_PATH = Path(__file__).with_name("managers.tcss")
    AUTO_FOCUS = "#managers-table"
    BINDINGS = [
        Binding("a", "add", "Add manager"),
        Binding("e", "change", "Change roles"),
        Binding("x", "remove", "Remove manager"),
    ]

    def __init__(
        self,
        services: Services,
        context: Context,
        *,
        scope: Scope,
        scope_id: str,
        label: str,
        resource: Resource,
    ) -> None:
        super().__init__(services, context)
        self.scope = scope
        self.scope_id = scope_id
        self.label = label
        self.resource = resource
        self.names = Names(services, context)

    def compose(self) -> ComposeResult:
        yield from self.title_bar(f"Managers of {self.label}", "Their roles apply here only.")
        columns = (
            Column("User", lambda m: self.names.user(m.user_id)),
            Column("Roles", lambda m: ", ".join(m.roles)),
            Column("Since", lambda m: when(m.created_at)),
        )
        yield PagedTable(
            self.load_page,
            columns,
            Nouns("managers", "manager"),
            id="managers",
            key=lambda m: m.user_id,
        )
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[Membership]:
        members = await self.services.memberships.list_members(
            self.context, self.scope, self.scope_id
        )
        await self.names.load_users(m.user_id for m in members)
        return page_of(
            members,
            search,
            offset,
            limit,
            text=lambda m: f"{self.names.user(m.user_id)} {' '.join(m.roles)}",
        )

    @property
    def managers(self) -> PagedTable:
        return self.query_one("#managers", PagedTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add", "change", "remove"):
            writable = self.can(f"{_AREA[self.scope]}.write", self.resource)
            return writable and (action == "add" or self.managers.current is not None)
        return True

    def action_add(self) -> None:
        def picked(user: User | None) -> None:
            if user is not None:
                self.add(user)

        title = f"Which user becomes a manager of {self.label}?"
        self.app.push_screen(user_picker(self.services, self.context, title), picked)

    def add(self, user: User) -> None:
        self.names.users[user.id] = user.login_name

        async def add(values: Values) -> Membership:
            return await self.services.memberships.add_member(
                self.context, user.id, self.scope, self.scope_id, values["roles"]
            )

        self.form(
            f"Roles of {user.login_name} on {self.label}",
            [roles_field(self.scope)],
            add,
            self.saved,
            action="Add",
        )

    def action_change(self) -> None:
        member: Membership | None = self.managers.current
        if member is None:
            return

        async def change(values: Values) -> Membership:
            return await self.services.memberships.change_member(
                self.context, member.user_id, self.scope, self.scope_id, values["roles"]
            )

        name = self.names.user(member.user_id)
        self.form(
            f"Roles of {name} on {self.label}",
            [roles_field(self.scope, member.roles)],
            change,
            self.saved,
        )

    def saved(self, member: Membership) -> None:
        name = self.names.user(member.user_id)
        self.notify(
            f"{name} manages {self.label} as {', '.join(member.roles)}.",
            title="Saved",
            markup=False,
        )
        self.managers.reload()

    def action_remove(self) -> None:
        member: Membership | None = self.managers.current
        if member is None:
            return
        name = self.names.user(member.user_id)

        async def remove() -> None:
            await self.services.memberships.remove_member(
                self.context, member.user_id, self.scope, self.scope_id
            )

        def removed(_: Any) -> None:
            self.notify(f"{name} no longer manages {self.label}.", title="Removed", markup=False)
            self.managers.reload()

        self.confirm(
            "Remove a manager",
            f"Remove {name} ({', '.join(member.roles)}) as manager of {self.label}?",
            remove,
            removed,
            action="Remove",
        )
