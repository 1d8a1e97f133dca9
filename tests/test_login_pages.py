"""The hosted login pages without an application: real forms, driven as a browser would."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.server_fixtures import BROWSER_ACCEPT
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import Event, User
from zitui.server import paths
from zitui.server.app import create_app
from zitui.server.browser import HOST_NAME as HOST_COOKIE
from zitui.server.browser import PLAIN_NAME as BROWSER_COOKIE
from zitui.store import EventFilter

T = TypeVar("T")
PASSWORD = "Their-Pass-1!"

# --- a small HTML reader: forms, inputs and text, with the standard library only ----------


@dataclass
class Form:
    action: str
    method: str
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)

    @property
    def values(self) -> dict[str, str]:
        return {name: attrs.get("value", "") for name, attrs in self.inputs.items()}


class PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.labels: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.main_text: list[str] = []
        self._in_main = False
        self._in_form = False
        self._label_for: str | None = None
        self._button: list[str] | None = None
        self._texts: dict[str, list[str]] = {}
        self._open_ids: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "main":
            self._in_main = True
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
            self._in_form = True
        if tag == "input" and self._in_form and "name" in values:
            self.forms[-1].inputs[values["name"]] = values
        if tag == "label":
            self._label_for = values.get("for", "")
        if tag == "button":
            self._button = []
        if "id" in values and tag not in {"input", "main"}:
            self._open_ids.append((tag, values["id"]))
            self._texts.setdefault(values["id"], [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self._in_main = False
        if tag == "form":
            self._in_form = False
        if tag == "label":
            self._label_for = None
        if tag == "button" and self._button is not None:
            if self.forms and self._in_form:
                self.forms[-1].buttons.append(" ".join("".join(self._button).split()))
            self._button = None
        if self._open_ids and self._open_ids[-1][0] == tag:
            _, element_id = self._open_ids.pop()
            self.ids[element_id] = " ".join("".join(self._texts[element_id]).split())

    def handle_data(self, data: str) -> None:
        if self._in_main:
            self.main_text.append(data)
        if self._label_for:
            self.labels[self._label_for] = self.labels.get(self._label_for, "") + data.strip()
        if self._button is not None:
            self._button.append(data)
        for _, element_id in self._open_ids:
            self._texts[element_id].append(data)


def read(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    return reader


def main_text(html: str) -> str:
    return " ".join("".join(read(html).main_text).split())


def the_form(html: str, action: str) -> Form:
    found = [form for form in read(html).forms if form.action == action]
    assert len(found) == 1, [form.action for form in read(html).forms]
    return found[0]


def submit(client: TestClient, form: Form, **values: str) -> httpx2.Response:
    assert form.method == "post"
    data = form.values | values
    return client.post(form.action, data=data, follow_redirects=False)


# --- fixtures -------------------------------------------------------------------------------


def login_client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> TestClient:
    """A browser against an app whose services run on the frozen clock."""
    monkeypatch.setattr("zitui.core.services.SystemClock", lambda: clock)
    return TestClient(create_app(settings), headers={"Accept": BROWSER_ACCEPT})


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


def services_of(client: TestClient) -> Services:
    return client.app_state["services"]  # type: ignore[no-any-return]


def run(client: TestClient, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run core calls in the app's own event loop."""
    assert client.portal is not None
    return client.portal.call(work, services_of(client))


async def _admin(services: Services) -> Context:
    login = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
    return login.context


def add_user(client: TestClient, username: str, **extra: Any) -> User:
    async def create(services: Services) -> User:
        admin = await _admin(services)
        org_id = (await services.instance.get_instance(admin)).default_org_id
        values: dict[str, Any] = {
            "username": username,
            "first_name": username.title(),
            "last_name": "Example",
            "password": PASSWORD,
        }
        values.update(extra)
        return await services.users.create_human_user(admin, org_id, NewHumanUser(**values))

    return run(client, create)


def events(client: TestClient) -> list[Event]:
    async def load(services: Services) -> list[Event]:
        async with services.store.reader() as tx:
            found, _ = await tx.events.list(EventFilter(), offset=0, limit=500)
        return found

    return run(client, load)


