"""Custom texts on the hosted login pages: the organisation in the request's scope shows its
own wording (over the instance's, over the default), in the page's language, as plain text;
no other organisation's login shows it, and a reset brings the inherited text back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_login_auth_requests import password_for, portal_app, real_auth_request, start
from tests.test_login_pages import _admin, add_user, login_client, main_text, run
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.services import Services
from zitui.i18n import catalogue
from zitui.records import Organization
from zitui.server import paths

TITLE = "login.name.title"
DEFAULT = catalogue("en")[TITLE]


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


@pytest.fixture
def orgs(client: TestClient) -> tuple[Organization, Organization]:
    """Acme with its own title, Beta with none; the instance's title over the default."""

    async def word(services: Services) -> tuple[Organization, Organization]:
        admin = await _admin(services)
        acme = await services.orgs.create_org(admin, "Acme")
        beta = await services.orgs.create_org(admin, "Beta")
        await services.texts.set(admin, "en", TITLE, "Welcome")
        await services.texts.set(admin, "en", TITLE, "Welcome to Acme", acme.id)
        return acme, beta

    return run(client, word)


@pytest.fixture
def portal(client: TestClient) -> str:
    return portal_app(client)


def scoped_page(client: TestClient, portal: str, scope: str = "", **headers: str) -> str:
    scopes = f"openid {scope}".strip()
    response = start(client, real_auth_request(client, client_id=portal, scope=scopes), **headers)
    assert response.status_code == 200, response.text
    return response.text


def heading(html: str) -> str:
    [title] = re.findall(r"<h1>(.*?)</h1>", html, re.S)
    return " ".join(title.split())


def edit(client: TestClient, change: Any) -> None:
    async def apply(services: Services) -> None:
        await change(services, await _admin(services))

    run(client, apply)


def test_the_scoped_organisation_shows_its_text_and_no_other_login_does(
    client: TestClient, portal: str, orgs: tuple[Organization, Organization]
) -> None:
    acme, beta = orgs
    assert heading(scoped_page(client, portal, f"urn:zitadel:iam:org:id:{acme.id}")) == (
        "Welcome to Acme"
    )
    for other in (
        scoped_page(client, portal, f"urn:zitadel:iam:org:id:{beta.id}"),
        scoped_page(client, portal),
        client.get(paths.LOGIN).text,
    ):
        assert heading(other) == "Welcome"
        assert "Acme" not in other


def test_a_reset_brings_the_inherited_text_back_on_the_next_page(
    client: TestClient, portal: str, orgs: tuple[Organization, Organization]
) -> None:
    acme, _ = orgs
    scope = f"urn:zitadel:iam:org:id:{acme.id}"
    edit(client, lambda services, admin: services.texts.reset(admin, "en", TITLE, acme.id))
    assert heading(scoped_page(client, portal, scope)) == "Welcome"
    edit(client, lambda services, admin: services.texts.reset(admin, "en", TITLE))
    assert heading(scoped_page(client, portal, scope)) == DEFAULT


def test_texts_follow_the_page_s_language(
    client: TestClient, portal: str, orgs: tuple[Organization, Organization]
) -> None:
    acme, _ = orgs
    edit(client, lambda services, admin: services.texts.set(admin, "de", TITLE, "Willkommen"))
    scope = f"urn:zitadel:iam:org:id:{acme.id}"
    german = scoped_page(client, portal, scope, **{"accept-language": "de"})
    assert "Willkommen" in main_text(german) and "Welcome" not in german
    assert "Welcome to Acme" in main_text(scoped_page(client, portal, scope))


def test_an_error_message_uses_the_organisation_s_text(
    client: TestClient, portal: str, orgs: tuple[Organization, Organization]
) -> None:
    acme, _ = orgs
    add_user(client, "paula")
    wording = "That did not work. Call the Acme help desk."

    async def set_error_text(services: Services, admin: Any) -> None:
        await services.texts.set(admin, "en", "auth.bad_credentials", wording, acme.id)

    edit(client, set_error_text)
    scoped = scoped_page(client, portal, f"urn:zitadel:iam:org:id:{acme.id}")
    refused = password_for(client, scoped, "paula", "not-her-password")
    assert wording in main_text(refused.text)
    plain = password_for(client, scoped_page(client, portal), "paula", "not-her-password")
    assert wording not in plain.text
    assert catalogue("en")["auth.bad_credentials"] in main_text(plain.text)


def test_a_text_is_plain_text_on_the_page(
    client: TestClient, orgs: tuple[Organization, Organization]
) -> None:
    hostile = '<script>alert("x")</script> & welcome'
    edit(client, lambda services, admin: services.texts.set(admin, "en", TITLE, hostile))
    page = client.get(paths.LOGIN).text
    assert "<script>alert" not in page
    assert escape(hostile, quote=False) in page.replace("&#34;", '"')
