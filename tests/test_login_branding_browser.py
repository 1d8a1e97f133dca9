"""Branding in a real browser (Debian's chromium): an organisation's colours, font and logo in
light and dark mode, and the instance's login without them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page

from tests.branding_assets import CLEAN_SVG, png
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.live_server import chromium, serving
from tests.processes import free_port
from tests.test_server_browser import CHROMIUM
from zitui.config import Settings
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.server import paths

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")

ACME = {
    "primary_color": "#c2185b",
    "background_color": "#fff8e1",
    "font_color": "#3e2723",
    "primary_color_dark": "#f48fb1",
    "background_color_dark": "#101820",
    "font_color_dark": "#fafafa",
    "font_family": "Georgia, serif",
}


@dataclass(frozen=True)
class Live:
    url: str
    acme_id: str


def branded_instance(settings: Settings) -> str:
    """Acme with its own colours, font, a light PNG logo and a dark SVG logo; its id."""

    async def brand() -> str:
        services, _ = await open_services(settings)
        try:
            login = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
            admin = login.context
            acme = await services.orgs.create_org(admin, "Acme")
            await services.branding.set(admin, ACME, acme.id)
            await services.branding.upload_asset(admin, "logo_light", png((194, 24, 91)), acme.id)
            await services.branding.upload_asset(admin, "logo_dark", CLEAN_SVG, acme.id)
            return acme.id
        finally:
            await services.close()

    # Its own thread: the test session may already run an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(brand())).result()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    port = free_port()
    settings = make_settings(tmp_path_factory.mktemp("data"), listen=f"127.0.0.1:{port}")
    acme_id = branded_instance(settings)
    with serving(settings):
        yield Live(f"http://127.0.0.1:{port}", acme_id)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def style(page: Page, selector: str, prop: str) -> str:
    return str(page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}"))


def logo(page: Page) -> tuple[str, int]:
    """The logo's chosen source and its drawn width (0 when it did not load)."""
    src, width = page.eval_on_selector(
        ".login-logo img", "e => [e.currentSrc, e.complete ? e.naturalWidth : 0]"
    )
    return str(src), int(width)


def open_preview(browser: Browser, live: Live, scheme: str, org: str) -> tuple[Page, list[str]]:
    context = browser.new_context(locale="en-US", color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    query = f"?org={org}" if org else ""
    page.goto(f"{live.url}{paths.LOGIN_PREVIEW}{query}", wait_until="load")
    return page, problems


def test_light_mode_shows_the_organisations_colours_font_and_logo(
    browser: Browser, live: Live
) -> None:
    page, problems = open_preview(browser, live, "light", live.acme_id)
    assert style(page, "body", "backgroundColor") == "rgb(255, 248, 225)"
    assert style(page, "body", "color") == "rgb(62, 39, 35)"
    assert style(page, "button.primary", "backgroundColor") == "rgb(194, 24, 91)"
    assert style(page, "body", "fontFamily") == "Georgia, serif"
    src, width = logo(page)
    assert "/logo_light?v=" in src and width == 4
    assert page.locator(".login-logo img").get_attribute("alt") == "Logo"
    assert problems == []
    page.context.close()


def test_dark_mode_follows_the_browser(browser: Browser, live: Live) -> None:
    page, problems = open_preview(browser, live, "dark", live.acme_id)
    assert style(page, "body", "backgroundColor") == "rgb(16, 24, 32)"
    assert style(page, "body", "color") == "rgb(250, 250, 250)"
    assert style(page, "button.primary", "backgroundColor") == "rgb(244, 143, 177)"
    src, width = logo(page)
    assert "/logo_dark?v=" in src and width == 160
    assert problems == []
    page.context.close()


@pytest.mark.parametrize(
    ("scheme", "background"), [("light", "rgb(255, 255, 255)"), ("dark", "rgb(18, 18, 18)")]
)
def test_the_instance_login_keeps_zituis_own_look(
    browser: Browser, live: Live, scheme: str, background: str
) -> None:
    page, problems = open_preview(browser, live, scheme, "")
    assert style(page, "body", "backgroundColor") == background
    assert style(page, "button.primary", "backgroundColor") not in (
        "rgb(194, 24, 91)",
        "rgb(244, 143, 177)",
    )
    assert page.locator(".login-logo").count() == 0
    assert page.locator(".watermark").inner_text() == "Powered by zitui"
    assert problems == []
    page.context.close()