def sign_in(client: TestClient, login_name: str, password: str = PASSWORD) -> httpx2.Response:
    """Through the pages: the entry page (and "use another account" when it lists the
    browser's accounts), the login name, then the password."""
    page = client.get(paths.LOGIN)
    if not [form for form in read(page.text).forms if form.action == paths.LOGIN_NAME]:
        flow_id = the_form(page.text, paths.LOGIN_USER_SELECTION).values["flow"]
        page = client.get(paths.LOGIN_NAME, params={"flow": flow_id})
    named = submit(client, the_form(page.text, paths.LOGIN_NAME), login_name=login_name)
    assert named.status_code == 200
    return submit(client, the_form(named.text, paths.LOGIN_PASSWORD), password=password)


# --- tests ----------------------------------------------------------------------------------


def test_entry_page_asks_for_the_login_name(client: TestClient) -> None:
    response = client.get(paths.LOGIN)
    assert response.status_code == 200
    page = read(response.text)
    form = the_form(response.text, paths.LOGIN_NAME)
    assert form.method == "post"
    assert set(form.inputs) == {"csrf_token", "flow", "login_name"}
    assert form.inputs["csrf_token"]["type"] == "hidden" and form.values["csrf_token"]
    assert form.inputs["flow"]["type"] == "hidden" and form.values["flow"]
    name = form.inputs["login_name"]
    # The default login policy allows passkeys: the browser may offer them as autofill.
    assert name["autocomplete"] == "username webauthn"
    assert "autofocus" in name and "required" in name
    assert page.labels["login_name"] == "Login name"
    assert name["aria-describedby"] == "login_name-hint"
    assert "<h1>Welcome back!</h1>" in response.text
    # The one script is the WebAuthn one, from this server; no inline script or style.
    scripts = re.findall(r"<script[^>]*>", response.text)
    assert scripts == [f'<script src="{paths.WEBAUTHN_SCRIPT}" defer>']
    assert "style=" not in response.text


def test_sign_in_through_the_forms(client: TestClient, settings: Settings) -> None:
    page = client.get(paths.LOGIN)
    named = submit(client, the_form(page.text, paths.LOGIN_NAME), login_name="admin")
    password_form = the_form(named.text, paths.LOGIN_PASSWORD)
    assert password_form.inputs["login_name"]["autocomplete"] == "username"
    assert password_form.values["login_name"] == "admin"
    assert "readonly" in password_form.inputs["login_name"]
    secret = password_form.inputs["password"]
    assert (secret["type"], secret["autocomplete"]) == ("password", "current-password")
    assert read(named.text).labels["password"] == "Password"

    before = client.cookies.get(BROWSER_COOKIE)
    done = submit(client, password_form, password=ADMIN_PASSWORD)
    assert done.status_code == 303
    assert done.headers["location"] == paths.LOGIN_SIGNED_IN
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{BROWSER_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=86400" in cookie  # the session idle timeout
    assert "Secure" not in cookie
    # A new browser id at sign-in: the one the page was opened with is worth nothing now.
    assert before and client.cookies.get(BROWSER_COOKIE) not in {None, before}

    signed_in = client.get(done.headers["location"])
    assert signed_in.status_code == 200
    text = main_text(signed_in.text)
    assert "You are signed in" in text and "admin@zitui.127.0.0.1" in text
    assert events(client)[0].event_type == "user.human.password.check.succeeded"


def test_a_wrong_password_is_shown_on_the_password_field(client: TestClient) -> None:
    response = sign_in(client, "admin", "Not-The-Pass-1!")
    assert response.status_code == 401
    page = read(response.text)
    form = the_form(response.text, paths.LOGIN_PASSWORD)
    assert form.values["login_name"] == "admin"
    assert "value" not in form.inputs["password"]
    assert "Not-The-Pass-1!" not in response.text
    assert form.inputs["password"]["aria-invalid"] == "true"
    assert form.inputs["password"]["aria-describedby"] == "password-error"
    assert page.ids["password-error"] == "Error: The login name or password is wrong."
    assert "<title>Error: Enter your password" in response.text
    assert "set-cookie" not in response.headers  # no new browser id without a sign-in


def test_unknown_machine_and_wrong_password_pages_are_identical(client: TestClient) -> None:
    async def robot(services: Services) -> None:
        admin = await _admin(services)
        org_id = (await services.instance.get_instance(admin)).default_org_id
        await services.machines.create_machine_user(admin, org_id, "robot", "Robot")

    run(client, robot)
    add_user(client, "alice")
    pages = {}
    for name in ("alice", "ghost", "robot"):
        response = sign_in(client, name, "Wrong-Pass-1!")
        assert response.status_code == 401
        pages[name] = main_text(response.text).replace(name, "NAME")
    assert pages["alice"] == pages["ghost"] == pages["robot"]


def test_the_login_name_step_is_the_same_for_everyone(client: TestClient) -> None:
    add_user(client, "alice")
    seen = set()
    for name in ("alice", "ghost"):
        page = client.get(paths.LOGIN_NAME)
        response = submit(client, the_form(page.text, paths.LOGIN_NAME), login_name=name)
        assert response.status_code == 200
        seen.add(main_text(response.text).replace(name, "NAME"))
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [("   ", "Enter your login name."), ("al ice", "This is not a login name")],
)
def test_a_bad_login_name_is_shown_on_its_field(
    client: TestClient, typed: str, message: str
) -> None:
    page = client.get(paths.LOGIN_NAME)
    response = submit(client, the_form(page.text, paths.LOGIN_NAME), login_name=typed)
    assert response.status_code == 400
    form = the_form(response.text, paths.LOGIN_NAME)
    assert form.inputs["login_name"]["aria-invalid"] == "true"
    assert "autofocus" in form.inputs["login_name"]
    assert message in read(response.text).ids["login_name-error"]
    if typed.strip():
        assert form.values["login_name"] == typed


