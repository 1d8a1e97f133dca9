"""Branding on the login pages: the organisation in the request's scope brings its colours,
logo, icon, font and switches; another organisation's login never shows them; the resources
are served with their type, an ETag and caching headers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.branding_assets import CLEAN_SVG, png
from tests.conftest import ADMIN_PASSWORD
from tests.test_login_auth_requests import portal_app, real_auth_request, sign_in_plain, start
from tests.test_login_pages import _admin, login_client, run
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.services import Services
from zitui.records import Organization
from zitui.server import paths

ACME_PRIMARY = "#c2185b"
DEFAULT_PRIMARY = "#1b5e20"
WATERMARK = "Powered by zitui"


@dataclass
class Branded:
    """What a page links of its branding."""

    stylesheets: list[str] = field(default_factory=list)
    icons: list[str] = field(default_factory=list)
    logos: list[tuple[str, str]] = field(default_factory=list)  # (src, alt)
    dark_logos: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found = Branded()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "link" and values.get("rel") == "stylesheet":
            self.found.stylesheets.append(values["href"])
        if tag == "link" and values.get("rel") == "icon" and values["href"] != "data:,":
            self.found.icons.append(values["href"])
        if tag == "img":
            self.found.logos.append((values["src"], values.get("alt", "")))
        if tag == "source":
            self.found.dark_logos.append(values["srcset"])


def branded(html: str) -> Branded:
    reader = _Reader()
    reader.feed(html)
    return reader.found


def brand_sheets(html: str) -> list[str]:
    return [href for href in branded(html).stylesheets if href != paths.STYLESHEET]


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


@pytest.fixture
def orgs(client: TestClient) -> tuple[Organization, Organization]:
    """Acme with its own colours and logo, Beta inheriting the instance default's colours."""

    async def brand(services: Services) -> tuple[Organization, Organization]:
        admin = await _admin(services)
        acme = await services.orgs.create_org(admin, "Acme")
        beta = await services.orgs.create_org(admin, "Beta")
        await services.branding.set(admin, {"primary_color": DEFAULT_PRIMARY})
        changes = {"primary_color": ACME_PRIMARY, "background_color_dark": "#101820"}
        await services.branding.set(admin, changes, acme.id)
        await services.branding.upload_asset(admin, "logo_light", png((194, 24, 91)), acme.id)
        await services.branding.upload_asset(admin, "icon_light", CLEAN_SVG, acme.id)
        return acme, beta

    return run(client, brand)


@pytest.fixture
def portal(client: TestClient) -> str:
    """The client id of a web application in the default organisation."""
    return portal_app(client)


def scoped_page(client: TestClient, portal: str, scope: str) -> str:
    """The entry page for an auth request of the Portal application with `scope`."""
    scopes = f"openid {scope}".strip()
    response = start(client, real_auth_request(client, client_id=portal, scope=scopes))
    assert response.status_code == 200, response.text
    return response.text


def test_an_unbranded_instance_links_no_brand_stylesheet_and_shows_the_watermark(
    client: TestClient,
) -> None:
    page = client.get(paths.LOGIN).text
    assert brand_sheets(page) == []
    assert branded(page).logos == [] and branded(page).icons == []
    assert WATERMARK in page


def test_the_scoped_organisations_colours_and_logo_and_no_one_elses(
    client: TestClient, portal: str, orgs: tuple[Organization, Organization]
) -> None:
    acme, beta = orgs
    acme_page = scoped_page(client, portal, f"urn:zitadel:iam:org:id:{acme.id}")
    [sheet] = brand_sheets(acme_page)
    assert sheet.startswith(f"{paths.LOGIN_BRANDING}/{acme.id}/style.css?v=")
    css = client.get(sheet).text
    assert f"--accent: {ACME_PRIMARY};" in css
    assert "@media (prefers-color-scheme: dark)" in css and "--bg: #101820;" in css
    [(logo, alt)] = branded(acme_page).logos
    assert logo.startswith(f"{paths.LOGIN_BRANDING}/{acme.id}/logo_light?v=") and alt == "Logo"
    # Only a light logo: the dark mode shows it too.
    assert branded(acme_page).dark_logos == [logo]
    assert client.get(logo).content == png((194, 24, 91))
    assert [icon.split("?")[0] for icon in branded(acme_page).icons] == [
        f"{paths.LOGIN_BRANDING}/{acme.id}/icon_light"
    ] * 2

    for other in (
        scoped_page(client, portal, f"urn:zitadel:iam:org:id:{beta.id}"),
        scoped_page(client, portal, ""),
        client.get(paths.LOGIN).text,
    ):
        assert acme.id not in other
        assert branded(other).logos == []
        [default_sheet] = brand_sheets(other)
        assert default_sheet.startswith(f"{paths.LOGIN_BRANDING}/instance/style.css?v=")
        default_css = client.get(default_sheet).text
        assert f"--accent: {DEFAULT_PRIMARY};" in default_css
        assert ACME_PRIMARY not in default_css


def test_the_primary_domain_scope_brings_the_organisation_too(
    client: TestClient, portal: str, orgs: tuple[Organization, Organization]
) -> None:
    acme, _ = orgs
    page = scoped_page(client, portal, f"urn:zitadel:iam:org:domain:primary:{acme.primary_domain}")
    assert brand_sheets(page)[0].startswith(f"{paths.LOGIN_BRANDING}/{acme.id}/")
    assert branded(page).logos


