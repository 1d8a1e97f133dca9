"""Branding: the colours, font, switches, logos and icons of the login pages, for the instance
default or one organisation (its own, or the default it inherits), with a preview link."""

from __future__ import annotations

import webbrowser
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from zitui.core.branding import ASSET_KINDS, COLOURS, Branding, preview_url
from zitui.core.context import Context
from zitui.core.permissions import Resource
from zitui.core.services import Services
from zitui.records import Organization
from zitui.screens.form import Field, Values
from zitui.screens.section import SectionScreen

UNSET = "—"
COLOUR_LABELS = {"primary": "Primary", "background": "Background", "warning": "Warning"}
COLOUR_LABELS["font"] = "Font colour"
KIND_LABELS = {kind: kind.replace("_", " ").capitalize() for kind in ASSET_KINDS}


def describe_asset(branding: Branding, kind: str) -> str:
    info = branding.assets.get(kind)
    if info is None:
        return UNSET
    return f"{info.content_type}, {max(1, round(info.size / 1024))} KiB"


def table_rows(branding: Branding) -> list[tuple[str, str, str]]:
    """(setting, light, dark) for each line of the screen's table."""
    rows = [
        (COLOUR_LABELS[name], getattr(branding.light, name), getattr(branding.dark, name))
        for name in COLOURS
    ]
    rows.append(("Font family", branding.font_family, ""))
    rows.append(("Hide login-name suffix", _yes(branding.hide_login_name_suffix), ""))
    rows.append(("Hide watermark", _yes(branding.disable_watermark), ""))
    for kind in ("logo", "icon"):
        light, dark = (describe_asset(branding, f"{kind}_{mode}") for mode in ("light", "dark"))
        rows.append((kind.capitalize(), light, dark))
    return [(label, light or UNSET, dark) for label, light, dark in rows]


def open_in_browser(url: str) -> bool:
    """Open `url` in a graphical browser of this machine; False when there is none.

    A terminal browser (lynx, w3m: what Python finds without a display) would take over the
    console's own terminal, so those are not used.
    """
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if type(browser) is webbrowser.GenericBrowser:
        return False
    return browser.open(url)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


