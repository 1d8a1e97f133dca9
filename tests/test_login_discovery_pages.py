"""Domain discovery on the hosted pages: a typed name at an organisation's verified domain
brings that organisation's branding and registration; any other name gets the same page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_login_branding_pages import brand_sheets
from tests.test_login_pages import _admin, login_client, read, run, submit, the_form
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.services import Services
from zitui.records import Organization
from zitui.server import paths

NEW_PASSWORD = "Nina-Pass-7?"


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


@pytest.fixture
def globex(client: TestClient) -> Organization:
    """An organisation with its own colours, at its generated (verified) domain."""

    async def create(services: Services) -> Organization:
        admin = await _admin(services)
        org = await services.orgs.create_org(admin, "Globex")
        await services.branding.set(admin, {"primary_color": "#0a7d32"}, org.id)
        return org

    return run(client, create)


def typed(client: TestClient, login_name: str) -> Any:
    page = client.get(paths.LOGIN)
    answer = submit(client, the_form(page.text, paths.LOGIN_NAME), login_name=login_name)
    assert answer.status_code == 200, answer.text
    return answer


def test_a_new_name_at_the_organisation_s_domain_registers_there_with_its_branding(
    client: TestClient, globex: Organization
) -> None:
    name = f"nina@{globex.primary_domain}"
    page = typed(client, name)
    form = the_form(page.text, paths.LOGIN_REGISTER)
    assert form.values["email"] == name
    assert [sheet.split("/")[-2] for sheet in brand_sheets(page.text)] == [globex.id]
    values = {"given_name": "Nina", "family_name": "Example", "language": "en"}
    values |= {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD, "terms": "on"}
    registered = submit(client, form, **values)
    assert registered.status_code == 200, registered.text
    assert paths.LOGIN_VERIFY_EMAIL in [f.action for f in read(registered.text).forms]

    async def found(services: Services) -> list[tuple[str, str]]:
        async with services.store.reader() as tx:
            listed, _ = await tx.users.list(org_ids=None, search=name, offset=0, limit=5)
        return [(u.email, u.org_id) for u in listed]

    assert run(client, found) == [(name, globex.id)]


def test_a_name_at_no_discovering_domain_gets_the_unbranded_password_page(
    client: TestClient, globex: Organization
) -> None:
    pages = [typed(client, name) for name in ("nina@example.org", "nina")]
    for page in pages:
        assert the_form(page.text, paths.LOGIN_PASSWORD) is not None
        assert brand_sheets(page.text) == []
    first, second = ([f.action for f in read(p.text).forms] for p in pages)
    assert first == second
