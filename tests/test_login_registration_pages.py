"""Registration, email verification, password reset and initialisation through the hosted
pages, driven as a browser without JavaScript would, with the codes read from mail that a
real SMTP server (aiosmtpd) received, and the application's tokens at the end.

The app's own sender waits an hour between rounds here: each test delivers with one pass of
`deliver_due` in the app's loop, which returns once the SMTP conversation is over.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from tests import mail_fixtures
from tests.conftest import ADMIN_PASSWORD
from tests.mail_fixtures import MailServer, mailed_code, use_smtp
from tests.oidc_fixtures import Pkce
from tests.test_core_common_passwords import COMMON_BUT_COMPLEX
from tests.test_login_pages import (
    PASSWORD,
    _admin,
    add_user,
    login_client,
    main_text,
    read,
    run,
    sign_in,
    submit,
    the_form,
)
from zitui.config import Settings
from zitui.core.apps import NewOidcApp
from zitui.core.clock import FixedClock
from zitui.core.ids import new_id
from zitui.core.policies import LockoutPolicy, LoginPolicy, to_settings
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import AppType, AuthMethod, User, UserState
from zitui.server import paths
from zitui.server.browser import PLAIN_NAME as BROWSER_COOKIE
from zitui.store import EventFilter
from zitui.store.models import PolicyRow

mail_server = mail_fixtures.mail_server
REDIRECT_URI = "https://portal.example.com/callback"
NEW_PASSWORD = "Rosa-Pass-7?"
SCOPE = "openid profile email offline_access"


@pytest.fixture
def client(
    settings: Settings, clock: FixedClock, monkeypatch: Any, mail_server: MailServer
) -> Iterator[TestClient]:
    mail_server.start()
    # The background round waits longer than any test: `deliver` sends, nothing else.
    settings = replace(settings, outbox_interval_s=3600)
    with login_client(settings, clock, monkeypatch) as client:

        async def configure(services: Services) -> None:
            await use_smtp(services, await _admin(services), mail_server)

        run(client, configure)
        yield client


@pytest.fixture
def client_id(client: TestClient) -> str:
    """A public web application (PKCE) with refresh tokens and the user's claims in its ID
    token, in the default organisation."""

    async def create(services: Services) -> str:
        admin = await _admin(services)
        org_id = (await services.instance.get_instance(admin)).default_org_id
        project = await services.projects.create_project(admin, org_id, "Portal")
        new = NewOidcApp(
            name="Portal",
            app_type=AppType.WEB,
            auth_method=AuthMethod.NONE,
            redirect_uris=[REDIRECT_URI],
            grant_types=("authorization_code", "refresh_token"),
            id_token_userinfo_assertion=True,
        )
        app, _ = await services.apps.create_oidc_app(admin, project.id, new)
        return app.client_id

    return run(client, create)


# --- the application's side ------------------------------------------------------------------


@dataclass
class Authorization:
    """An application's request, and the first login page it led to."""

    client_id: str
    params: dict[str, str]
    pkce: Pkce
    page: httpx2.Response
    tokens: dict[str, Any] = field(default_factory=dict)


def authorize(client: TestClient, client_id: str, **extra: str) -> Authorization:
    pkce = Pkce()
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPE,
        "state": generate_token(10),
        "nonce": generate_token(16),
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    to_login = client.get(paths.AUTHORIZE, params=params, follow_redirects=False)
    assert to_login.status_code == 302, to_login.text
    assert to_login.headers["location"].startswith(f"{paths.LOGIN}?authRequestID=")
    return Authorization(client_id, params, pkce, client.get(to_login.headers["location"]))


