"""A human user's second factors as a manager sees them: kind, name and dates, the recovery
codes left, and removing a factor (a lost phone) or voiding the recovery codes.

Nothing secret is shown: the core hands out no secret, code or key.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.factors import Authenticator, Authenticators, FactorKind
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import Page, User
from zitui.screens.formats import when
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.section import SectionScreen
from zitui.screens.ssh_keys import SshKeysScreen

KIND_LABELS = {
    FactorKind.TOTP: "Authenticator app (TOTP)",
    FactorKind.OTP_EMAIL: "Code by email",
    FactorKind.OTP_SMS: "Code by SMS",
    FactorKind.U2F: "Security key",
    FactorKind.PASSKEY: "Passkey",
}
COLUMNS = (
    Column("Kind", lambda a: KIND_LABELS.get(a.kind, a.kind.value)),
    Column("Name", lambda a: a.name),
    Column("Created", lambda a: when(a.created_at)),
    Column("Last used", lambda a: when(a.last_used_at) or "never"),
)


def describe_codes(left: int | None) -> str:
    if left is None:
        return "Recovery codes left: …"
    return f"Recovery codes left: {left}"


class AuthenticatorsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("authenticators.tcss")
    AUTO_FOCUS = "#authenticators-table"
    BINDINGS = [
        Binding("d", "remove", "Remove selected"),
        Binding("r", "void_codes", "Void recovery codes"),
        Binding("s", "ssh_keys", "SSH keys"),
    ]

    def __init__(self, services: Services, context: Context, user: User) -> None:
        super().__init__(services, context)
        self.user = user
        self.codes_left: int | None = None

    def compose(self) -> ComposeResult:
        yield from self.title_bar(
            f"Authenticators of {self.user.login_name}",
            "Second factors the user set up; removing one makes them set up another when "
            "their organisation forces MFA.",
        )
        yield Static(describe_codes(None), id="recovery-codes", markup=False)
        yield PagedTable(
            self.load,
            COLUMNS,
            Nouns("authenticators", "authenticator"),
            id="authenticators",
            searchable=False,
        )
        yield Footer(compact=True)

    @property
    def table(self) -> PagedTable:
        return self.query_one("#authenticators", PagedTable)

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.user.org_id)

    async def load(self, search: str, offset: int, limit: int) -> Page[Authenticator]:
        listed = await self.services.factors.authenticators(self.context, self.user.id)
        self.show_codes(listed)
        return page_of(listed.factors, search, offset, limit, text=lambda a: a.name)

    def show_codes(self, listed: Authenticators) -> None:
        self.codes_left = listed.recovery_codes_left
        self.query_one("#recovery-codes", Static).update(describe_codes(self.codes_left))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        write = self.can("user.credential.write", self.resource)
        match action:
            case "remove":
                return write and self.is_mounted and self.table.current is not None
            case "void_codes":
                return write and bool(self.codes_left)
        return True

    def action_remove(self) -> None:
        factor: Authenticator | None = self.table.current
        if factor is None:
            return

        async def remove() -> None:
            await self.services.factors.remove_authenticator(self.context, self.user.id, factor.id)

        def removed(_: None) -> None:
            self.notify(
                f"{KIND_LABELS.get(factor.kind, 'The factor')} “{factor.name}” of "
                f"{self.user.login_name} is removed.",
                title="Removed",
                markup=False,
            )
            self.table.reload()

        self.confirm(
            "Remove an authenticator",
            f"Remove “{factor.name}” ({KIND_LABELS.get(factor.kind, factor.kind.value)}) of "
            f"{self.user.login_name}? It stops working at once; with forced MFA they set up "
            "another at their next sign-in.",
            remove,
            removed,
            action="Remove",
        )

    def action_ssh_keys(self) -> None:
        self.open(SshKeysScreen(self.services, self.context, self.user))

    def action_void_codes(self) -> None:
        async def void() -> int:
            return await self.services.factors.remove_recovery_codes(self.context, self.user.id)

        def voided(count: int) -> None:
            self.notify(
                f"{count} recovery codes of {self.user.login_name} no longer work.",
                title="Voided",
                markup=False,
            )
            self.table.reload()

        self.confirm(
            "Void the recovery codes",
            f"Void the {self.codes_left} recovery codes left of {self.user.login_name}? None of "
            "them works any more; the user gets new ones with their next authenticator.",
            void,
            voided,
            action="Void",
        )
