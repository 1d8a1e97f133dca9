"""The login pages for an application: auth request hints, prompts, reuse, and the callback,
through the real OIDC core from authorize to code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD
from tests.test_login_pages import (
    PASSWORD,
    _admin,
    add_user,
    login_client,
    main_text,
    read,
    run,
    submit,
    the_form,
)
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.services import Services
from zitui.server import paths
from zitui.server.browser import PLAIN_NAME as BROWSER_COOKIE
from zitui.store.models import AuthRequestRow

CALLBACK = paths.AUTHORIZE_CALLBACK + "?id="


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


def start(client: TestClient, auth_request_id: str, **headers: str) -> Any:
    return client.get(paths.LOGIN, params={"authRequestID": auth_request_id}, headers=headers)


def password_for(client: TestClient, page_html: str, login_name: str, password: str) -> Any:
    named = submit(client, the_form(page_html, paths.LOGIN_NAME), login_name=login_name)
    assert named.status_code == 200, named.text
    return submit(client, the_form(named.text, paths.LOGIN_PASSWORD), password=password)


def sign_in_plain(client: TestClient, login_name: str, password: str = PASSWORD) -> None:
    from tests.test_login_pages import sign_in

    assert sign_in(client, login_name, password).status_code == 303


def session_ids(client: TestClient) -> list[str]:
    cookie = client.cookies.get(BROWSER_COOKIE) or ""

    async def listed(services: Services) -> list[str]:
        return [s.id for s in await services.sessions.list_browser_sessions(cookie)]

    return run(client, listed)


def linked_session(client: TestClient, auth_request_id: str) -> str | None:
    async def read_link(services: Services) -> str | None:
        async with services.store.reader() as tx:
            stored = await tx.auth_requests.find(auth_request_id)
        assert stored is not None
        return stored.session_id

    return run(client, read_link)


def amend_request(client: TestClient, auth_request_id: str, **values: Any) -> None:
    """Set stored fields of a request directly (what a signed hint would have set)."""
    table = AuthRequestRow.__table__  # type: ignore[attr-defined]

    async def amend(services: Services) -> None:
        async with services.store.transaction() as tx:
            statement = table.update().where(table.c.id == auth_request_id).values(**values)
            await tx.auth_requests.conn.execute(statement)

    run(client, amend)


# --- through the real OIDC core --------------------------------------------------------------


REDIRECT_URI = "https://portal.example.com/callback"


def portal_app(client: TestClient, *, role_check: bool = False) -> str:
    """A web application (public client, PKCE) in the default organisation; its client id."""
    from zitui.core.apps import NewOidcApp
    from zitui.records import AppType, AuthMethod

    async def create(services: Services) -> str:
        admin = await _admin(services)
        org_id = (await services.instance.get_instance(admin)).default_org_id
        project = await services.projects.create_project(
            admin, org_id, "Portal", role_check=role_check
        )
        new = NewOidcApp(
            name="Portal",
            app_type=AppType.WEB,
            auth_method=AuthMethod.NONE,
            redirect_uris=[REDIRECT_URI],
            dev_mode=True,
        )
        app, _ = await services.apps.create_oidc_app(admin, project.id, new)
        return app.client_id

    return run(client, create)


def authorize_params(client_id: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "xyz",
        **extra,
    }


def real_auth_request(
    client: TestClient, *, role_check: bool = False, client_id: str = "", **params: str
) -> str:
    """An authorization request made by the OIDC core, as /authorize would (for a new
    Portal application unless `client_id` names one)."""
    from zitui.core.oidc.authorization_request import AuthorizeParams
    from zitui.core.oidc.responses import ToLogin

    client_id = client_id or portal_app(client, role_check=role_check)
    values = authorize_params(client_id, **params)

    async def create(services: Services) -> str:
        answer = await services.auth_requests.authorize(
            services.system_context("test"), AuthorizeParams(values)
        )
        assert isinstance(answer, ToLogin), answer
        return answer.auth_request_id

    return run(client, create)


def issue_code(client: TestClient, auth_request_id: str) -> str:
    cookie = client.cookies.get(BROWSER_COOKIE) or ""

    async def code(services: Services) -> str:
        answer = await services.auth_requests.issue_code(
            services.system_context("test"), auth_request_id, browser_cookie=cookie
        )
        return answer.location

    return run(client, code)


def test_sign_in_for_an_application_ends_at_the_callback(client: TestClient) -> None:
    auth_request_id = real_auth_request(client, login_hint="admin")
    page = start(client, auth_request_id)
    assert page.status_code == 200
    form = the_form(page.text, paths.LOGIN_NAME)
    assert form.values["flow"] and "authRequestID" not in form.values
    assert form.values["login_name"] == "admin"  # login_hint
    assert "to continue to Portal" in main_text(page.text)
    assert f'href="{CALLBACK}{auth_request_id}"' in page.text  # cancel: access_denied
    # Opening the link again continues the same flow.
    assert the_form(start(client, auth_request_id).text, paths.LOGIN_NAME).values == form.values

    named = submit(client, form)
    password_form = the_form(named.text, paths.LOGIN_PASSWORD)
    assert password_form.values["flow"] == form.values["flow"]
    done = submit(client, password_form, password=ADMIN_PASSWORD)
    assert done.status_code == 303
    assert done.headers["location"] == CALLBACK + auth_request_id
    assert linked_session(client, auth_request_id) == session_ids(client)[0]


def test_ui_locales_of_the_request_choose_the_language(client: TestClient) -> None:
    auth_request_id = real_auth_request(client, ui_locales="ja de")
    page = start(client, auth_request_id, **{"Accept-Language": "en"})
    assert '<html lang="de">' in page.text
    assert "weiter zu Portal" in main_text(page.text)
    named = submit(client, the_form(page.text, paths.LOGIN_NAME), login_name="ghost")
    assert '<html lang="de">' in named.text


def test_a_known_account_is_offered_but_never_reused_by_a_get(client: TestClient) -> None:
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    auth_request_id = real_auth_request(client)
    listing = start(client, auth_request_id)
    account = the_form(listing.text, paths.LOGIN_USER_SELECTION)
    assert linked_session(client, auth_request_id) is None
    flow_id = account.values["flow"]
    assert f'href="{paths.LOGIN_NAME}?flow={flow_id}"' in listing.text
    chosen = submit(client, account)
    assert chosen.headers["location"] == CALLBACK + auth_request_id
    assert linked_session(client, auth_request_id) == account.values["sessionID"]


def test_prompt_select_account_lists_the_accounts(client: TestClient) -> None:
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    listing = start(client, real_auth_request(client, prompt="select_account"))
    assert "Choose an account" in listing.text
    assert len([f for f in read(listing.text).forms if f.action == paths.LOGIN_USER_SELECTION]) == 1


def test_prompt_login_asks_for_the_password_despite_a_session(
    client: TestClient, clock: FixedClock
) -> None:
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    session_id = session_ids(client)[0]
    clock.advance(timedelta(minutes=1))
    auth_request_id = real_auth_request(client, prompt="login")
    page = start(client, auth_request_id)
    assert "Welcome back!" in page.text
    assert not [f for f in read(page.text).forms if f.action == paths.LOGIN_USER_SELECTION]
    # Choosing the old session anyway (a forged or stale form) leads to the password.
    form = the_form(page.text, paths.LOGIN_NAME)
    forged = form.values | {"sessionID": session_id}
    chosen = client.post(paths.LOGIN_USER_SELECTION, data=forged, follow_redirects=False)
    assert chosen.status_code == 200
    assert linked_session(client, auth_request_id) is None
    clock.advance(timedelta(seconds=5))
    again = the_form(chosen.text, paths.LOGIN_PASSWORD)
    done = submit(client, again, password=ADMIN_PASSWORD)
    assert done.headers["location"] == CALLBACK + auth_request_id
    assert linked_session(client, auth_request_id) == session_ids(client)[0]


def test_id_token_hint_prefills_the_known_account(client: TestClient) -> None:
    alice = add_user(client, "alice")
    sign_in_plain(client, "alice")
    auth_request_id = real_auth_request(client, prompt="login")
    amend_request(client, auth_request_id, id_token_hint_subject=alice.id)
    form = the_form(start(client, auth_request_id).text, paths.LOGIN_NAME)
    assert form.values["login_name"] == "alice@zitui.127.0.0.1"


def test_max_age_sends_an_old_session_to_the_password(
    client: TestClient, clock: FixedClock
) -> None:
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    clock.advance(timedelta(minutes=5))
    client_id = portal_app(client)
    strict = real_auth_request(client, client_id=client_id, max_age="60")
    listing = start(client, strict)
    account = the_form(listing.text, paths.LOGIN_USER_SELECTION)
    assert account.buttons[0].endswith("Password needed")
    chosen = submit(client, account)
    assert chosen.status_code == 200
    assert the_form(chosen.text, paths.LOGIN_PASSWORD).values["login_name"].startswith("admin@")
    assert linked_session(client, strict) is None
    lenient = real_auth_request(client, client_id=client_id, max_age="600")
    listing = start(client, lenient)
    chosen = submit(client, the_form(listing.text, paths.LOGIN_USER_SELECTION))
    assert chosen.headers["location"] == CALLBACK + lenient


def test_an_org_hint_hides_other_orgs_accounts_and_scopes_the_name(client: TestClient) -> None:
    async def other_org(services: Services) -> str:
        admin = await _admin(services)
        return (await services.orgs.create_org(admin, "Beta")).id

    beta = run(client, other_org)
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    auth_request_id = real_auth_request(client, scope=f"openid urn:zitadel:iam:org:id:{beta}")
    page = start(client, auth_request_id)
    assert "Welcome back!" in page.text  # the admin's session belongs to another organisation
    refused = password_for(client, page.text, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 401
    assert linked_session(client, auth_request_id) is None


def test_a_refusal_is_a_page_with_the_way_back(client: TestClient) -> None:
    auth_request_id = real_auth_request(client, role_check=True)
    client.headers["Accept-Language"] = "de"
    page = start(client, auth_request_id)
    response = password_for(client, page.text, "admin", ADMIN_PASSWORD)
    assert response.status_code == 403
    assert "location" not in response.headers
    text = main_text(response.text)
    assert "Anmeldung nicht möglich" in text
    assert "Sie haben keine Rolle in dieser Anwendung." in text
    assert f'href="{CALLBACK}{auth_request_id}"' in response.text
    # The refusal is where the flow stays: loading it again shows the same page.
    flow_id = the_form(page.text, paths.LOGIN_NAME).values["flow"]
    again = client.get(paths.LOGIN, params={"flow": flow_id})
    assert again.status_code == 403 and "keine Rolle" in again.text


def test_an_expired_request_is_a_clear_page_in_the_users_language(
    client: TestClient, clock: FixedClock
) -> None:
    auth_request_id = real_auth_request(client)
    clock.advance(timedelta(hours=2))
    response = start(client, auth_request_id, **{"Accept-Language": "de"})
    assert response.status_code == 410
    assert "location" not in response.headers
    assert "Diese Anmeldeanfrage ist abgelaufen" in response.text
    english = start(client, auth_request_id)
    assert "This sign-in request has expired" in english.text
    assert "Go back to the application" in english.text


def test_a_required_password_change_continues_to_the_application(client: TestClient) -> None:
    add_user(client, "carol", password_change_required=True)
    auth_request_id = real_auth_request(client)
    response = password_for(client, start(client, auth_request_id).text, "carol", PASSWORD)
    assert response.status_code == 200
    form = the_form(response.text, paths.LOGIN_PASSWORD_CHANGE)
    assert linked_session(client, auth_request_id) is None
    done = submit(client, form, new_password="Carol-New-2!", new_password_repeat="Carol-New-2!")
    assert done.headers["location"] == CALLBACK + auth_request_id
    assert linked_session(client, auth_request_id) == session_ids(client)[0]


def test_the_real_oidc_core_gets_a_linked_session(client: TestClient) -> None:
    auth_request_id = real_auth_request(client, login_hint="admin", ui_locales="de")
    page = start(client, auth_request_id)
    assert '<html lang="de">' in page.text
    assert "weiter zu Portal" in main_text(page.text)
    done = password_for(client, page.text, "admin", ADMIN_PASSWORD)
    assert done.status_code == 303
    assert done.headers["location"] == CALLBACK + auth_request_id
    location = urlsplit(issue_code(client, auth_request_id))
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    answer = parse_qs(location.query)
    assert answer["state"] == ["xyz"] and answer["code"][0]
    # Its code issued, the request is over: the pages say so instead of going anywhere.
    over = start(client, auth_request_id)
    assert over.status_code == 410 and "location" not in over.headers


def test_the_real_oidc_core_with_prompt_login_and_a_session(
    client: TestClient, clock: FixedClock
) -> None:
    sign_in_plain(client, "admin", ADMIN_PASSWORD)
    clock.advance(timedelta(minutes=1))
    auth_request_id = real_auth_request(client, prompt="login")
    page = start(client, auth_request_id)
    assert "Welcome back!" in page.text
    clock.advance(timedelta(seconds=3))
    done = password_for(client, page.text, "admin", ADMIN_PASSWORD)
    assert done.headers["location"] == CALLBACK + auth_request_id
    assert "code=" in issue_code(client, auth_request_id)


def test_from_authorize_through_the_pages_back_to_the_application(client: TestClient) -> None:
    """The whole browser journey over HTTP: /authorize, the login pages, the callback."""
    params = authorize_params(portal_app(client), state="s-1", login_hint="admin")
    to_login = client.get(paths.AUTHORIZE, params=params, follow_redirects=False)
    assert to_login.status_code == 302
    assert to_login.headers["location"].startswith(paths.LOGIN + "?authRequestID=")

    page = client.get(to_login.headers["location"])
    assert the_form(page.text, paths.LOGIN_NAME).values["login_name"] == "admin"
    done = password_for(client, page.text, "admin", ADMIN_PASSWORD)
    assert done.status_code == 303 and done.headers["location"].startswith(CALLBACK)
    back = client.get(done.headers["location"], follow_redirects=False)
    assert back.status_code == 302
    answer = urlsplit(back.headers["location"])
    assert f"{answer.scheme}://{answer.netloc}{answer.path}" == REDIRECT_URI
    query = parse_qs(answer.query)
    assert query["state"] == ["s-1"] and query["code"][0]

    # A second visit offers the account; one click and the application has its code.
    again = client.get(paths.AUTHORIZE, params=params | {"state": "s-2"}, follow_redirects=False)
    listing = client.get(again.headers["location"])
    chosen = submit(client, the_form(listing.text, paths.LOGIN_USER_SELECTION))
    assert chosen.headers["location"].startswith(CALLBACK)
    back = client.get(chosen.headers["location"], follow_redirects=False)
    assert parse_qs(urlsplit(back.headers["location"]).query)["state"] == ["s-2"]


def test_cancel_returns_access_denied_to_the_application(client: TestClient) -> None:
    params = authorize_params(portal_app(client))
    page = client.get(
        client.get(paths.AUTHORIZE, params=params, follow_redirects=False).headers["location"]
    )
    cancel = [a for a in page.text.split('"') if a.startswith(CALLBACK)]
    assert len(cancel) == 1
    back = client.get(cancel[0].replace("&amp;", "&"), follow_redirects=False)
    answer = parse_qs(urlsplit(back.headers["location"]).query)
    assert back.headers["location"].startswith(REDIRECT_URI + "?")
    assert answer["error"] == ["access_denied"] and answer["state"] == ["xyz"]