class BrandingScreen(SectionScreen):
    CSS_PATH = Path(__file__).with_name("branding.tcss")
    AUTO_FOCUS = "#branding-table"
    BINDINGS = [
        Binding("e", "edit", "Edit"),
        Binding("u", "upload", "Upload image"),
        Binding("x", "remove", "Remove image"),
        Binding("d", "reset", "Use the default"),
        Binding("p", "preview", "Preview"),
        Binding("r", "reload", "Refresh", show=False),
    ]

    def __init__(
        self, services: Services, context: Context, *, org: Organization | None = None
    ) -> None:
        super().__init__(services, context)
        self.org = org
        self.branding: Branding | None = None

    @property
    def org_id(self) -> str | None:
        return self.org.id if self.org else None

    @property
    def writable(self) -> bool:
        if self.org is None:
            return self.can("iam.policy.write", Resource.instance())
        return self.can("policy.write", Resource(org_id=self.org.id))

    @property
    def preview_url(self) -> str:
        return preview_url(self.services.settings.issuer, self.org_id)

    def compose(self) -> ComposeResult:
        owner = f"Organisation {self.org.name}" if self.org else "The instance"
        yield from self.title_bar(f"Branding · {owner}", "Loading…")
        table: DataTable[str] = DataTable(id="branding-table", cursor_type="row")
        table.add_columns("Setting", "Light", "Dark")
        yield table
        yield Static(f"Preview: {self.preview_url}", id="branding-preview", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.call(lambda: self.services.branding.get(self.context, self.org_id), self.show)

    def show(self, branding: Branding) -> None:
        self.branding = branding
        self.query_one("#section-detail", Static).update(self.describe(branding))
        table = self.query_one("#branding-table", DataTable)
        table.clear()
        for row in table_rows(branding):
            table.add_row(*row)
        self.refresh_bindings()

    def describe(self, branding: Branding) -> str:
        if branding.inherited:
            state = "Inherits the instance default; a change gives the organisation its own."
        elif self.org is not None:
            state = "The organisation's own branding; d returns to the instance default."
        elif branding.stored:
            state = "The instance default; d returns to zitui's own look."
        else:
            state = "Nothing set: the login pages have zitui's own look."
        return f"{state} Colours are #rrggbb; {UNSET} keeps zitui's own."

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        branding = self.branding
        match action:
            case "edit" | "upload":
                return self.writable and branding is not None
            case "remove":
                return self.writable and branding is not None and bool(branding.assets)
            case "reset":
                own = branding is not None and branding.stored and not branding.inherited
                return self.writable and own
        return True

    def action_edit(self) -> None:
        branding = self.branding
        if branding is None:
            return
        current = branding.settings()
        fields = [
            Field(
                f"{name}_color{suffix}",
                f"{COLOUR_LABELS[name]} ({mode})",
                current[f"{name}_color{suffix}"],
                placeholder="#rrggbb",
            )
            for suffix, mode in (("", "light"), ("_dark", "dark"))
            for name in COLOURS
        ]
        fields += [
            Field(
                "font_family",
                "Font family",
                current["font_family"],
                hint="Installed fonts only, e.g. Georgia, serif",
            ),
            Field(
                "hide_login_name_suffix",
                "Hide the @domain of login names",
                current["hide_login_name_suffix"],
                kind="check",
            ),
            Field(
                "disable_watermark",
                'Hide "Powered by zitui"',
                current["disable_watermark"],
                kind="check",
            ),
        ]
        org_id = self.org_id

        async def save(values: Values) -> Branding | None:
            changes = {k: v for k, v in values.items() if current[k] != v}
            if not changes:
                return None
            return await self.services.branding.set(self.context, changes, org_id)

        def saved(result: Branding | None) -> None:
            if result is not None:
                self.notify("The branding is saved.", title="Saved")
                self.show(result)

        self.form("Branding", fields, save, saved, intro="Empty colours keep zitui's own.")

    def action_upload(self) -> None:
        org_id = self.org_id
        choices = tuple((KIND_LABELS[kind], kind) for kind in ASSET_KINDS)
        fields = [
            Field("kind", "Image", ASSET_KINDS[0], kind="choice", choices=choices),
            Field(
                "file",
                "File",
                "",
                placeholder="/path/to/logo.svg",
                hint="PNG, WebP or SVG, at most 512 KiB",
            ),
        ]

        async def upload(values: Values) -> str:
            path = Path(values["file"].strip())
            await self.services.branding.upload_asset_file(
                self.context, values["kind"], path, org_id
            )
            return str(values["kind"])

        def uploaded(kind: str) -> None:
            self.notify(f"{KIND_LABELS[kind]} is uploaded.", title="Saved")
            self.action_reload()

        self.form("Upload an image", fields, upload, uploaded, action="Upload")

    def action_remove(self) -> None:
        branding = self.branding
        if branding is None or not branding.assets:
            return
        org_id = self.org_id
        kinds = [kind for kind in ASSET_KINDS if kind in branding.assets]
        choices = tuple((KIND_LABELS[kind], kind) for kind in kinds)
        fields = [Field("kind", "Image", kinds[0], kind="choice", choices=choices)]

        async def remove(values: Values) -> str:
            await self.services.branding.remove_asset(self.context, values["kind"], org_id)
            return str(values["kind"])

        def removed(kind: str) -> None:
            self.notify(f"{KIND_LABELS[kind]} is removed.", title="Removed")
            self.action_reload()

        self.form("Remove an image", fields, remove, removed, action="Remove")

    def action_reset(self) -> None:
        org_id = self.org_id
        back_to = "the instance default" if self.org else "zitui's own look"

        def reset(branding: Branding) -> None:
            self.notify(f"The login pages show {back_to} again.", title="Reset")
            self.show(branding)

        self.confirm(
            "Use the default",
            f"Forget this branding, its colours and images, and show {back_to}?",
            lambda: self.services.branding.reset(self.context, org_id),
            reset,
            action="Reset",
        )

    def action_preview(self) -> None:
        """Open the preview in a browser where the console can (a local terminal), and
        always show its address, for a console reached over SSH."""
        url = self.preview_url
        opened = open_in_browser(url)
        where = "opened in your browser" if opened else "open it in a browser"
        self.notify(f"Preview of the login page ({where}): {url}", title="Preview", markup=False)
