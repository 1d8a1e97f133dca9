"""Custom texts: the wording of the login pages and mails per language, for the instance or
one organisation, each key with its default beside the override."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from zitui.core.context import Context
from zitui.core.custom_texts import TextEntry
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.i18n import SUPPORTED_LOCALES
from zitui.records import Organization, Page
from zitui.screens.form import Field, Values
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.section import SectionScreen

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French"}


def columns(org: Organization | None) -> tuple[Column, ...]:
    """The level's own override beside what it inherits; an organisation also sees the
    instance's."""
    inherited = (Column("Instance", lambda e: e.instance_override),) if org else ()
    own = (lambda e: e.org_override) if org else (lambda e: e.instance_override)
    return (
        Column("Key", lambda e: e.key),
        Column("Default", lambda e: e.default),
        *inherited,
        Column("Override", own),
        Column("Shown", lambda e: e.effective),
    )


class TextsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("texts.tcss")
    AUTO_FOCUS = "#texts-table"
    BINDINGS = [
        Binding("l", "language", "Language"),
        Binding("e", "edit", "Edit"),
        Binding("delete", "reset", "Reset"),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(
        self, services: Services, context: Context, *, org: Organization | None = None
    ) -> None:
        super().__init__(services, context)
        self.org = org
        self.language = SUPPORTED_LOCALES[0]

    @property
    def org_id(self) -> str | None:
        return self.org.id if self.org else None

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.org.id) if self.org else Resource.instance()

    @property
    def write_permission(self) -> str:
        return "policy.write" if self.org else "iam.policy.write"

    @property
    def texts(self) -> PagedTable:
        return self.query_one("#texts", PagedTable)

    def compose(self) -> ComposeResult:
        owner = f"Organisation {self.org.name}" if self.org else "The instance"
        yield from self.title_bar(f"Custom texts · {owner}", self.describe_language())
        yield PagedTable(
            self.load_page,
            columns(self.org),
            Nouns("texts", "text"),
            id="texts",
            key=lambda e: e.key,
            placeholder="Search key or text (press /)",
        )
        yield Footer(compact=True)

    def describe_language(self) -> str:
        over = "over the instance's texts and " if self.org else ""
        return (
            f"Language: {LANGUAGE_NAMES[self.language]} ({self.language}), l for the next. "
            f"An override goes {over}over the default; Enter or e edits, Delete resets."
        )

    async def load_page(self, search: str, offset: int, limit: int) -> Page[TextEntry]:
        entries = await self.services.texts.list(self.context, self.language, self.org_id, search)
        return page_of(entries, "", offset, limit, text=lambda e: e.key)

    def own_override(self, entry: TextEntry) -> str:
        return entry.org_override if self.org else entry.instance_override

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        entry = self.texts.current if self.is_mounted else None
        match action:
            case "edit":
                return self.can(self.write_permission, self.resource) and entry is not None
            case "reset":
                writable = self.can(self.write_permission, self.resource)
                return writable and entry is not None and bool(self.own_override(entry))
        return True

    def action_language(self) -> None:
        index = SUPPORTED_LOCALES.index(self.language)
        self.language = SUPPORTED_LOCALES[(index + 1) % len(SUPPORTED_LOCALES)]
        self.query_one("#section-detail", Static).update(self.describe_language())
        self.texts.reload(first_page=True)

    def action_reload(self) -> None:
        self.texts.reload()

    @on(PagedTable.Opened, "#texts")
    def opened(self, event: PagedTable.Opened) -> None:
        if self.check_action("edit", ()):
            self.edit(event.item)

    def action_edit(self) -> None:
        entry = self.texts.current
        if entry is not None:
            self.edit(entry)

    def edit(self, entry: TextEntry) -> None:
        language, org_id = self.language, self.org_id
        inherited = entry.instance_override if self.org else ""
        hint = f"Default: {entry.default}"
        if inherited:
            hint += f"\nInstance: {inherited}"

        async def save(values: Values) -> bool:
            return await self.services.texts.set(
                self.context, language, entry.key, values["text"], org_id
            )

        def saved(changed: bool) -> None:
            if changed:
                self.notify(f"{entry.key} ({language}) is saved.", title="Saved", markup=False)
            self.texts.reload()

        self.form(
            f"Text {entry.key} ({language})",
            [Field("text", "Text", self.own_override(entry) or entry.effective, hint=hint)],
            save,
            saved,
            intro="Placeholders in braces, like {name}, must be ones the default uses.",
        )

    def action_reset(self) -> None:
        entry = self.texts.current
        if entry is None:
            return
        language, org_id = self.language, self.org_id
        inherited = "the instance's text" if self.org and entry.instance_override else "the default"

        def reset(_: bool) -> None:
            self.notify(
                f"{entry.key} ({language}) shows {inherited} again.", title="Reset", markup=False
            )
            self.texts.reload()

        self.confirm(
            "Reset text",
            f"Forget this level's text of {entry.key} ({language}) and show {inherited}?",
            lambda: self.services.texts.reset(self.context, language, entry.key, org_id),
            reset,
            action="Reset",
        )
