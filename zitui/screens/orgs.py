"""Organisations: list, search, create, rename, and open one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from zitui.core.permissions import Resource
from zitui.records import Organization, Page
from zitui.screens.form import Field, Values
from zitui.screens.formats import when
from zitui.screens.org import OrgScreen
from zitui.screens.paged_table import Column, Nouns, PagedTable
from zitui.screens.section import SectionScreen

ORG_COLUMNS = (
    Column("Name", lambda org: org.name),
    Column("Primary domain", lambda org: org.primary_domain),
    Column("State", lambda org: org.state.value),
)
ORG_NOUNS = Nouns("organisations", "organisation")


class OrgsScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("orgs.tcss")
    AUTO_FOCUS = "#orgs-table"
    BINDINGS = [
        Binding("c", "create", "New organisation"),
        Binding("r", "rename", "Rename"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.title_bar("Organisations", "Enter opens an organisation.")
        columns = (*ORG_COLUMNS, Column("Created", lambda org: when(org.created_at)))
        yield PagedTable(self.load_page, columns, ORG_NOUNS, id="orgs")
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[Organization]:
        return await self.services.orgs.list_orgs(
            self.context, search=search, offset=offset, limit=limit
        )

    @property
    def orgs(self) -> PagedTable:
        return self.query_one("#orgs", PagedTable)

    @property
    def current(self) -> Organization | None:
        return self.orgs.current if self.is_mounted else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "create":
            return self.can("org.create", Resource.instance())
        if action == "rename":
            org = self.current
            return org is not None and self.can("org.write", Resource(org_id=org.id))
        return True

    @on(PagedTable.Opened, "#orgs")
    def open_org(self, event: PagedTable.Opened) -> None:
        self.open(OrgScreen(self.services, self.context, event.item))

    def action_create(self) -> None:
        async def create(values: Values) -> Organization:
            return await self.services.orgs.create_org(self.context, values["name"])

        self.form(
            "New organisation",
            [Field("name", "Name", hint="Its domain is derived from the name.")],
            create,
            self.created,
            action="Create",
        )

    def created(self, org: Organization) -> None:
        self.notify(f"Organisation {org.name} is created.", title="Created", markup=False)
        self.orgs.reload()

    def action_rename(self) -> None:
        org = self.current
        if org is None:
            return

        async def rename(values: Values) -> Any:
            return await self.services.orgs.rename_org(self.context, org.id, values["name"])

        self.form(f"Rename {org.name}", [Field("name", "Name", org.name)], rename, self.changed)

    def changed(self, org: Organization) -> None:
        self.notify(f"Organisation {org.name} is saved.", title="Saved", markup=False)
        self.orgs.reload()
