"""A project's OIDC applications: list, create (client secret shown once), open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.projects import project_resource
from zitui.core.services import Services
from zitui.records import App, Page, Project
from zitui.screens.app_form import new_app, oidc_fields
from zitui.screens.application import AppScreen
from zitui.screens.form import Field, Values
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.section import SectionScreen

APP_COLUMNS = (
    Column("Name", lambda app: app.name),
    Column("Type", lambda app: app.app_type.value),
    Column("Authentication", lambda app: app.auth_method.value),
    Column("Client id", lambda app: app.client_id),
    Column("State", lambda app: app.state.value),
)


class AppsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("apps.tcss")
    AUTO_FOCUS = "#apps-table"
    BINDINGS = [Binding("c", "create", "New application")]

    def __init__(self, services: Services, context: Context, project: Project) -> None:
        super().__init__(services, context)
        self.project = project

    def compose(self) -> ComposeResult:
        yield from self.title_bar(
            f"Applications of {self.project.name}", "Enter opens an application."
        )
        yield PagedTable(
            self.load_page,
            APP_COLUMNS,
            Nouns("applications", "application"),
            id="apps",
            searchable=False,
        )
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[App]:
        return await self.services.apps.list_apps(
            self.context, self.project.id, offset=offset, limit=limit
        )

    @property
    def apps(self) -> PagedTable:
        return self.query_one("#apps", PagedTable)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "create":
            return self.can("project.app.write", project_resource(self.project))
        return True

    @on(PagedTable.Opened, "#apps")
    def open_app(self, event: PagedTable.Opened) -> None:
        self.app.push_screen(AppScreen(self.services, self.context, event.item), self.closed)

    def closed(self, _: Any) -> None:
        self.apps.reload()

    def action_create(self) -> None:
        async def create(values: Values) -> tuple[App, str | None]:
            return await self.services.apps.create_oidc_app(
                self.context, self.project.id, new_app(values)
            )

        fields = [Field("name", "Name"), *oidc_fields(None)]
        self.form(
            f"New application in {self.project.name}", fields, create, self.created, action="Create"
        )

    def created(self, result: tuple[App, str | None]) -> None:
        app, secret = result
        self.apps.reload()
        if secret is None:
            self.notify(
                f"Application {app.name} is created; its client id is {app.client_id}.",
                title="Created",
                markup=False,
            )
            return
        self.show_secret(
            f"Application {app.name} is created",
            "Client secret",
            secret,
            details=[("Client id", app.client_id)],
        )