def back_at_the_application(
    client: TestClient, auth: Authorization, done: httpx2.Response
) -> dict[str, Any]:
    """Follow the pages' last redirect to the application, exchange its code for tokens;
    the ID token's claims (its signature checked with the published keys)."""
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(paths.AUTHORIZE_CALLBACK)
    back = client.get(done.headers["location"], follow_redirects=False)
    assert back.status_code == 302, back.text
    location = urlsplit(back.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    answer = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert answer["state"] == auth.params["state"] and answer["code"]
    exchanged = client.post(
        paths.TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": auth.client_id,
            "code_verifier": auth.pkce.verifier,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    auth.tokens = exchanged.json()
    keys = KeySet.import_key_set(client.get(paths.KEYS).json())
    claims = dict(jwt.decode(auth.tokens["id_token"], keys, algorithms=["RS256"]).claims)
    assert claims["nonce"] == auth.params["nonce"] and auth.client_id in claims["aud"]
    return claims


def refresh(client: TestClient, client_id: str, refresh_token: str) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return client.post(paths.TOKEN, data=data)


# --- mail -----------------------------------------------------------------------------------


def deliver(client: TestClient) -> int:
    """One pass of the app's sender; how many messages it attempted."""
    return run(client, lambda services: services.sender.deliver_due())


def delivered(client: TestClient, mail_server: MailServer, to: str) -> EmailMessage:
    """Deliver, and the one new message, which must be for `to`."""
    before = len(mail_server.inbox.received)
    assert deliver(client) == 1
    assert len(mail_server.inbox.received) == before + 1  # stored before the server's 250
    _, recipients, message = mail_server.inbox.received[-1]
    assert recipients == [to] and message["To"] == to
    return message


# --- the pages ------------------------------------------------------------------------------

REGISTRATION = {
    "given_name": "Rosa",
    "family_name": "Parks",
    "email": "rosa@example.org",
    "username": "",
    "language": "en",
    "password": NEW_PASSWORD,
    "password_repeat": NEW_PASSWORD,
    "terms": "on",
}


def register_link(page_html: str) -> str:
    """The Register link of a login-name page; "" when the page has none."""
    found = re.search(r'<p class="other" id="register">.*?<a href="([^"]+)"', page_html, re.S)
    return html.unescape(found.group(1)) if found else ""


def selected_language(page_html: str) -> str:
    found = re.search(r'<option value="([a-z]+)" selected>', page_html)
    assert found is not None
    return found.group(1)


def open_registration(client: TestClient, auth: Authorization) -> httpx2.Response:
    link = register_link(auth.page.text)
    assert link.startswith(f"{paths.LOGIN_REGISTER}?flow=")
    page = client.get(link)
    assert page.status_code == 200
    return page


def register(client: TestClient, page: httpx2.Response, **values: str) -> httpx2.Response:
    """Fill the registration form of `page` and send it (the select and checkbox as a browser
    sends them)."""
    return submit(client, the_form(page.text, paths.LOGIN_REGISTER), **(REGISTRATION | values))


def verify(client: TestClient, page: httpx2.Response, code: str) -> httpx2.Response:
    return submit(client, the_form(page.text, paths.LOGIN_VERIFY_EMAIL), code=code)


def reload(client: TestClient, page: httpx2.Response, path: str) -> httpx2.Response:
    flow_id = the_form(page.text, path).values["flow"]
    return client.get(path, params={"flow": flow_id})


def delivery_of(page: httpx2.Response) -> tuple[str, str]:
    """The verify page's delivery state (its class) and text."""
    found = re.search(r'<p class="delivery (delivery-[a-z]+)"', page.text)
    assert found is not None, page.text
    return found.group(1), read(page.text).ids["delivery"]


def field_error(page: httpx2.Response, name: str) -> str:
    return read(page.text).ids.get(f"{name}-error", "")


def browser_cookie(client: TestClient) -> str:
    return client.cookies.get(BROWSER_COOKIE) or ""


def sessions_of(client: TestClient, cookie: str) -> list[str]:
    async def listed(services: Services) -> list[str]:
        return [s.id for s in await services.sessions.list_browser_sessions(cookie)]

    return run(client, listed)


class Browsers:
    """Two browsers on one app: the test client with one cookie jar or the other."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self._jars = {"first": httpx2.Cookies(), "second": httpx2.Cookies()}
        self._current = "first"

    def use(self, name: str) -> TestClient:
        self._jars[self._current] = httpx2.Cookies(self.client.cookies)
        self.client.cookies = self._jars[name]  # type: ignore[assignment]
        self._current = name
        return self.client


# --- the store --------------------------------------------------------------------------------


def find_user(client: TestClient, email: str) -> User:
    async def find(services: Services) -> User:
        async with services.store.reader() as tx:
            listed, _ = await tx.users.list(org_ids=None, search=email, offset=0, limit=10)
        found = [user for user in listed if user.email == email]
        assert len(found) == 1, found
        return found[0]

    return run(client, find)


def event_types(client: TestClient, user_id: str) -> list[str]:
    async def load(services: Services) -> list[str]:
        async with services.store.reader() as tx:
            found, _ = await tx.events.list(EventFilter(), offset=0, limit=500)
        return [e.event_type for e in found if e.aggregate_id == user_id]

    return run(client, load)


def set_login_policy(client: TestClient, policy: LoginPolicy, org_id: str = "") -> None:
    """The instance default (`org_id` "") changed in place, or an organisation's own policy."""
    table = PolicyRow.__table__  # type: ignore[attr-defined]
    settings = to_settings(policy)

    async def change(services: Services) -> None:
        async with services.store.transaction() as tx:
            if org_id:
                at = services.clock.now()
                await tx.policies.insert(new_id(), "login", settings, org_id=org_id, at=at)
                return
            statement = (
                table.update()
                .where(table.c.kind == "login", table.c.org_id == "")
                .values(settings=settings)
            )
            await tx.policies.conn.execute(statement)

    run(client, change)


def default_org(client: TestClient) -> str:
    async def find(services: Services) -> str:
        return (await services.instance.get_instance(await _admin(services))).default_org_id

    return run(client, find)


# --- registration -------------------------------------------------------------------------


def test_register_verify_the_mailed_code_and_return_with_tokens(
    client: TestClient, client_id: str, mail_server: MailServer
) -> None:
    auth = authorize(client, client_id)
    assert read(auth.page.text).ids["register"] == "No account yet? Register"
    page = open_registration(client, auth)
    assert "<h1>Create your account</h1>" in page.text
    form = the_form(page.text, paths.LOGIN_REGISTER)
    completions = {name: attrs.get("autocomplete") for name, attrs in form.inputs.items()}
    assert completions == {
        "csrf_token": None,
        "flow": None,
        "given_name": "given-name",
        "family_name": "family-name",
        "email": "email",
        "username": "username",
        "password": "new-password",
        "password_repeat": "new-password",
        "terms": None,
    }
    assert form.inputs["email"]["type"] == "email"
    assert selected_language(page.text) == "en"

    before = browser_cookie(client)
    asked = register(client, page)
    assert asked.status_code == 200
    assert "<h1>Verify your email address</h1>" in asked.text
    assert "We sent a code to rosa@example.org." in main_text(asked.text)
    assert delivery_of(asked) == ("delivery-queued", "The mail is on its way.")
    rosa = find_user(client, "rosa@example.org")
    assert (rosa.state, rosa.email_verified, rosa.username) == (
        UserState.INITIAL,
        False,
        "rosa@example.org",  # an empty username is the email
    )
    assert browser_cookie(client) == before  # nobody is signed in before the code

    message = delivered(client, mail_server, "rosa@example.org")
    assert message["Subject"] == "zitui: verify your email address"
    mailed = mailed_code(message)
    assert "Hello Rosa Parks," in mailed.text
    assert mailed.path.startswith(f"{paths.LOGIN_VERIFY_EMAIL}?userID={rosa.id}&code=")
    sent = reload(client, asked, paths.LOGIN_VERIFY_EMAIL)
    assert delivery_of(sent)[0] == "delivery-sent"

    done = verify(client, sent, mailed.code.lower())  # typed in any case
    claims = back_at_the_application(client, auth, done)
    assert claims["sub"] == rosa.id
    assert claims["email"] == "rosa@example.org" and claims["email_verified"] is True
    assert claims["given_name"] == "Rosa" and claims["family_name"] == "Parks"
    assert browser_cookie(client) not in {"", before}  # signed in: a new browser id
    active = find_user(client, "rosa@example.org")
    assert (active.state, active.email_verified) == (UserState.ACTIVE, True)
    assert active.org_id == default_org(client)
    recorded = event_types(client, rosa.id)[::-1]
    assert recorded[:2] == ["user.human.selfregistered", "user.human.email.code.added"]
    assert {"user.human.email.verified", "user.human.password.check.succeeded"} <= set(recorded)
    # The refresh token works: the application keeps the new user signed in.
    assert refresh(client, client_id, auth.tokens["refresh_token"]).status_code == 200


def test_every_refused_field_keeps_the_values_but_not_the_passwords(
    client: TestClient, client_id: str
) -> None:
    add_user(client, "taken", email="taken@example.org", email_verified=True)
    page = open_registration(client, authorize(client, client_id))
    cases = [
        ({"email": "taken@example.org"}, "email", 409, "this email address exists already"),
        ({"username": "taken"}, "username", 409, "This username is already taken"),
        ({"password": "Tiny-1", "password_repeat": "Tiny-1"}, "password", 400, "too short"),
        (
            {"password": COMMON_BUT_COMPLEX, "password_repeat": COMMON_BUT_COMPLEX},
            "password",
            400,
            "This password is too common",
        ),
        ({"password_repeat": "Other-Pass-7?"}, "password_repeat", 400, "not the same"),
        ({"terms": ""}, "terms", 400, "Accept the terms"),
    ]
    for values, name, status, message in cases:
        typed = REGISTRATION | {"username": "rosa"} | values
        refused = register(client, page, **typed)
        assert refused.status_code == status, (values, refused.status_code)
        assert message in field_error(refused, name), (values, field_error(refused, name))
        errors = [key for key in read(refused.text).ids if key.endswith("-error")]
        assert errors == [f"{name}-error"], values
        form = the_form(refused.text, paths.LOGIN_REGISTER)
        if name == "terms":
            assert 'aria-invalid="true" aria-describedby="terms-error"' in refused.text
            assert "checked" not in form.inputs["terms"]
        else:
            assert form.inputs[name]["aria-invalid"] == "true"
            assert "autofocus" in form.inputs[name]
            assert "checked" in form.inputs["terms"]
        kept = {key: form.values[key] for key in ("given_name", "family_name", "email", "username")}
        assert kept == {key: typed[key] for key in kept}, values
        assert form.values["password"] == form.values["password_repeat"] == ""
        assert typed["password"] not in refused.text
        assert selected_language(refused.text) == "en"
        page = refused
    # Nothing was created, nothing mailed.
    assert deliver(client) == 0
    done = register(client, page, username="rosa")
    assert done.status_code == 200 and "Verify your email address" in done.text


def test_the_link_in_another_browser_verifies_and_the_first_browser_goes_on(
    client: TestClient, client_id: str, mail_server: MailServer
) -> None:
    browsers = Browsers(client)
    first = browsers.use("first")
    auth = authorize(first, client_id)
    asked = register(first, open_registration(first, auth))
    mailed = mailed_code(delivered(first, mail_server, "rosa@example.org"))
    rosa = find_user(client, "rosa@example.org")

    second = browsers.use("second")
    opened = second.get(mailed.path)
    assert opened.status_code == 200
    form = the_form(opened.text, paths.LOGIN_VERIFY_EMAIL)
    assert form.values["code"] == mailed.code
    assert form.values["flow"] != the_form(asked.text, paths.LOGIN_VERIFY_EMAIL).values["flow"]
    assert not find_user(client, "rosa@example.org").email_verified  # opening is not verifying
    verified = submit(second, form)
    assert verified.status_code == 200
    assert "<h1>Email address verified</h1>" in verified.text
    assert find_user(client, "rosa@example.org").email_verified
    assert sessions_of(client, browser_cookie(second)) == []
    assert second.get(paths.LOGIN_SIGNED_IN, follow_redirects=False).status_code == 303

    first = browsers.use("first")
    page = reload(first, asked, paths.LOGIN_VERIFY_EMAIL)
    claims = back_at_the_application(first, auth, verify(first, page, ""))
    assert claims["sub"] == rosa.id and claims["email_verified"] is True
    assert len(sessions_of(client, browser_cookie(first))) == 1


def test_a_new_code_replaces_the_old_one(
    client: TestClient, client_id: str, mail_server: MailServer
) -> None:
    auth = authorize(client, client_id)
    asked = register(client, open_registration(client, auth))
    old = mailed_code(delivered(client, mail_server, "rosa@example.org"))
    resend = the_form(asked.text, paths.LOGIN_CODE_RESEND)
    resent = submit(client, resend)
    assert resent.status_code == 200
    assert read(resent.text).ids["resent"].startswith("A new code is on its way.")
    assert delivery_of(resent)[0] == "delivery-queued"
    new = mailed_code(delivered(client, mail_server, "rosa@example.org"))
    assert new.code != old.code

    refused = verify(client, resent, old.code)
    assert refused.status_code == 400
    assert "This code is wrong or has expired." in field_error(refused, "code")
    assert the_form(refused.text, paths.LOGIN_VERIFY_EMAIL).values["code"] == old.code
    claims = back_at_the_application(client, auth, verify(client, refused, new.code))
    assert claims["sub"] == find_user(client, "rosa@example.org").id


def test_three_wrong_codes_lock_the_user(
    client: TestClient, client_id: str, mail_server: MailServer
) -> None:
    async def lockout(services: Services) -> None:
        policy = to_settings(LockoutPolicy(max_otp_attempts=3))
        org_id = (await services.instance.get_instance(await _admin(services))).default_org_id
        async with services.store.transaction() as tx:
            at = services.clock.now()
            await tx.policies.insert(new_id(), "lockout", policy, org_id=org_id, at=at)

    run(client, lockout)
    auth = authorize(client, client_id)
    page = register(client, open_registration(client, auth))
    mailed = mailed_code(delivered(client, mail_server, "rosa@example.org"))
    wrong = "Z" * 6 if mailed.code != "Z" * 6 else "Y" * 6
    for _ in range(3):
        page = verify(client, page, wrong)
        assert page.status_code == 400
    rosa = find_user(client, "rosa@example.org")
    assert rosa.state is UserState.LOCKED
    assert "user.locked" in event_types(client, rosa.id)

    late = verify(client, page, mailed.code)  # the right code no longer helps
    assert late.status_code == 400 and "location" not in late.headers
    assert "This code is wrong or has expired." in field_error(late, "code")
    assert sessions_of(client, browser_cookie(client)) == []
    locked = find_user(client, "rosa@example.org")
    assert (locked.state, locked.email_verified) == (UserState.LOCKED, False)


def test_an_unverified_user_signing_in_later_gets_a_new_code(
    client: TestClient, client_id: str, mail_server: MailServer
) -> None:
    register(client, open_registration(client, authorize(client, client_id)))
    first = mailed_code(delivered(client, mail_server, "rosa@example.org"))
    client.cookies.clear()  # another day, another browser
    auth = authorize(client, client_id)
    named = submit(
        client, the_form(auth.page.text, paths.LOGIN_NAME), login_name="rosa@example.org"
    )
    asked = submit(client, the_form(named.text, paths.LOGIN_PASSWORD), password=NEW_PASSWORD)
    assert asked.status_code == 200 and "Verify your email address" in asked.text
    second = mailed_code(delivered(client, mail_server, "rosa@example.org"))
    assert verify(client, asked, first.code).status_code == 400
    claims = back_at_the_application(client, auth, verify(client, asked, second.code))
    assert claims["sub"] == find_user(client, "rosa@example.org").id


def other_link(page_html: str) -> str:
    """The page's link below its form ("Already have an account?", "Back to sign-in")."""
    found = re.search(r'<p class="other"><a href="([^"]+)"', page_html)
    assert found is not None
    return html.unescape(found.group(1))


def test_from_the_registration_form_back_to_signing_in(client: TestClient, client_id: str) -> None:
    auth = authorize(client, client_id, prompt="create")
    assert "<h1>Create your account</h1>" in auth.page.text
    assert "Already have an account? Sign in" in main_text(auth.page.text)
    named = client.get(other_link(auth.page.text))
    assert named.status_code == 200 and "<h1>Welcome back!</h1>" in named.text
    named_form = the_form(named.text, paths.LOGIN_NAME)
    password_form = the_form(
        submit(client, named_form, login_name="admin").text, paths.LOGIN_PASSWORD
    )
    done = submit(client, password_form, password=ADMIN_PASSWORD)
    admin = run(client, _admin).actor
    assert admin is not None
    assert back_at_the_application(client, auth, done)["sub"] == admin.user_id

    set_login_policy(client, LoginPolicy(allow_register=False))
    refused = authorize(client, client_id, prompt="create").page
    assert refused.status_code == 403
    named = client.get(other_link(refused.text))  # "Back to sign-in"
    assert named.status_code == 200 and "<h1>Welcome back!</h1>" in named.text
    assert the_form(named.text, paths.LOGIN_NAME).values["flow"]


# --- where registration is open ------------------------------------------------------------


def test_no_registration_where_the_login_policy_closes_it(
    client: TestClient, client_id: str
) -> None:
    open_page = authorize(client, client_id).page
    assert register_link(open_page.text)
    set_login_policy(client, LoginPolicy(allow_register=False))

    plain = client.get(paths.LOGIN)
    assert "register" not in read(plain.text).ids
    assert "Register" not in main_text(plain.text)
    assert "register" not in read(authorize(client, client_id).page.text).ids
    # A link kept from before the change ends on the same page as prompt=create.
    kept = client.get(register_link(open_page.text))
    created = authorize(client, client_id, prompt="create").page
    for refused in (kept, created):
        assert refused.status_code == 403
        assert "<h1>Not possible here</h1>" in refused.text
        assert "Registration is not open here." in read(refused.text).ids["form-alert"]
        assert not [f for f in read(refused.text).forms if f.action == paths.LOGIN_REGISTER]
    # A form sent anyway creates nobody.
    hidden = the_form(open_page.text, paths.LOGIN_NAME).values
    forged = client.post(paths.LOGIN_REGISTER, data=hidden | REGISTRATION)
    assert forged.status_code == 403
    assert deliver(client) == 0


def test_an_organisation_closes_registration_for_its_own_requests(
    client: TestClient, client_id: str
) -> None:
    async def beta(services: Services) -> str:
        return (await services.orgs.create_org(await _admin(services), "Beta")).id

    beta_id = run(client, beta)
    set_login_policy(client, LoginPolicy(allow_register=False), org_id=beta_id)
    scoped = f"{SCOPE} urn:zitadel:iam:org:id:{beta_id}"
    assert "register" not in read(authorize(client, client_id, scope=scoped).page.text).ids
    refused = authorize(client, client_id, scope=scoped, prompt="create").page
    assert refused.status_code == 403 and "Registration is not open here." in refused.text
    assert authorize(client, client_id, prompt="create").page.status_code == 200


@pytest.mark.parametrize("by", ["id", "domain"])
def test_registration_in_the_organisation_the_scope_names(
    client: TestClient, client_id: str, mail_server: MailServer, by: str
) -> None:
    async def beta(services: Services) -> tuple[str, str]:
        org = await services.orgs.create_org(await _admin(services), "Beta")
        return org.id, org.primary_domain

    beta_id, domain = run(client, beta)
    add_user(client, "rosa")  # the same username in the default organisation
    org_scope = (
        f"urn:zitadel:iam:org:id:{beta_id}"
        if by == "id"
        else f"urn:zitadel:iam:org:domain:primary:{domain}"
    )
    auth = authorize(client, client_id, scope=f"{SCOPE} {org_scope}", prompt="create")
    assert auth.page.status_code == 200 and "<h1>Create your account</h1>" in auth.page.text
    asked = register(client, auth.page, username="rosa")
    assert asked.status_code == 200, field_error(asked, "username")
    mailed = mailed_code(delivered(client, mail_server, "rosa@example.org"))
    claims = back_at_the_application(client, auth, verify(client, asked, mailed.code))
    rosa = find_user(client, "rosa@example.org")
    assert claims["sub"] == rosa.id
    assert rosa.org_id == beta_id and rosa.login_name == f"rosa@{domain}"


@pytest.mark.parametrize(
    ("locale", "heading", "link", "subject"),
    [
        ("de", "Konto erstellen", "Registrieren", "Bestätigen Sie Ihre E-Mail-Adresse"),
        ("fr", "Créer votre compte", "S’inscrire", "vérifiez votre adresse e-mail"),
    ],
)
def test_the_pages_and_the_mail_speak_the_requested_language(
    client: TestClient,
    client_id: str,
    mail_server: MailServer,
    locale: str,
    heading: str,
    link: str,
    subject: str,
) -> None:
    auth = authorize(client, client_id, ui_locales=locale)
    assert f'<html lang="{locale}">' in auth.page.text
    assert read(auth.page.text).ids["register"].endswith(link)
    page = open_registration(client, auth)
    assert f'<html lang="{locale}">' in page.text and f"<h1>{heading}</h1>" in page.text
    language = selected_language(page.text)
    assert language == locale
    asked = register(client, page, language=language)
    assert f'<html lang="{locale}">' in asked.text
    message = delivered(client, mail_server, "rosa@example.org")
    assert subject in message["Subject"]
    assert mailed_code(message).code
    assert find_user(client, "rosa@example.org").preferred_language == locale
    refused = verify(client, asked, "")
    assert refused.status_code == 400 and f'<html lang="{locale}">' in refused.text


def test_a_mail_server_that_is_down_delays_the_code_until_it_is_back(
    client: TestClient, client_id: str, mail_server: MailServer, clock: FixedClock
) -> None:
    mail_server.stop()
    auth = authorize(client, client_id)
    asked = register(client, open_registration(client, auth))
    assert delivery_of(asked) == ("delivery-queued", "The mail is on its way.")
    assert deliver(client) == 1  # attempted, and refused at the closed port
    assert mail_server.inbox.received == []
    waiting = reload(client, asked, paths.LOGIN_VERIFY_EMAIL)
    state, text = delivery_of(waiting)
    assert state == "delivery-retrying"
    assert text.startswith("The mail server is not reachable right now.")

    mail_server.start()
    assert deliver(client) == 0  # the message waits out its backoff ...
    clock.advance(timedelta(seconds=30))
    message = delivered(client, mail_server, "rosa@example.org")  # ... and then goes
    sent = reload(client, asked, paths.LOGIN_VERIFY_EMAIL)
    assert delivery_of(sent)[0] == "delivery-sent"
    # The mail's link, in the browser that registered: the same flow, the code filled in.
    opened = client.get(mailed_code(message).path)
    form = the_form(opened.text, paths.LOGIN_VERIFY_EMAIL)
    assert form.values == the_form(sent.text, paths.LOGIN_VERIFY_EMAIL).values | {
        "code": mailed_code(message).code
    }
    claims = back_at_the_application(client, auth, submit(client, form))
    assert claims["sub"] == find_user(client, "rosa@example.org").id


# --- password reset ---------------------------------------------------------------------------


def forgot(client: TestClient, auth_page: httpx2.Response, login_name: str) -> httpx2.Response:
    named = submit(client, the_form(auth_page.text, paths.LOGIN_NAME), login_name=login_name)
    password_page = read(named.text)
    assert password_page.ids["forgot"] == "Forgot your password?"
    return submit(client, the_form(named.text, paths.LOGIN_PASSWORD_RESET))


def test_a_reset_for_an_unknown_name_looks_the_same_and_mails_nothing(
    client: TestClient, mail_server: MailServer
) -> None:
    add_user(client, "alice", email="alice@example.org", email_verified=True)
    pages: dict[str, list[str]] = {}
    for name in ("alice", "ghost"):
        client.cookies.clear()
        page = forgot(client, client.get(paths.LOGIN), name)
        assert page.status_code == 200
        assert "<h1>Reset your password</h1>" in page.text
        resent = submit(client, the_form(page.text, paths.LOGIN_CODE_RESEND))
        assert resent.status_code == 200 and "resent" in read(resent.text).ids
        guessed = submit(
            client,
            the_form(resent.text, paths.LOGIN_PASSWORD_INIT),
            code="ABC123",
            password=NEW_PASSWORD,
            password_repeat=NEW_PASSWORD,
        )
        assert guessed.status_code == 400
        shown = (page, resent, guessed)
        pages[name] = [main_text(each.text).replace(name, "NAME") for each in shown]
    assert pages["alice"] == pages["ghost"]
    assert deliver(client) == 2  # the code and the new one, both to alice
    assert [to for _, to, _ in mail_server.inbox.received] == [["alice@example.org"]] * 2


def test_a_reset_signs_out_other_browsers_and_ends_refresh_tokens(
    client: TestClient, client_id: str, mail_server: MailServer
) -> None:
    alice = add_user(client, "alice", email="alice@example.org", email_verified=True)
    browsers = Browsers(client)
    elsewhere = browsers.use("second")
    earlier = authorize(elsewhere, client_id)
    named = submit(elsewhere, the_form(earlier.page.text, paths.LOGIN_NAME), login_name="alice")
    signed_in = submit(elsewhere, the_form(named.text, paths.LOGIN_PASSWORD), password=PASSWORD)
    assert back_at_the_application(elsewhere, earlier, signed_in)["sub"] == alice.id
    assert refresh(elsewhere, client_id, earlier.tokens["refresh_token"]).status_code == 200
    elsewhere_cookie = browser_cookie(elsewhere)
    assert len(sessions_of(client, elsewhere_cookie)) == 1

    here = browsers.use("first")
    auth = authorize(here, client_id)
    asked = forgot(here, auth.page, "alice")
    message = delivered(here, mail_server, "alice@example.org")
    assert message["Subject"] == "zitui: reset your password"
    mailed = mailed_code(message)
    assert mailed.path.startswith(f"{paths.LOGIN_PASSWORD_INIT}?userID={alice.id}&code=")
    flow_id = the_form(asked.text, paths.LOGIN_PASSWORD_INIT).values["flow"]
    assert mailed.query["flow"] == flow_id
    opened = here.get(mailed.path)  # the link, in the browser that asked: the same flow
    form = the_form(opened.text, paths.LOGIN_PASSWORD_INIT)
    assert (form.values["flow"], form.values["code"]) == (flow_id, mailed.code)
    assert form.values["login_name"] == "alice"

    weak = submit(here, form, password="weak", password_repeat="weak")
    assert weak.status_code == 400 and "too short" in field_error(weak, "password")
    assert the_form(weak.text, paths.LOGIN_PASSWORD_INIT).values["code"] == mailed.code
    done = submit(here, form, password=NEW_PASSWORD, password_repeat=NEW_PASSWORD)
    assert back_at_the_application(here, auth, done)["sub"] == alice.id

    assert sessions_of(client, elsewhere_cookie) == []
    again = refresh(here, client_id, earlier.tokens["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    elsewhere = browsers.use("second")
    assert elsewhere.get(paths.LOGIN_SIGNED_IN, follow_redirects=False).status_code == 303
    # The code is spent, the old password is gone and the new one works.
    assert (
        submit(here, form, password=NEW_PASSWORD, password_repeat=NEW_PASSWORD).status_code != 303
    )
    elsewhere.cookies.clear()
    assert sign_in(elsewhere, "alice", PASSWORD).status_code == 401
    assert sign_in(elsewhere, "alice", NEW_PASSWORD).status_code == 303


# --- initialisation ------------------------------------------------------------------------


def test_a_user_a_manager_created_initialises_from_the_mail(
    client: TestClient, client_id: str, mail_server: MailServer
) -> None:
    async def create(services: Services) -> User:
        admin = await _admin(services)
        org_id = (await services.instance.get_instance(admin)).default_org_id
        new = NewHumanUser(
            username="ines", first_name="Ines", last_name="Example", email="ines@example.org"
        )
        return await services.users.create_human_user(admin, org_id, new)

    ines = run(client, create)
    assert ines.state is UserState.INITIAL
    message = delivered(client, mail_server, "ines@example.org")
    assert message["Subject"] == "zitui: activate your account"
    mailed = mailed_code(message)
    assert mailed.path.startswith(f"{paths.LOGIN_USER_INIT}?userID={ines.id}&code=")
    assert "flow" not in mailed.query

    opened = client.get(mailed.path)
    assert opened.status_code == 200 and "<h1>Activate your account</h1>" in opened.text
    form = the_form(opened.text, paths.LOGIN_USER_INIT)
    assert form.values["code"] == mailed.code
    mismatch = submit(client, form, password=NEW_PASSWORD, password_repeat="Other-Pass-7?")
    assert "not the same" in field_error(mismatch, "password_repeat")
    done = submit(client, form, password=NEW_PASSWORD, password_repeat=NEW_PASSWORD)
    assert (done.status_code, done.headers["location"]) == (303, paths.LOGIN_SIGNED_IN)
    active = find_user(client, "ines@example.org")
    assert (active.state, active.email_verified) == (UserState.ACTIVE, True)

    # Signed in: the application gets the new user with one click on the account.
    auth = authorize(client, client_id)
    chosen = submit(client, the_form(auth.page.text, paths.LOGIN_USER_SELECTION))
    claims = back_at_the_application(client, auth, chosen)
    assert claims["sub"] == ines.id and claims["email_verified"] is True
