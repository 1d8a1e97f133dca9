"""One OIDC application: all its settings, secret rotation and lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import App, State
from zitui.screens.app_form import config_change, oidc_fields
from zitui.screens.events import EventsScreen
from zitui.screens.form import Field, Values
from zitui.screens.formats import aligned, when, yes_no
from zitui.screens.section import SectionScreen


def lines(values: tuple[str, ...]) -> str:
    return "\n".join(values) if values else "none"


def describe_app(app: App) -> str:
    rows = [
        ("Name", app.name),
        ("State", app.state.value),
        ("Client id", app.client_id),
        ("Client secret", "set" if app.has_secret else "none"),
        ("Type", app.app_type.value),
        ("Authentication", app.auth_method.value),
        ("Response types", ", ".join(app.response_types) or "none"),
        ("Grant types", ", ".join(app.grant_types) or "none"),
        ("Access token", app.access_token_type.value),
        ("Roles in access token", yes_no(app.access_token_role_assertion)),
        ("Roles in ID token", yes_no(app.id_token_role_assertion)),
        ("User info in ID token", yes_no(app.id_token_userinfo_assertion)),
        ("Clock skew", f"{app.clock_skew_s} s"),
        ("Development mode", yes_no(app.dev_mode)),
        ("Created", when(app.created_at)),
        ("Changed", when(app.updated_at)),
        ("Id", app.id),
    ]
    uris = [
        ("Redirect URIs", app.redirect_uris),
        ("Post-logout redirect URIs", app.post_logout_redirect_uris),
        ("Additional origins", app.additional_origins),
    ]
    listed = "\n\n".join(f"{label}:\n{lines(values)}" for label, values in uris)
    return f"{aligned(rows)}\n\n{listed}"


class AppScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("application.tcss")
    BINDINGS = [
        Binding("e", "edit", "Edit settings"),
        Binding("s", "secret", "New client secret"),
        Binding("r", "rename", "Rename"),
        Binding("h", "history", "History", show=False),
        Binding("d", "deactivate", "Deactivate"),
        Binding("d", "reactivate", "Reactivate"),
        Binding("x", "remove", "Remove"),
    ]

    def __init__(self, services: Services, context: Context, app: App) -> None:
        super().__init__(services, context)
        self.app_record = app

    def compose(self) -> ComposeResult:
        yield from self.title_bar(f"Application {self.app_record.name}", self.app_record.client_id)
        with VerticalScroll(id="app-body"):
            yield Static(describe_app(self.app_record), id="app-details", markup=False)
        yield Footer(compact=True)

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.app_record.org_id, project_id=self.app_record.project_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        writable = self.can("project.app.write", self.resource)
        match action:
            case "edit" | "rename":
                return writable
            case "secret":
                return writable and self.app_record.has_secret
            case "deactivate":
                return writable and self.app_record.state is State.ACTIVE
            case "reactivate":
                return writable and self.app_record.state is State.INACTIVE
            case "remove":
                return self.can("project.app.delete", self.resource)
            case "history":
                return self.can("events.read", self.resource)
        return True

    def show_app(self, app: App) -> None:
        self.app_record = app
        self.query_one("#section-title", Static).update(f"Application {app.name}")
        self.query_one("#app-details", Static).update(describe_app(app))
        self.refresh_bindings()

    def saved(self, app: App) -> None:
        self.notify(f"Application {app.name} is saved.", title="Saved", markup=False)
        self.show_app(app)

    def action_edit(self) -> None:
        async def save(values: Values) -> tuple[App, str | None]:
            return await self.services.apps.update_oidc_config(
                self.context, self.app_record.id, config_change(values)
            )

        def done(result: tuple[App, str | None]) -> None:
            app, secret = result
            self.saved(app)
            if secret is not None:
                self.show_secret(
                    f"The new client secret of {app.name}",
                    "Client secret",
                    secret,
                    details=[("Client id", app.client_id)],
                )

        self.form(f"Settings of {self.app_record.name}", oidc_fields(self.app_record), save, done)

    def action_rename(self) -> None:
        async def rename(values: Values) -> App:
            return await self.services.apps.rename_app(
                self.context, self.app_record.id, values["name"]
            )

        self.form(
            f"Rename {self.app_record.name}",
            [Field("name", "Name", self.app_record.name)],
            rename,
            self.saved,
        )

    def action_secret(self) -> None:
        app = self.app_record

        async def regenerate() -> str:
            return await self.services.apps.regenerate_client_secret(self.context, app.id)

        def shown(secret: str) -> None:
            self.show_secret(
                f"The new client secret of {app.name}",
                "Client secret",
                secret,
                details=[("Client id", app.client_id)],
            )

        self.confirm(
            "Replace the client secret",
            f"Generate a new client secret for {app.name}? The current one stops working at once.",
            regenerate,
            shown,
            action="Replace",
        )

    def action_deactivate(self) -> None:
        async def deactivate() -> App:
            return await self.services.apps.deactivate_app(self.context, self.app_record.id)

        self.confirm(
            "Deactivate an application",
            f"Deactivate {self.app_record.name}? It cannot sign anyone in or get tokens until "
            "it is reactivated.",
            deactivate,
            self.saved,
            action="Deactivate",
        )

    def action_reactivate(self) -> None:
        async def reactivate() -> App:
            return await self.services.apps.reactivate_app(self.context, self.app_record.id)

        self.call(reactivate, self.saved)

    def action_remove(self) -> None:
        async def remove() -> None:
            await self.services.apps.remove_app(self.context, self.app_record.id)

        def removed(_: Any) -> None:
            self.notify(
                f"Application {self.app_record.name} is removed.", title="Removed", markup=False
            )
            self.dismiss(None)

        self.confirm(
            "Remove an application",
            f"Remove {self.app_record.name} ({self.app_record.client_id})? Its clients stop "
            "working at once.",
            remove,
            removed,
            action="Remove",
        )

    def action_history(self) -> None:
        self.open(
            EventsScreen(
                self.services,
                self.context,
                aggregate_id=self.app_record.id,
                label=f"application {self.app_record.name}",
            )
        )