@pytest.mark.parametrize(
    "action",
    [
        paths.LOGIN_NAME,
        paths.LOGIN_PASSWORD,
        paths.LOGIN_USER_SELECTION,
        paths.LOGIN_PASSWORD_CHANGE,
        paths.LOGOUT,
    ],
)
def test_every_form_post_needs_its_csrf_token(client: TestClient, action: str) -> None:
    page = client.get(paths.LOGIN)  # the browser cookie, and a flow
    flow_id = the_form(page.text, paths.LOGIN_NAME).values["flow"]
    data = {"login_name": "admin", "password": ADMIN_PASSWORD, "sessionID": "x", "flow": flow_id}
    response = client.post(action, data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "Reload the page and try again." in response.text
    assert events(client)[0].event_type == "instance.set_up"


def test_pages_that_only_read_refuse_to_change_state(client: TestClient) -> None:
    for action in (paths.LOGIN_USER_SELECTION, paths.LOGOUT):
        assert client.get(action).status_code == 405
    for path in (paths.LOGIN, paths.LOGIN_NAME, paths.LOGIN_SIGNED_IN, paths.LOGOUT_DONE):
        assert client.get(path).status_code == 200
    # Without a flow, the step pages send the browser to the entry page.
    for path in (paths.LOGIN_NAME, paths.LOGIN_PASSWORD, paths.LOGIN_PASSWORD_CHANGE):
        response = client.get(path, params={"sessionID": "nope"}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == paths.LOGIN
    assert [e.event_type for e in events(client)] == ["instance.set_up"]


def test_choose_among_the_accounts_of_this_browser(client: TestClient, clock: FixedClock) -> None:
    add_user(client, "alice")
    add_user(client, "bob", display_name="Bobby")
    assert sign_in(client, "alice").status_code == 303
    assert sign_in(client, "bob").status_code == 303

    listing = client.get(paths.LOGIN)
    page = read(listing.text)
    accounts = [f for f in page.forms if f.action == paths.LOGIN_USER_SELECTION]
    assert [f.buttons[0] for f in accounts] == [
        "Bobby bob@zitui.127.0.0.1 Signed in",
        "Alice Example alice@zitui.127.0.0.1 Signed in",
    ]
    flow_id = accounts[0].values["flow"]
    assert f'href="{paths.LOGIN_NAME}?flow={flow_id}"' in listing.text  # "use another account"

    clock.advance(timedelta(minutes=1))
    chosen = submit(client, accounts[1])
    assert chosen.status_code == 303
    assert chosen.headers["location"] == paths.LOGIN_SIGNED_IN
    # The chosen account moves to the top.
    again = [f for f in read(client.get(paths.LOGIN).text).forms if f.buttons]
    assert again[0].buttons[0].startswith("Alice Example")


def test_an_old_session_asks_for_the_password_again(
    settings: Settings, clock: FixedClock, monkeypatch: Any
) -> None:
    # Sessions idle for a month stay listed here, so the password lifetime decides.
    settings = replace(settings, session_idle_timeout_s=30 * 24 * 3600)
    with login_client(settings, clock, monkeypatch) as client:
        _old_session_asks_for_the_password(client, clock)


def test_an_idle_session_is_signed_out(client: TestClient, clock: FixedClock) -> None:
    add_user(client, "alice")
    sign_in(client, "alice")
    clock.advance(timedelta(hours=23))
    assert "alice@" in main_text(client.get(paths.LOGIN_SIGNED_IN).text)
    clock.advance(timedelta(hours=2))  # 25 hours unused: past the idle timeout of 24
    listing = client.get(paths.LOGIN)
    assert [f.action for f in read(listing.text).forms][0] == paths.LOGIN_NAME
    assert {f.action for f in read(listing.text).forms} == {paths.LOGIN_NAME, paths.LOGIN_PASSKEY}
    gone = client.get(paths.LOGIN_SIGNED_IN, follow_redirects=False)
    assert gone.status_code == 303


def _old_session_asks_for_the_password(client: TestClient, clock: FixedClock) -> None:
    add_user(client, "alice", preferred_language="de")
    sign_in(client, "alice")
    clock.advance(timedelta(days=11))  # past the policy's ten-day password check lifetime
    listing = client.get(paths.LOGIN)
    account = the_form(listing.text, paths.LOGIN_USER_SELECTION)
    assert account.buttons[0].endswith("Password needed")
    chosen = submit(client, account)
    assert chosen.status_code == 200
    form = the_form(chosen.text, paths.LOGIN_PASSWORD)
    assert form.values["login_name"] == "alice@zitui.127.0.0.1"

    # Once the page may show whose account it is, the user's own language comes before the
    # browser's (ui_locales, then the user's language, then Accept-Language).
    here = f"{paths.LOGIN_PASSWORD}?flow={form.values['flow']}"
    again = client.get(here, headers={"Accept-Language": "ja"})
    assert '<html lang="de">' in again.text
    english = client.get(here, headers={"Accept-Language": "en"})
    assert '<html lang="de">' in english.text
    done = submit(client, form, password=PASSWORD)
    assert done.headers["location"] == paths.LOGIN_SIGNED_IN


def test_sign_out_one_account_then_all(client: TestClient) -> None:
    add_user(client, "alice")
    sign_in(client, "alice")
    sign_in(client, "admin", ADMIN_PASSWORD)
    overview = client.get(paths.LOGIN_SIGNED_IN)
    singles = [
        f for f in read(overview.text).forms if f.action == paths.LOGOUT and "sessionID" in f.inputs
    ]
    assert [f.buttons[0] for f in singles] == [
        "Sign out admin@zitui.127.0.0.1",
        "Sign out alice@zitui.127.0.0.1",
    ]
    response = submit(client, singles[0])
    assert response.headers["location"] == paths.LOGIN_SIGNED_IN
    left = main_text(client.get(paths.LOGIN_SIGNED_IN).text)
    assert "alice@zitui.127.0.0.1" in left and "admin@" not in left
    assert events(client)[0].event_type == "user.session.terminated"

    everything = [
        f
        for f in read(client.get(paths.LOGIN_SIGNED_IN).text).forms
        if f.action == paths.LOGOUT and "sessionID" not in f.inputs
    ]
    response = submit(client, everything[0])
    assert response.status_code == 303
    assert response.headers["location"] == paths.LOGOUT_DONE
    assert f"{BROWSER_COOKIE}=" in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    done = client.get(paths.LOGOUT_DONE)
    assert "You are signed out" in main_text(done.text)
    gone = client.get(paths.LOGIN_SIGNED_IN, follow_redirects=False)
    assert (gone.status_code, gone.headers["location"]) == (303, paths.LOGIN)


def test_a_required_password_change_comes_before_going_on(client: TestClient) -> None:
    add_user(client, "carol", password_change_required=True)
    page = sign_in(client, "carol")
    assert page.status_code == 200
    form = the_form(page.text, paths.LOGIN_PASSWORD_CHANGE)
    assert form.inputs["new_password"]["autocomplete"] == "new-password"
    assert form.inputs["new_password_repeat"]["autocomplete"] == "new-password"
    assert form.inputs["new_password"]["aria-describedby"] == "password-rules"
    assert "at least 8 characters" in read(page.text).ids["password-rules"]
    assert read(page.text).labels["new_password_repeat"] == "Repeat the new password"

    mismatch = submit(client, form, new_password="Carol-New-2!", new_password_repeat="Other-1!")
    assert mismatch.status_code == 400
    assert "not the same" in read(mismatch.text).ids["new_password_repeat-error"]
    assert "Carol-New-2!" not in mismatch.text
    weak = submit(client, form, new_password="short", new_password_repeat="short")
    assert "too short" in read(weak.text).ids["new_password-error"]

    done = submit(client, form, new_password="Carol-New-2!", new_password_repeat="Carol-New-2!")
    assert (done.status_code, done.headers["location"]) == (303, paths.LOGIN_SIGNED_IN)
    assert events(client)[0].event_type == "user.human.password.changed"
    client.cookies.clear()
    assert sign_in(client, "carol", "Carol-New-2!").headers["location"] == paths.LOGIN_SIGNED_IN


def test_german_pages_for_a_german_browser(client: TestClient) -> None:
    german = {"Accept-Language": "de-CH,de;q=0.9"}
    page = client.get(paths.LOGIN, headers=german)
    assert '<html lang="de">' in page.text
    assert "<h1>Willkommen zurück!</h1>" in page.text
    assert read(page.text).labels["login_name"] == "Anmeldename"
    form = the_form(page.text, paths.LOGIN_NAME)
    named = client.post(form.action, data=form.values | {"login_name": "admin"}, headers=german)
    assert "Passwort eingeben" in named.text
    wrong = client.post(
        paths.LOGIN_PASSWORD,
        data=the_form(named.text, paths.LOGIN_PASSWORD).values | {"password": "x"},
        headers=german,
    )
    assert "Der Anmeldename oder das Passwort ist falsch." in wrong.text
    assert "<title>Fehler: Passwort eingeben" in wrong.text
    assert '<html lang="de">' in client.get(paths.LOGOUT_DONE, params={"ui_locales": "de"}).text


def test_an_unknown_auth_request_is_a_clear_page_not_a_redirect(client: TestClient) -> None:
    for path in (paths.LOGIN, paths.LOGIN_NAME, paths.LOGIN_PASSWORD):
        response = client.get(path, params={"authRequestID": "nope"})
        assert response.status_code == 404
        assert "Unknown sign-in request" in response.text
    for flow_id in ("nope", "0" * 36):
        response = client.get(paths.LOGIN, params={"flow": flow_id}, follow_redirects=False)
        assert response.status_code == 404 and "location" not in response.headers
    page = client.get(paths.LOGIN)
    form = the_form(page.text, paths.LOGIN_NAME)
    # The form's token is bound to its flow: another flow id is refused before anything.
    posted = submit(client, form, flow="nope", login_name="admin")
    assert posted.status_code == 403 and "location" not in posted.headers


def test_the_browser_cookie_is_secure_under_https(
    tmp_path: Path, clock: FixedClock, monkeypatch: Any
) -> None:
    settings = make_settings(tmp_path / "data", external_url="https://id.example.com")
    with login_client(settings, clock, monkeypatch) as client:
        client.base_url = httpx2.URL("https://id.example.com")  # type: ignore[misc]
        response = sign_in(client, "admin", ADMIN_PASSWORD)
    assert response.status_code == 303
    cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith(HOST_COOKIE)]
    assert cookie and "Secure" in cookie[0] and "Path=/" in cookie[0]
    assert "Domain" not in cookie[0]
