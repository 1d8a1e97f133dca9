"""A human user's SSH keys for the operator console: fingerprint, comment and dates; adding
one by pasting its OpenSSH line, and removing one after a confirmation."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.core.ssh_keys import SshKey
from zitui.records import Page, User
from zitui.screens.form import Field, Values
from zitui.screens.formats import when
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.section import SectionScreen

COLUMNS = (
    Column("Fingerprint", lambda k: k.fingerprint),
    Column("Type", lambda k: k.algorithm),
    Column("Comment", lambda k: k.comment),
    Column("Added", lambda k: when(k.created_at)),
    Column("Last used", lambda k: when(k.last_used_at) or "never"),
)


class SshKeysScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("ssh_keys.tcss")
    AUTO_FOCUS = "#ssh-keys-table"
    BINDINGS = [
        Binding("n", "add", "Add key"),
        Binding("d", "remove", "Remove selected"),
    ]

    def __init__(self, services: Services, context: Context, user: User) -> None:
        super().__init__(services, context)
        self.user = user

    def compose(self) -> ComposeResult:
        yield from self.title_bar(
            f"SSH keys of {self.user.login_name}",
            "Public keys that open the operator console over SSH as this user "
            "(SSH user name: the login name).",
        )
        yield PagedTable(
            self.load,
            COLUMNS,
            Nouns("SSH keys", "SSH key"),
            id="ssh-keys",
            searchable=False,
        )
        yield Footer(compact=True)

    @property
    def table(self) -> PagedTable:
        return self.query_one("#ssh-keys", PagedTable)

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.user.org_id, user_id=self.user.id)

    async def load(self, search: str, offset: int, limit: int) -> Page[SshKey]:
        keys = await self.services.ssh_keys.list_keys(self.context, self.user.id)
        return page_of(keys, search, offset, limit, text=lambda k: k.comment)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        write = self.can("user.credential.write", self.resource)
        match action:
            case "add":
                return write
            case "remove":
                return write and self.is_mounted and self.table.current is not None
        return True

    def action_add(self) -> None:
        async def add(values: Values) -> SshKey:
            line = str(values["public_key"])
            return await self.services.ssh_keys.add_key(self.context, self.user.id, line)

        def added(key: SshKey) -> None:
            self.notify(
                f"SSH key {key.fingerprint} of {self.user.login_name} is added.",
                title="Added",
                markup=False,
            )
            self.table.reload()

        self.form(
            f"Add an SSH key of {self.user.login_name}",
            [
                Field(
                    "public_key",
                    "Public key",
                    placeholder="ssh-ed25519 AAAA… comment",
                    hint="one line of ~/.ssh/id_ed25519.pub",
                )
            ],
            add,
            added,
            action="Add",
        )

    def action_remove(self) -> None:
        key: SshKey | None = self.table.current
        if key is None:
            return

        async def remove() -> None:
            await self.services.ssh_keys.remove_key(self.context, self.user.id, key.id)

        def removed(_: None) -> None:
            self.notify(
                f"SSH key {key.fingerprint} of {self.user.login_name} is removed.",
                title="Removed",
                markup=False,
            )
            self.table.reload()

        self.confirm(
            "Remove an SSH key",
            f"Remove the SSH key {key.fingerprint} ({key.comment or key.algorithm}) of "
            f"{self.user.login_name}? It no longer opens the console.",
            remove,
            removed,
            action="Remove",
        )
