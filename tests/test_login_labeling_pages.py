"""Whose branding and legal links a login page shows: the organisation in the request's scope,
else the project's private_labeling_setting (the instance, the project's owner, the user's
organisation once the password is proven); never a third organisation's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.branding_assets import png
from tests.test_login_auth_requests import REDIRECT_URI, real_auth_request, start
from tests.test_login_pages import PASSWORD, _admin, login_client, run, submit, the_form
from zitui.config import Settings
from zitui.core.apps import NewOidcApp
from zitui.core.clock import FixedClock
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import AppType, AuthMethod, Organization, PrivateLabeling
from zitui.server import paths

INSTANCE = "instance"
COLOURS = {"Acme": "#c2185b", "Beta": "#0d47a1", "Gamma": "#4e342e", INSTANCE: "#1b5e20"}
LEGAL = {
    "Acme": {
        "tos_link": "https://acme.example/terms",
        "support_email": "help@acme.example",
        "custom_link": "https://acme.example/status",
        "custom_link_text": "Acme status",
    },
    "Beta": {
        "privacy_link": "https://beta.example/privacy",
        "docs_link": "https://beta.example/docs",
    },
    "Gamma": {
        "help_link": "https://gamma.example/help",
        "custom_link": "https://gamma.example/more",
    },
    INSTANCE: {"tos_link": "https://instance.example/terms"},
}
NEW_PASSWORD = "Bob-Changed-Pass-2!"


@dataclass(frozen=True)
class World:
    orgs: dict[str, Organization]
    bob: str  # the full login name of Bob, of Beta, who must change his password once in

    def segment(self, name: str) -> str:
        """The path segment of a label's branding resources."""
        return INSTANCE if name == INSTANCE else self.orgs[name].id


