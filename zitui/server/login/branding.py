"""An organisation's branding on the login pages: its stylesheet, logos and icons, and the
legal and support links of its footer. Which organisation labels a page is core's
(`core.login.labeling`).

Colours reach the page as a stylesheet of its own (CSS custom properties over zitui.css's,
with a `prefers-color-scheme: dark` block), so the Content-Security-Policy keeps
`style-src 'self'` without inline styles. Every URL carries a version, so browsers cache them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from zitui.core.branding import Branding, Palette
from zitui.core.login.labeling import LoginLabel
from zitui.core.policies import PrivacyPolicy
from zitui.server import paths
from zitui.server.state import get_services

# The path segment of the instance default's resources (organisation ids are UUIDs).
INSTANCE = "instance"
CACHE_CONTROL = "public, max-age=86400"
# An SVG opened on its own is a document of this origin: nothing in it may run or load.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
# zitui.css's custom properties each branding colour replaces.
PROPERTIES = {"primary": "--accent", "background": "--bg", "warning": "--error", "font": "--fg"}


@dataclass(frozen=True)
class FooterLink:
    """One legal or support link: `key` names its label in the catalogue, `text` is the
    manager's own label (the custom link's), shown as written."""

    key: str
    href: str
    text: str = ""


@dataclass(frozen=True)
class PageBranding:
    """The branding and legal links as a login page's templates use them."""

    branding: Branding
    legal: PrivacyPolicy = PrivacyPolicy()

    @classmethod
    def of(cls, label: LoginLabel) -> PageBranding:
        return cls(label.branding, label.legal)

    @property
    def links(self) -> tuple[FooterLink, ...]:
        """The legal policy's links that are set, in a fixed order (the support address as
        a mailto: link). Core accepts only http(s) links and plain addresses."""
        legal = self.legal
        support = f"mailto:{legal.support_email}" if legal.support_email else ""
        links = (
            FooterLink("login.legal.tos", legal.tos_link),
            FooterLink("login.legal.privacy", legal.privacy_link),
            FooterLink("login.legal.help", legal.help_link),
            FooterLink("login.legal.docs", legal.docs_link),
            FooterLink("login.legal.support", support),
            FooterLink("login.legal.custom", legal.custom_link, legal.custom_link_text),
        )
        return tuple(link for link in links if link.href)

    @property
    def segment(self) -> str:
        return self.branding.source or INSTANCE

    @property
    def stylesheet(self) -> str:
        css = stylesheet(self.branding)
        if not css:
            return ""
        return f"{paths.LOGIN_BRANDING}/{self.segment}/style.css?v={_version(css.encode())}"

    def asset_url(self, kind: str) -> str:
        info = self.branding.assets.get(kind)
        if info is None:
            return ""
        return f"{paths.LOGIN_BRANDING}/{self.segment}/{kind}?v={info.sha256[:16]}"

    @property
    def logo(self) -> tuple[str, str]:
        """(light, dark) logo URLs; a mode without its own logo uses the other's."""
        return _pair(self.asset_url("logo_light"), self.asset_url("logo_dark"))

    @property
    def icon(self) -> tuple[str, str]:
        return _pair(self.asset_url("icon_light"), self.asset_url("icon_dark"))

    @property
    def watermark(self) -> bool:
        return not self.branding.disable_watermark

    def login_name(self, name: str) -> str:
        """A login name as the page shows it: without `@domain` when the branding hides it."""
        if not self.branding.hide_login_name_suffix:
            return name
        return name.rpartition("@")[0] or name


async def page_branding(request: Request, org_id: str) -> PageBranding:
    """The branding and links of an organisation's pages outside a flow ("" for the
    instance's)."""
    return PageBranding.of(await get_services(request).labeling.for_org(org_id))


def stylesheet(branding: Branding) -> str:
    """The branding's CSS: only what it sets, so unset colours keep zitui.css's."""
    light, dark = _declarations(branding.light), _declarations(branding.dark)
    parts = [f":root {{ {light} }}"] if light else []
    if dark:
        parts.append(f"@media (prefers-color-scheme: dark) {{ :root {{ {dark} }} }}")
    if branding.font_family:
        # Validated by core: font names, quotes and commas only.
        parts.append(f"body {{ font-family: {branding.font_family}; }}")
    return "\n".join(parts) + "\n" if parts else ""


async def branding_stylesheet(request: Request) -> Response:
    branding = await _branding_of(request)
    body = stylesheet(branding).encode()
    return _cached(request, body, "text/css; charset=utf-8", _version(body))


async def branding_asset(request: Request) -> Response:
    source = _source(request.path_params["source"])
    stored = await get_services(request).branding.asset(source, request.path_params["kind"])
    headers = {"Content-Security-Policy": SVG_POLICY} if "svg" in stored.info.content_type else {}
    return _cached(request, stored.data, stored.info.content_type, stored.info.sha256, headers)


async def _branding_of(request: Request) -> Branding:
    source = _source(request.path_params["source"])
    return await get_services(request).branding.for_login(source)


def _source(segment: str) -> str:
    return "" if segment == INSTANCE else segment


def _cached(
    request: Request,
    body: bytes,
    media_type: str,
    etag: str,
    extra: dict[str, str] | None = None,
) -> Response:
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        **(extra or {}),
    }
    if f'"{etag}"' in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def _declarations(palette: Palette) -> str:
    values = ((PROPERTIES[name], getattr(palette, name)) for name in PROPERTIES)
    return " ".join(f"{prop}: {value};" for prop, value in values if value)


def _pair(light: str, dark: str) -> tuple[str, str]:
    return (light or dark, dark or light)


def _version(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
