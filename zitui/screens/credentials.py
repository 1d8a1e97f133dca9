"""A machine user's credentials: JWT keys, personal access tokens and a client secret.

Private keys, tokens and secrets are shown once, when they are made; the store keeps only
public keys and digests.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import MachineKey, Page, PersonalAccessToken, User
from zitui.screens.form import Field, Values
from zitui.screens.formats import parse_time, when
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.section import SectionScreen

CREDENTIAL_COLUMNS = (
    Column("Id", lambda c: c.id),
    Column("Created", lambda c: when(c.created_at)),
    Column("Expires", lambda c: when(c.expires_at) or "never"),
)
EXPIRY = Field(
    "expires_at",
    "Expires (UTC)",
    placeholder="empty: never, or e.g. 2027-01-01",
)


class MachineCredentialsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("credentials.tcss")
    AUTO_FOCUS = "#keys-table"
    BINDINGS = [
        Binding("k", "add_key", "New key"),
        Binding("t", "add_token", "New token"),
        Binding("s", "secret", "New client secret"),
        Binding("z", "remove_secret", "Remove client secret"),
        Binding("delete", "remove_selected", "Remove selected"),
    ]

    def __init__(self, services: Services, context: Context, user: User) -> None:
        super().__init__(services, context)
        self.user = user

    def compose(self) -> ComposeResult:
        yield from self.title_bar(f"Credentials of {self.user.login_name}", self.describe_secret())
        yield Static("Keys (JWT profile)", classes="subtitle")
        yield PagedTable(
            self.load_keys, CREDENTIAL_COLUMNS, Nouns("keys", "key"), id="keys", searchable=False
        )
        yield Static("Personal access tokens", classes="subtitle")
        yield PagedTable(
            self.load_tokens,
            CREDENTIAL_COLUMNS,
            Nouns("tokens", "token"),
            id="tokens",
            searchable=False,
        )
        yield Footer(compact=True)

    def describe_secret(self) -> str:
        state = "set" if self.user.has_secret else "none"
        return f"Client id {self.user.username} · client secret: {state}. Tab switches tables."

    async def load_keys(self, search: str, offset: int, limit: int) -> Page[MachineKey]:
        keys = await self.services.machines.list_machine_keys(self.context, self.user.id)
        return page_of(keys, search, offset, limit, text=lambda key: key.id)

    async def load_tokens(self, search: str, offset: int, limit: int) -> Page[PersonalAccessToken]:
        tokens = await self.services.machines.list_personal_access_tokens(
            self.context, self.user.id
        )
        return page_of(tokens, search, offset, limit, text=lambda token: token.id)

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.user.org_id)

    def table(self, table_id: str) -> PagedTable:
        return self.query_one(f"#{table_id}", PagedTable)

    def selected(self) -> tuple[str, Any] | None:
        """Which table has the focus, and its current row."""
        for table_id in ("keys", "tokens"):
            table = self.table(table_id)
            if table.has_focus_within and table.current is not None:
                return table_id, table.current
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        issue = self.can("user.credential.write", self.resource)
        write = self.can("user.write", self.resource)
        match action:
            case "add_key" | "add_token" | "secret":
                return issue
            case "remove_secret":
                return write and self.user.has_secret
            case "remove_selected":
                return write and self.is_mounted and self.selected() is not None
        return True

    def action_add_key(self) -> None:
        async def add(values: Values) -> tuple[MachineKey, dict[str, str]]:
            return await self.services.machines.add_machine_key(
                self.context,
                self.user.id,
                expires_at=parse_time(values["expires_at"], field="expires_at"),
            )

        def added(result: tuple[MachineKey, dict[str, str]]) -> None:
            key, key_file = result
            self.table("keys").reload()
            self.show_secret(
                f"New key of {self.user.login_name}",
                "Key file",
                json.dumps(key_file, indent=2),
                details=[("Key id", key.id), ("Expires", when(key.expires_at) or "never")],
            )

        self.form(f"New key for {self.user.login_name}", [EXPIRY], add, added, action="Create")

    def action_add_token(self) -> None:
        async def add(values: Values) -> tuple[PersonalAccessToken, str]:
            return await self.services.machines.add_personal_access_token(
                self.context,
                self.user.id,
                expires_at=parse_time(values["expires_at"], field="expires_at"),
            )

        def added(result: tuple[PersonalAccessToken, str]) -> None:
            token, secret = result
            self.table("tokens").reload()
            self.show_secret(
                f"New personal access token of {self.user.login_name}",
                "Token",
                secret,
                details=[("Token id", token.id), ("Expires", when(token.expires_at) or "never")],
            )

        self.form(f"New token for {self.user.login_name}", [EXPIRY], add, added, action="Create")

    def action_secret(self) -> None:
        async def generate() -> tuple[str, str]:
            return await self.services.machines.generate_machine_secret(self.context, self.user.id)

        def generated(result: tuple[str, str]) -> None:
            client_id, secret = result
            self.set_has_secret(True)
            self.show_secret(
                f"Client secret of {self.user.login_name}",
                "Client secret",
                secret,
                details=[("Client id", client_id)],
            )

        if not self.user.has_secret:
            self.call(generate, generated)
            return
        self.confirm(
            "Replace the client secret",
            f"Generate a new client secret for {self.user.login_name}? The current one stops "
            "working at once.",
            generate,
            generated,
            action="Replace",
        )

    def action_remove_secret(self) -> None:
        async def remove() -> None:
            await self.services.machines.remove_machine_secret(self.context, self.user.id)

        self.confirm(
            "Remove the client secret",
            f"Remove the client secret of {self.user.login_name}? Clients using it stop "
            "working at once.",
            remove,
            lambda _: self.set_has_secret(False),
            action="Remove",
        )

    def set_has_secret(self, has_secret: bool) -> None:
        self.user = replace(self.user, has_secret=has_secret)
        self.query_one("#section-detail", Static).update(self.describe_secret())
        self.refresh_bindings()

    def action_remove_selected(self) -> None:
        selected = self.selected()
        if selected is None:
            return
        table_id, item = selected
        machines = self.services.machines
        if table_id == "keys":
            noun = "key"

            async def remove() -> None:
                await machines.remove_machine_key(self.context, self.user.id, item.id)
        else:
            noun = "token"

            async def remove() -> None:
                await machines.remove_personal_access_token(self.context, self.user.id, item.id)

        self.confirm(
            f"Remove a {noun}",
            f"Remove the {noun} {item.id} of {self.user.login_name}? Whoever uses it is "
            "refused at once.",
            remove,
            lambda _: self.table(table_id).reload(),
            action="Remove",
        )