class _Footer(HTMLParser):
    """The legal links of a page's footer: (href, text) in order."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._in_nav = False
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "nav" and values.get("class") == "legal-links":
            self._in_nav = True
        if tag == "a" and self._in_nav:
            self._href = values["href"]
            self.links.append((self._href, ""))

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            href, text = self.links[-1]
            self.links[-1] = (href, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None
        if tag == "nav":
            self._in_nav = False


def footer_links(html: str) -> list[tuple[str, str]]:
    reader = _Footer()
    reader.feed(html)
    return [(href, " ".join(text.split())) for href, text in reader.links]


def footer_hrefs(html: str) -> set[str]:
    return {href for href, _ in footer_links(html)}


def expected_hrefs(name: str) -> set[str]:
    legal = LEGAL[name]
    hrefs = {value for key, value in legal.items() if key.endswith("_link")}
    return hrefs | ({f"mailto:{legal['support_email']}"} if "support_email" in legal else set())


def labelled_by(world: World, html: str) -> str:
    """The one label a page shows (its branding stylesheet, logo and footer agree on it)."""
    sheets = re.findall(rf'href="{paths.LOGIN_BRANDING}/([^/"]+)/style\.css', html)
    [segment] = sheets
    [name] = [n for n in COLOURS if world.segment(n) == segment]
    logos = re.findall(rf'src="{paths.LOGIN_BRANDING}/([^/"]+)/logo_light', html)
    assert logos == ([] if name == INSTANCE else [segment])
    assert footer_hrefs(html) == expected_hrefs(name)
    for other in COLOURS.keys() - {name, INSTANCE}:
        assert world.orgs[other].id not in html, f"{other} shows on {name}'s page"
    return name


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


@pytest.fixture
def world(client: TestClient) -> World:
    """Acme, Beta and Gamma with their own colours, logos and legal links, the instance with
    its own colour and terms; Bob in Beta."""

    async def build(services: Services) -> World:
        admin = await _admin(services)
        orgs = {
            name: await services.orgs.create_org(admin, name)
            for name in COLOURS
            if name != INSTANCE
        }
        for name, org in orgs.items():
            await services.branding.set(admin, {"primary_color": COLOURS[name]}, org.id)
            hex_colour = COLOURS[name]
            rgb = (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))
            await services.branding.upload_asset(admin, "logo_light", png(rgb), org.id)
            await services.policies.set(admin, "legal", LEGAL[name], org.id)
        await services.branding.set(admin, {"primary_color": COLOURS[INSTANCE]})
        await services.policies.set(admin, "legal", LEGAL[INSTANCE])
        new = NewHumanUser(
            "bob", "Bob", "Example", password=PASSWORD, password_change_required=True
        )
        bob = await services.users.create_human_user(admin, orgs["Beta"].id, new)
        return World(orgs, bob.login_name)

    return run(client, build)


def acme_app(client: TestClient, setting: PrivateLabeling) -> str:
    """A web application of an Acme project with `setting`; its client id."""

    async def create(services: Services) -> str:
        admin = await _admin(services)
        acme = await services.orgs.find_org_by_name(admin, "Acme")
        assert acme is not None
        project = await services.projects.create_project(
            admin, acme.id, "Shop", private_labeling_setting=setting.value
        )
        new = NewOidcApp(
            name="Shop",
            app_type=AppType.WEB,
            auth_method=AuthMethod.NONE,
            redirect_uris=[REDIRECT_URI],
            dev_mode=True,
        )
        app, _ = await services.apps.create_oidc_app(admin, project.id, new)
        return app.client_id

    return run(client, create)


def walk(client: TestClient, world: World, auth_request_id: str) -> list[str]:
    """The labels of the login name page, the password page, the password page again after
    a wrong password, and the password change page after the right one."""
    entry = start(client, auth_request_id)
    assert entry.status_code == 200, entry.text
    # The bare username: a name at Beta's domain would discover Beta (see the test below).
    named = submit(client, the_form(entry.text, paths.LOGIN_NAME), login_name="bob")
    wrong = submit(client, the_form(named.text, paths.LOGIN_PASSWORD), password="not-it-1!")
    assert wrong.status_code == 401
    proven = submit(client, the_form(wrong.text, paths.LOGIN_PASSWORD), password=PASSWORD)
    assert proven.status_code == 200
    the_form(proven.text, paths.LOGIN_PASSWORD_CHANGE)
    labels = [labelled_by(world, page.text) for page in (entry, named, wrong, proven)]
    for label, page in zip(labels, (entry, named, wrong, proven), strict=True):
        [sheet] = re.findall(rf'href="({paths.LOGIN_BRANDING}/[^"]+/style\.css[^"]*)"', page.text)
        css = client.get(sheet.replace("&amp;", "&")).text
        assert f"--accent: {COLOURS[label]};" in css
    return labels


@pytest.mark.parametrize(
    ("setting", "before", "after"),
    [
        (PrivateLabeling.UNSPECIFIED, INSTANCE, "Beta"),
        (PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY, "Acme", "Acme"),
        (PrivateLabeling.ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY, "Acme", "Beta"),
    ],
)
def test_the_setting_decides_before_and_after_the_password(
    client: TestClient, world: World, setting: PrivateLabeling, before: str, after: str
) -> None:
    auth_request_id = real_auth_request(client, client_id=acme_app(client, setting))
    assert walk(client, world, auth_request_id) == [before, before, before, after]


@pytest.mark.parametrize("setting", list(PrivateLabeling))
def test_the_scoped_organisation_labels_every_page_whatever_the_setting(
    client: TestClient, world: World, setting: PrivateLabeling
) -> None:
    scope = f"openid urn:zitadel:iam:org:id:{world.orgs['Beta'].id}"
    auth_request_id = real_auth_request(client, client_id=acme_app(client, setting), scope=scope)
    assert walk(client, world, auth_request_id) == ["Beta"] * 4


def test_a_name_at_an_organisations_domain_brings_that_organisation_into_context(
    client: TestClient, world: World
) -> None:
    setting = PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY
    entry = start(client, real_auth_request(client, client_id=acme_app(client, setting)))
    assert labelled_by(world, entry.text) == "Acme"
    named = submit(client, the_form(entry.text, paths.LOGIN_NAME), login_name=world.bob)
    assert labelled_by(world, named.text) == "Beta"


def test_the_labelling_organisations_texts_come_with_its_branding(
    client: TestClient, world: World
) -> None:
    async def word(services: Services) -> None:
        admin = await _admin(services)
        for name in ("Acme", "Beta"):
            org_id = world.orgs[name].id
            await services.texts.set(
                admin, "en", "login.password.title", f"{name} password", org_id
            )

    run(client, word)
    setting = PrivateLabeling.ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY
    entry = start(client, real_auth_request(client, client_id=acme_app(client, setting)))
    named = submit(client, the_form(entry.text, paths.LOGIN_NAME), login_name="bob")
    assert labelled_by(world, named.text) == "Acme"
    assert "Acme password" in named.text and "Beta password" not in named.text


def test_the_preview_shows_an_organisations_texts_with_its_branding(
    client: TestClient, world: World
) -> None:
    async def word(services: Services) -> None:
        admin = await _admin(services)
        await services.texts.set(
            admin, "en", "login.name.title", "Hello Gamma", world.orgs["Gamma"].id
        )

    run(client, word)
    gamma = client.get(paths.LOGIN_PREVIEW, params={"org": world.orgs["Gamma"].id})
    assert labelled_by(world, gamma.text) == "Gamma" and "Hello Gamma" in gamma.text
    for other in (
        client.get(paths.LOGIN_PREVIEW),
        client.get(paths.LOGIN_PREVIEW, params={"org": world.orgs["Beta"].id}),
    ):
        assert "Hello Gamma" not in other.text and "Welcome back!" in other.text
    unknown = client.get(paths.LOGIN_PREVIEW, params={"org": "no-such-org" * 50})
    assert unknown.status_code == 200 and labelled_by(world, unknown.text) == INSTANCE


def test_a_changed_setting_shows_on_the_next_page(client: TestClient, world: World) -> None:
    client_id = acme_app(client, PrivateLabeling.UNSPECIFIED)
    entry = start(client, real_auth_request(client, client_id=client_id))
    assert labelled_by(world, entry.text) == INSTANCE

    async def enforce(services: Services) -> None:
        admin = await _admin(services)
        acme = world.orgs["Acme"]
        [project] = (await services.projects.list_projects(admin, org_id=acme.id)).items
        setting = PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY.value
        await services.projects.update_project_settings(
            admin, project.id, private_labeling_setting=setting
        )

    run(client, enforce)
    named = submit(client, the_form(entry.text, paths.LOGIN_NAME), login_name="bob")
    assert labelled_by(world, named.text) == "Acme"


def test_the_footer_links_are_labelled_in_the_page_language(
    client: TestClient, world: World
) -> None:
    client_id = acme_app(client, PrivateLabeling.UNSPECIFIED)
    scope = f"openid urn:zitadel:iam:org:id:{world.orgs['Acme'].id}"
    auth_request_id = real_auth_request(client, client_id=client_id, scope=scope)
    english = start(client, auth_request_id)
    assert footer_links(english.text) == [
        ("https://acme.example/terms", "Terms of service"),
        ("mailto:help@acme.example", "Support"),
        ("https://acme.example/status", "Acme status"),
    ]
    german = start(client, auth_request_id, **{"Accept-Language": "de"})
    assert footer_links(german.text) == [
        ("https://acme.example/terms", "Nutzungsbedingungen"),
        ("mailto:help@acme.example", "Support"),
        ("https://acme.example/status", "Acme status"),
    ]
    scope = f"openid urn:zitadel:iam:org:id:{world.orgs['Beta'].id}"
    beta = real_auth_request(client, client_id=client_id, scope=scope)
    french = start(client, beta, **{"Accept-Language": "fr"})
    assert footer_links(french.text) == [
        ("https://beta.example/privacy", "Politique de confidentialité"),
        ("https://beta.example/docs", "Documentation"),
    ]


def test_pages_outside_a_flow_and_the_preview_show_their_own_links(
    client: TestClient, world: World
) -> None:
    for page in (
        client.get(paths.LOGIN),
        client.get(paths.LOGOUT_DONE),
        client.get(paths.LOGIN, params={"flow": "no-such-flow"}),
        client.get(paths.LOGIN_PREVIEW),
    ):
        assert labelled_by(world, page.text) == INSTANCE
    preview = client.get(paths.LOGIN_PREVIEW, params={"org": world.orgs["Gamma"].id})
    assert labelled_by(world, preview.text) == "Gamma"
    # A custom link without its own text gets a label in the page's language.
    assert footer_links(preview.text) == [
        ("https://gamma.example/help", "Help"),
        ("https://gamma.example/more", "More information"),
    ]


def test_without_links_the_footer_has_none(client: TestClient) -> None:
    page = client.get(paths.LOGIN)
    assert page.status_code == 200
    assert footer_links(page.text) == [] and "legal-links" not in page.text
