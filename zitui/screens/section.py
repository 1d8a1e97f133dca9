"""The base of the console's screens: who acts, how to go back, and how to call a service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import Organization
from zitui.screens.confirm import ConfirmModal
from zitui.screens.feedback import report
from zitui.screens.form import Field, FormModal, Values
from zitui.screens.paged_table import PagedTable
from zitui.screens.pickers import org_picker
from zitui.screens.secret import SecretModal
from zitui.screens.session import SignedOut

T = TypeVar("T")
SECTION_CSS = Path(__file__).with_name("section.tcss")


class SectionScreen(Screen[None]):
    """Escape goes back to the screen below; every service call runs in a worker.

    Subclasses bring their own stylesheet; this one's rules are loaded with it.
    """

    CSS_PATH = SECTION_CSS
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("question_mark", "app.help", "Help", key_display="?", show=False),
        Binding("ctrl+l", "sign_out", "Sign out", show=False),
    ]

    def __init__(self, services: Services, context: Context) -> None:
        super().__init__()
        self.services = services
        self.context = context
        self.css_path = list(dict.fromkeys([SECTION_CSS, *self.css_path]))

    def title_bar(self, title: str, detail: str = "") -> ComposeResult:
        yield Static(title, id="section-title", markup=False)
        yield Static(detail, id="section-detail", markup=False)

    def can(self, permission: str, resource: Resource) -> bool:
        return self.context.can(permission, resource)

    def call(
        self,
        call: Callable[[], Awaitable[T]],
        then: Callable[[T], object] | None = None,
    ) -> Worker[None]:
        """Run a service call in a worker; a failure goes to the app's one error handler.

        Unlike page loads these are not exclusive: a second command must not cancel the
        first halfway.
        """

        async def run() -> None:
            try:
                result = await call()
            except Exception as error:
                report(self, error)
                return
            if then is not None:
                then(result)

        return self.run_worker(run(), group="call", exit_on_error=False)

    def confirm(
        self,
        title: str,
        question: str,
        call: Callable[[], Awaitable[T]],
        then: Callable[[T], object] | None = None,
        *,
        action: str = "Delete",
    ) -> None:
        """Ask first; only a yes runs `call`."""

        def answered(go: bool | None) -> None:
            if go:
                self.call(call, then)

        self.app.push_screen(ConfirmModal(title, question, action=action), answered)

    def form(
        self,
        title: str,
        fields: Sequence[Field],
        submit: Callable[[Values], Awaitable[T]],
        then: Callable[[T], object],
        *,
        action: str = "Save",
        intro: str = "",
    ) -> None:
        async def boxed(values: Values) -> tuple[T]:
            return (await submit(values),)  # a None result still tells saved from cancelled

        def done(result: tuple[T] | None) -> None:
            if result is not None:
                then(result[0])

        modal = FormModal(title, fields, boxed, action=action, intro=intro)
        self.app.push_screen(modal, done)

    def show_secret(
        self, title: str, label: str, secret: str, *, details: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.app.push_screen(SecretModal(title, label, secret, details=details))

    def open(self, screen: Screen[Any]) -> None:
        self.app.push_screen(screen)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_sign_out(self) -> None:
        self.post_message(SignedOut())


FILTER_BINDINGS = [
    Binding("f", "filter", "Filter by organisation"),
    Binding("a", "all_orgs", "All organisations"),
]


class OrgFilteredScreen(SectionScreen):
    """The organisation filter shared by the users and projects lists.

    With `fixed`, the screen was opened from an organisation and stays on it.
    """

    ITEM: ClassVar[str]  # "user", "project": the singular the prompts use
    TABLE_ID: ClassVar[str]

    def __init__(
        self,
        services: Services,
        context: Context,
        *,
        org: Organization | None = None,
        fixed: bool = False,
    ) -> None:
        super().__init__(services, context)
        self.org = org
        self.fixed = fixed and org is not None

    @property
    def table(self) -> PagedTable:
        return self.query_one(f"#{self.TABLE_ID}", PagedTable)

    def describe_filter(self) -> str:
        where = f"Organisation {self.org.name}" if self.org else "All organisations you manage"
        return f"{where}. Enter opens a {self.ITEM}."

    def may_create(self, permission: str) -> bool:
        """Whether `permission` holds in the filtered organisation, or in any if none is."""
        if self.org is not None:
            return self.can(permission, Resource(org_id=self.org.id))
        scope = self.context.org_scope(permission)
        return scope is None or bool(scope)

    def filter_action_allowed(self, action: str) -> bool | None:
        """For `check_action`: None when `action` is not one of the filter's."""
        if action == "filter":
            return not self.fixed
        if action == "all_orgs":
            return not self.fixed and self.org is not None
        return None

    def set_org(self, org: Organization | None) -> None:
        self.org = org
        self.query_one("#section-detail", Static).update(self.describe_filter())
        self.table.reload(first_page=True)
        self.refresh_bindings()

    def action_filter(self) -> None:
        self.pick_org(f"Show the {self.ITEM}s of which organisation?", self.set_org)

    def action_all_orgs(self) -> None:
        self.set_org(None)

    def in_org(self, then: Callable[[Organization], None]) -> None:
        """Call `then` with the filtered organisation, or with one the operator picks."""
        if self.org is not None:
            then(self.org)
            return
        self.pick_org(f"Create the {self.ITEM} in which organisation?", then)

    def pick_org(self, title: str, then: Callable[[Organization], None]) -> None:
        def picked(org: Organization | None) -> None:
            if org is not None:
                then(org)

        self.app.push_screen(org_picker(self.services, self.context, title), picked)