def test_every_page_of_the_flow_keeps_the_branding(
    client: TestClient, portal: str, orgs: tuple[Organization, Organization]
) -> None:
    from tests.test_login_pages import submit, the_form

    acme, _ = orgs
    page = scoped_page(client, portal, f"urn:zitadel:iam:org:id:{acme.id}")
    flow_id = the_form(page, paths.LOGIN_NAME).values["flow"]
    # Registration for the pre-selected organisation shows its branding too.
    register = client.get(paths.LOGIN_REGISTER, params={"flow": flow_id})
    assert register.status_code == 200
    assert brand_sheets(register.text)[0].startswith(f"{paths.LOGIN_BRANDING}/{acme.id}/")
    named = submit(client, the_form(page, paths.LOGIN_NAME), login_name="nobody@acme")
    assert named.status_code == 200
    assert brand_sheets(named.text)[0].startswith(f"{paths.LOGIN_BRANDING}/{acme.id}/")


def test_assets_are_served_with_type_etag_cache_and_no_sniffing(
    client: TestClient, orgs: tuple[Organization, Organization]
) -> None:
    acme, _ = orgs
    url = f"{paths.LOGIN_BRANDING}/{acme.id}/icon_light"
    svg = client.get(url)
    assert svg.status_code == 200 and svg.content == CLEAN_SVG
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["x-content-type-options"] == "nosniff"
    assert svg.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert svg.headers["cache-control"].startswith("public, max-age=")
    assert svg.headers["etag"] == f'"{hashlib.sha256(CLEAN_SVG).hexdigest()}"'

    again = client.get(url, headers={"If-None-Match": svg.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == svg.headers["etag"]
    stale = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200

    logo = client.get(f"{paths.LOGIN_BRANDING}/{acme.id}/logo_light")
    assert logo.headers["content-type"] == "image/png"
    assert "default-src 'none'" not in logo.headers["content-security-policy"]

    sheet = client.get(f"{paths.LOGIN_BRANDING}/{acme.id}/style.css")
    assert sheet.headers["content-type"].startswith("text/css")
    assert sheet.headers["etag"]
    cached = client.get(sheet.url, headers={"If-None-Match": sheet.headers["etag"]})
    assert cached.status_code == 304


def test_missing_or_unknown_assets_are_clear_errors(
    client: TestClient, orgs: tuple[Organization, Organization]
) -> None:
    acme, beta = orgs
    assert client.get(f"{paths.LOGIN_BRANDING}/{acme.id}/logo_dark").status_code == 404
    assert client.get(f"{paths.LOGIN_BRANDING}/{beta.id}/logo_light").status_code == 404
    assert client.get(f"{paths.LOGIN_BRANDING}/instance/logo_light").status_code == 404
    assert client.get(f"{paths.LOGIN_BRANDING}/{acme.id}/passwords.txt").status_code == 400


def test_the_switches_hide_the_suffix_and_the_watermark(client: TestClient) -> None:
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    accounts = client.get(paths.LOGIN).text
    assert WATERMARK in accounts
    assert "admin@" in accounts

    async def switch(services: Services) -> None:
        admin = await _admin(services)
        changes = {"hide_login_name_suffix": True, "disable_watermark": True}
        await services.branding.set(admin, changes)

    run(client, switch)
    switched = client.get(paths.LOGIN).text
    assert WATERMARK not in switched
    assert "admin@" not in switched and ">admin</span>" in switched


def test_the_preview_shows_an_organisations_branding_without_a_flow(
    client: TestClient, orgs: tuple[Organization, Organization]
) -> None:
    acme, _ = orgs
    page = client.get(paths.LOGIN_PREVIEW, params={"org": acme.id})
    assert page.status_code == 200
    assert brand_sheets(page.text)[0].startswith(f"{paths.LOGIN_BRANDING}/{acme.id}/")
    assert 'name="flow"' not in page.text
    assert client.cookies.get("zitui_browser") is None
    default = client.get(paths.LOGIN_PREVIEW).text
    assert brand_sheets(default)[0].startswith(f"{paths.LOGIN_BRANDING}/instance/")
    assert client.post(paths.LOGIN_PREVIEW).status_code == 405


def test_pages_outside_a_flow_show_the_instance_default(client: TestClient) -> None:
    async def brand(services: Services) -> None:
        admin = await _admin(services)
        changes = {"primary_color": DEFAULT_PRIMARY, "hide_login_name_suffix": True}
        await services.branding.set(admin, changes)

    run(client, brand)
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    signed_in = client.get(paths.LOGIN_SIGNED_IN)
    unknown = client.get(paths.LOGIN, params={"flow": "no-such-flow"})
    logged_out = client.get(paths.LOGOUT_DONE)
    assert unknown.status_code == 404
    for response in (signed_in, unknown, logged_out):
        [sheet] = brand_sheets(response.text)
        assert sheet.startswith(f"{paths.LOGIN_BRANDING}/instance/style.css?v=")
    assert "admin@" not in signed_in.text and ">admin</span>" in signed_in.text
