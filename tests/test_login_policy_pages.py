"""Policies on the hosted pages: each change shows on the next page a browser opens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.test_core_orgs import sign_in_org_owner
from tests.test_login_auth_requests import portal_app, real_auth_request, start
from tests.test_login_pages import (
    _admin,
    add_user,
    login_client,
    read,
    run,
    sign_in,
    submit,
    the_form,
)
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.services import Services
from zitui.server import paths

WRONG = "Wrong-Pass-1!"


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


def set_policy(client: TestClient, kind: str, changes: dict[str, Any]) -> None:
    async def change(services: Services) -> None:
        await services.policies.set(await _admin(services), kind, changes)

    run(client, change)


def test_default_redirect_uri_ends_a_sign_in_without_an_application(
    client: TestClient,
) -> None:
    add_user(client, "alice")
    assert sign_in(client, "alice").headers["location"] == paths.LOGIN_SIGNED_IN
    set_policy(client, "login", {"default_redirect_uri": "https://portal.example.com/start"})
    client.cookies.clear()
    done = sign_in(client, "alice")
    assert (done.status_code, done.headers["location"]) == (
        303,
        "https://portal.example.com/start",
    )


def test_a_verified_phone_is_a_login_name_until_the_policy_turns_it_off(
    client: TestClient,
) -> None:
    add_user(client, "carol", phone="+41 44 123 45 67", phone_verified=True)
    assert sign_in(client, "+41441234567").status_code == 303
    set_policy(client, "login", {"disable_login_with_phone": True})
    client.cookies.clear()
    refused = sign_in(client, "+41441234567")
    assert refused.status_code == 401
    assert "The login name or password is wrong." in read(refused.text).ids["password-error"]


def test_the_attempt_that_locks_says_so(client: TestClient) -> None:
    add_user(client, "dora")
    set_policy(client, "lockout", {"max_password_attempts": 2})
    messages = [read(sign_in(client, "dora", WRONG).text).ids["password-error"] for _ in range(3)]
    assert messages[0] == messages[2] == "Error: The login name or password is wrong."
    assert "the account is now locked" in messages[1]


def test_an_expired_password_asks_for_a_new_one(client: TestClient, clock: FixedClock) -> None:
    add_user(client, "erin")
    set_policy(client, "password_age", {"max_age_days": 90})
    clock.advance(timedelta(days=91))
    page = sign_in(client, "erin")
    assert page.status_code == 200
    form = the_form(page.text, paths.LOGIN_PASSWORD_CHANGE)
    done = submit(client, form, new_password="Erin-New-22!", new_password_repeat="Erin-New-22!")
    assert (done.status_code, done.headers["location"]) == (303, paths.LOGIN_SIGNED_IN)
    client.cookies.clear()
    assert sign_in(client, "erin", "Erin-New-22!").status_code == 303


def test_a_customer_owner_s_policy_shows_only_on_their_organisation_s_login(
    client: TestClient,
) -> None:
    async def customer_policy(services: Services) -> str:
        admin = await _admin(services)
        owner = await sign_in_org_owner(services, admin, "Globex")
        globex = await services.orgs.find_org_by_name(admin, "Globex")
        assert globex is not None
        changes = {"allow_register": False, "hide_password_reset": True}
        await services.policies.set(owner, "login", changes, globex.id)
        return globex.id

    globex_id = run(client, customer_policy)
    portal = portal_app(client)

    def entry(scope: str) -> str:
        auth_request = real_auth_request(client, client_id=portal, scope=f"openid {scope}".strip())
        page = start(client, auth_request)
        assert page.status_code == 200, page.text
        return page.text

    globex_page = entry(f"urn:zitadel:iam:org:id:{globex_id}")
    assert 'id="register"' not in globex_page
    named = submit(client, the_form(globex_page, paths.LOGIN_NAME), login_name="someone")
    assert paths.LOGIN_PASSWORD_RESET not in named.text
    # The instance's own login (no organisation in scope) is unchanged.
    owners_page = entry("")
    assert 'id="register"' in owners_page
    named = submit(client, the_form(owners_page, paths.LOGIN_NAME), login_name="someone")
    assert paths.LOGIN_PASSWORD_RESET in named.text
