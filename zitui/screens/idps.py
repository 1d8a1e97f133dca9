"""Identity providers of the instance or of one organisation: a list with the redirect URIs
to register at each provider, add, edit and remove."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static, TextArea

from zitui.core.context import Context
from zitui.core.idp_templates import filled, template_of
from zitui.core.idps import callback_urls
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import AutoLinking, IdentityProvider, IdpOptions, IdpType, Organization, Page
from zitui.screens.form import Submit, Values
from zitui.screens.formats import aligned, when, yes_no
from zitui.screens.idp_form import (
    KINDS,
    LABELS,
    OAUTH_FIELDS,
    IdpFormModal,
    fields_of_kind,
    idp_fields,
    idp_settings,
)
from zitui.screens.paged_table import Column, Nouns, PagedTable, page_of
from zitui.screens.section import SectionScreen


def sign_in_url(idp: IdentityProvider) -> str:
    """The issuer (OpenID Connect) or authorization URL (OAuth) in use, the template's
    when none is set."""
    template = template_of(idp.type)
    if idp.is_oidc:
        return idp.issuer or filled(template.issuer, idp.extra)
    return idp.authorization_endpoint or filled(template.authorization_endpoint, idp.extra)


def describe_options(options: IdpOptions) -> str:
    chosen = [
        label
        for label, on_ in (
            ("creation", options.creation_allowed),
            ("linking", options.linking_allowed),
            ("auto creation", options.auto_creation),
            ("auto update", options.auto_update),
        )
        if on_
    ]
    if options.auto_linking is not AutoLinking.NONE:
        chosen.append(f"auto linking by {options.auto_linking.value}")
    return ", ".join(chosen) or "none"


COLUMNS = (
    Column("Name", lambda idp: idp.name),
    Column("Type", lambda idp: idp.type.value),
    Column("Client id", lambda idp: idp.client_id),
    Column("Issuer or authorization URL", sign_in_url),
    Column("Options", lambda idp: describe_options(idp.options)),
)


def describe_idp(idp: IdentityProvider, callbacks: tuple[str, str]) -> str:
    rows = [
        ("Name", idp.name),
        ("Type", dict((v, k) for k, v in KINDS)[idp.type.value]),
        ("Client id", idp.client_id),
        ("Client secret", "stored" if idp.has_secret else "none"),
    ]
    kind_fields = fields_of_kind(idp.type)
    if idp.is_oidc:
        rows.append(("Issuer", sign_in_url(idp)))
    for name in OAUTH_FIELDS:
        if name in kind_fields or getattr(idp, name):
            rows.append((LABELS[name], getattr(idp, name)))
    rows.extend((LABELS.get(name, name), value) for name, value in idp.extra.items())
    rows.append(("Scopes", " ".join(idp.scopes) or "none"))
    rows.append(("PKCE", yes_no(idp.use_pkce)))
    if idp.is_oidc:
        rows.append(("Map from ID token", yes_no(idp.id_token_mapping)))
    rows.append(("Options", describe_options(idp.options)))
    rows.append(("Changed", when(idp.updated_at)))
    rows.append(("Id", idp.id))
    rows.append(("Redirect URI", callbacks[0]))
    rows.append(("Form post redirect URI", callbacks[1]))
    return aligned(rows)


class IdpsScreen(SectionScreen):
    """The instance's providers (`org` None), offered on every organisation's login, or
    one organisation's, offered on its own login besides the instance's."""

    CSS_PATH = Path(__file__).with_name("idps.tcss")
    AUTO_FOCUS = "#idps-table"
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("x,delete", "remove", "Remove"),
        Binding("c", "copy_callbacks", "Copy redirect URIs"),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(
        self, services: Services, context: Context, *, org: Organization | None = None
    ) -> None:
        super().__init__(services, context)
        self.org = org
        self.callbacks = callback_urls(services.settings.issuer)

    @property
    def org_id(self) -> str:
        return self.org.id if self.org else ""

    @property
    def resource(self) -> Resource:
        return Resource(org_id=self.org.id) if self.org else Resource.instance()

    def permission(self, action: str) -> str:
        return f"org.idp.{action}" if self.org else f"iam.idp.{action}"

    @property
    def owner(self) -> str:
        return f"organisation {self.org.name}" if self.org else "the instance"

    @property
    def table(self) -> PagedTable:
        return self.query_one("#idps", PagedTable)

    @property
    def current(self) -> IdentityProvider | None:
        return self.table.current if self.is_mounted else None

    def compose(self) -> ComposeResult:
        if self.org is None:
            detail = "Offered on every organisation's login."
        else:
            detail = "Offered on this organisation's login, with the instance's providers."
        yield from self.title_bar(f"Identity providers · {self.owner}", detail)
        yield Static(
            "Redirect URIs to register at each provider (c copies them):",
            id="idp-callbacks-label",
        )
        yield TextArea(
            "\n".join(self.callbacks), read_only=True, id="idp-callbacks", soft_wrap=False
        )
        yield PagedTable(
            self.load_page,
            COLUMNS,
            Nouns("identity providers", "identity provider"),
            id="idps",
            searchable=False,
        )
        with VerticalScroll(id="idp-detail-box"):
            yield Static("", id="idp-detail", markup=False)
        yield Footer(compact=True)

    async def load_page(self, search: str, offset: int, limit: int) -> Page[IdentityProvider]:
        idps = await self.services.idps.owned(self.context, self.org_id)
        page = page_of(idps, search, offset, limit, text=lambda idp: idp.name)
        self.call_after_refresh(self.show_detail)
        return page

    @on(DataTable.RowHighlighted, "#idps-table")
    def highlighted(self) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        idp = self.current
        self.query_one("#idp-detail", Static).update(
            describe_idp(idp, self.callbacks) if idp else ""
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        match action:
            case "add":
                return self.can(self.permission("write"), self.resource)
            case "edit":
                return self.current is not None and self.can(
                    self.permission("write"), self.resource
                )
            case "remove":
                return self.current is not None and self.can(
                    self.permission("delete"), self.resource
                )
        return True

    def action_reload(self) -> None:
        self.table.reload()

    def action_copy_callbacks(self) -> None:
        self.app.copy_to_clipboard("\n".join(self.callbacks))
        self.notify("The redirect URIs are on the clipboard.", title="Copied")

    @property
    def intro(self) -> str:
        callback, form_callback = self.callbacks
        return (
            f"Register these redirect URIs at the provider:\n{callback}\n{form_callback}\n"
            "Only the fields the chosen type uses are shown."
        )

    def action_add(self) -> None:
        async def add(values: Values) -> IdentityProvider:
            settings = await idp_settings(values, None)
            return await self.services.idps.add(self.context, self.org_id, settings)

        self.open_form(f"New identity provider of {self.owner}", None, add, "Add")

    @on(PagedTable.Opened, "#idps")
    def opened(self) -> None:
        if self.check_action("edit", ()):
            self.action_edit()

    def action_edit(self) -> None:
        idp = self.current
        if idp is None:
            return

        async def change(values: Values) -> IdentityProvider:
            settings = await idp_settings(values, idp)
            return await self.services.idps.change(self.context, idp.id, settings)

        self.open_form(f"Identity provider {idp.name}", idp, change, "Save")

    def open_form(
        self,
        title: str,
        idp: IdentityProvider | None,
        submit: Submit[IdentityProvider],
        action: str,
    ) -> None:
        def done(saved: IdentityProvider | None) -> None:
            if saved is not None:
                self.notify(f"{saved.name} is saved.", title="Saved", markup=False)
                self.table.reload()

        modal = IdpFormModal(
            title,
            idp_fields(idp),
            submit,
            kind=idp.type if idp else IdpType.OIDC,
            intro=self.intro,
            action=action,
        )
        self.app.push_screen(modal, done)

    def action_remove(self) -> None:
        idp = self.current
        if idp is None:
            return

        def removed(_: Any) -> None:
            self.notify(f"{idp.name} is removed.", title="Removed", markup=False)
            self.table.reload()

        self.confirm(
            "Remove an identity provider",
            f"Remove {idp.name}? Every user's link to it goes too: they can no longer sign in "
            "through it. This cannot be undone.",
            lambda: self.services.idps.remove(self.context, idp.id),
            removed,
            action="Remove",
        )
