"""The operator's home: which instance, who is signed in with which roles, and the organisations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from zitui.core.context import Context
from zitui.core.services import Services
from zitui.errors import ZituiError
from zitui.records import Membership, Organization, Page, Scope
from zitui.screens.feedback import report
from zitui.screens.session import SignedOut

PAGE_SIZE = 20
_SCOPE_NAMES = {
    Scope.ORG: "organisation",
    Scope.PROJECT: "project",
    Scope.PROJECT_GRANT: "project grant",
}


def describe_membership(membership: Membership, org_names: Mapping[str, str]) -> str:
    roles = ", ".join(membership.roles)
    if membership.scope is Scope.INSTANCE:
        return f"{roles} on the instance"
    name = org_names.get(membership.scope_id, membership.scope_id)
    return f"{roles} on {_SCOPE_NAMES[membership.scope]} {name}"


def describe_memberships(memberships: Iterable[Membership], org_names: Mapping[str, str]) -> str:
    described = [describe_membership(m, org_names) for m in memberships]
    return "Roles: " + ("; ".join(described) if described else "none")


def describe_page(page: Page[Organization], *, searching: bool) -> str:
    if page.total == 0:
        return "No organisation matches the search." if searching else "No organisations."
    first, last = page.offset + 1, page.offset + len(page.items)
    text = f"Organisations {first}–{last} of {page.total}"
    return text + " · n next page, p previous page" if page.total > page.limit else text


class HomeScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_name("home.tcss")
    AUTO_FOCUS = "#orgs"
    BINDINGS = [
        Binding("slash", "focus_search", "Search"),
        Binding("n", "next_page", "Next page"),
        Binding("p", "previous_page", "Previous page"),
        Binding("question_mark", "app.help", "Help", key_display="?", show=False),
        Binding("ctrl+l", "sign_out", "Sign out"),
        Binding("q", "app.quit", "Quit", show=False),
        Binding("escape", "focus_table", "Back to the table", show=False),
    ]

    def __init__(self, services: Services, context: Context, *, page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self.services = services
        self.context = context
        self.page_size = page_size
        self.page_offset = 0
        self.total = 0

    def compose(self) -> ComposeResult:
        actor = self.context.actor
        with Vertical(id="home-header"):
            yield Static("Instance …", id="instance", markup=False)
            yield Static(
                f"Signed in as {actor.login_name if actor else ''}", id="operator", markup=False
            )
            yield Static(
                describe_memberships(actor.memberships if actor else (), {}),
                id="roles",
                markup=False,
            )
        yield Input(placeholder="Search organisations (press /)", id="search")
        yield DataTable(id="orgs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="paging", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#orgs", DataTable).add_columns("Name", "Primary domain", "State")
        self.load_header()
        self.load_orgs()

    @work(group="header", exclusive=True, exit_on_error=False)
    async def load_header(self) -> None:
        instance = await self.services.instance.get_instance(self.context)
        self.query_one("#instance", Static).update(f"Instance {instance.name} · {instance.domain}")
        memberships = self.context.actor.memberships if self.context.actor else ()
        org_names = await self.find_org_names(memberships)
        self.query_one("#roles", Static).update(describe_memberships(memberships, org_names))

    async def find_org_names(self, memberships: Iterable[Membership]) -> dict[str, str]:
        names: dict[str, str] = {}
        for membership in memberships:
            if membership.scope is not Scope.ORG:
                continue
            try:
                org = await self.services.orgs.get_org(self.context, membership.scope_id)
            except ZituiError:
                continue
            names[org.id] = org.name
        return names

    @work(group="orgs", exclusive=True, exit_on_error=False)
    async def load_orgs(self) -> None:
        search = self.query_one("#search", Input).value
        page = await self.services.orgs.list_orgs(
            self.context, search=search, offset=self.page_offset, limit=self.page_size
        )
        self.show_page(page, searching=bool(search.strip()))

    def show_page(self, page: Page[Organization], *, searching: bool) -> None:
        self.total = page.total
        table = self.query_one("#orgs", DataTable)
        table.clear()
        for org in page.items:
            table.add_row(Text(org.name), Text(org.primary_domain), org.state.value, key=org.id)
        self.query_one("#paging", Static).update(describe_page(page, searching=searching))
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            report(self, event.worker.error)

    @on(Input.Changed, "#search")
    def search(self) -> None:
        self.page_offset = 0
        self.load_orgs()

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.action_focus_table()

    def action_focus_table(self) -> None:
        self.query_one("#orgs", DataTable).focus()

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_page":
            return self.page_offset + self.page_size < self.total
        if action == "previous_page":
            return self.page_offset > 0
        return True

    def action_next_page(self) -> None:
        self.page_offset += self.page_size
        self.load_orgs()

    def action_previous_page(self) -> None:
        self.page_offset = max(0, self.page_offset - self.page_size)
        self.load_orgs()

    def action_sign_out(self) -> None:
        self.post_message(SignedOut())
