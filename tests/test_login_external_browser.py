"""Signing in and registering through an external identity provider, in a real browser
(Debian's chromium) against a real upstream OpenID provider nobody here wrote (npm
`oidc-provider`, tests/upstream), from the application's authorization request to the ID
token it receives (authlib's client).

Journeys: register through the upstream (create a new account from the pre-filled form),
sign in again (the profile updated from the upstream), link the upstream identity to an
existing local account, auto-linking by a verified email, a request naming its provider by
scope, a login policy without passwords; and the error pages: the upstream denies, a state
that is not ours, an answer replayed (its nonce with it), an issuer that differs.

Each test uses upstream subjects of its own; the servers and the browser are the module's.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import make_settings
from tests.dbfile import rows
from tests.live_server import chromium, serving
from tests.mail_fixtures import MailServer, mailed_code, use_smtp
from tests.processes import free_port
from tests.test_login_factors_browser import REDIRECT_URI, Application, Core
from tests.upstream_fixtures import (
    ALICE,
    Upstream,
    deny_upstream,
    sign_in_upstream,
    start_upstream,
    zitui_client,
)
from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.schema import parse
from zitui.config import Settings
from zitui.core.apps import NewOidcApp
from zitui.core.idps import IdpSettings
from zitui.core.users import NewHumanUser
from zitui.records import AppType, AuthMethod, IdpOptions, IdpType
from zitui.server import paths

PASSWORD = "Local-Pass-12!"
SECRET = "upstream-client-secret-0123456789"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice-upstream": dict(ALICE),
    "dora-upstream": {
        **ALICE,
        "email": "dora@upstream.example",
        "given_name": "Dora",
        "preferred_username": "dora.up",
        "name": "Dora Upstream",
    },
    "carol-upstream": {
        "email": "carol@elsewhere.example",
        "email_verified": True,
        "given_name": "Carol",
        "family_name": "Else",
        "name": "Carol Else",
    },
    "erin-upstream": {
        "email": "erin@local.example",
        "email_verified": True,
        "given_name": "Erin",
        "family_name": "Upstream",
        "name": "Erin Upstream",
    },
    "frank-upstream": {
        "email": "frank@upstream.example",
        "email_verified": True,
        "given_name": "Frank",
        "family_name": "Upstream",
        "name": "Frank Up",
    },
    "gina-upstream": {
        "email": "gina@upstream.example",
        "email_verified": True,
        "given_name": "Gina",
        "family_name": "Upstream",
        "name": "Gina Up",
    },
    "ivy-upstream": {
        "email": "ivy@upstream.example",
        "email_verified": True,
        "given_name": "Ivy",
        "family_name": "Upstream",
        "name": "Ivy Up",
    },
    "hugo-upstream": {
        "email": "hugo@upstream.example",
        "email_verified": False,
        "given_name": "Hugo",
        "family_name": "Upstream",
        "name": "Hugo Up",
    },
}


@dataclass
class Live:
    url: str
    settings: Settings
    core: Core
    mail: MailServer
    upstream: Upstream
    client_id: str
    client_secret: str
    idp_id: str  # the instance's provider: create and link allowed, profile updated
    auto_idp_id: str  # the "Auto" organisation's: auto-linking by email
    auto_org_id: str
    wrong_idp_id: str  # an issuer that is not the upstream's

    def add_user(self, username: str, org_id: str = "", **extra: Any) -> str:
        async def create() -> str:
            services, admin = self.core.services, self.core.admin
            org = org_id or (await services.instance.get_instance(admin)).default_org_id
            new = NewHumanUser(
                username=username, first_name=username.title(), last_name="L", password=PASSWORD
            )
            return (await services.users.create_human_user(admin, org, replace(new, **extra))).id

        return self.core.run(create())

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        return rows(self.settings.data_dir, sql, *params)

    def links(self, user_id: str) -> list[tuple[object, ...]]:
        """The user's links: (idp id, external id)."""
        sql = "SELECT idp_id, external_id FROM user_idp_links WHERE user_id = ? ORDER BY created_at"
        return self.rows(sql, user_id)

    def linked_user(self, external_id: str) -> str:
        [(user_id,)] = self.rows(
            "SELECT user_id FROM user_idp_links WHERE external_id = ?", external_id
        )
        return str(user_id)

    def user(self, user_id: str, *columns: str) -> tuple[object, ...]:
        [found] = self.rows(f"SELECT {', '.join(columns)} FROM users WHERE id = ?", user_id)
        return found


async def prepare(core: Core, mail: MailServer, upstream: Upstream) -> dict[str, str]:
    services, admin = core.services, core.admin
    await use_smtp(services, admin, mail)
    org_id = (await services.instance.get_instance(admin)).default_org_id
    project = await services.projects.create_project(admin, org_id, "Portal")
    new = NewOidcApp(
        name="Portal",
        app_type=AppType.WEB,
        auth_method=AuthMethod.BASIC,
        redirect_uris=[REDIRECT_URI],
        dev_mode=True,
    )
    app, secret = await services.apps.create_oidc_app(admin, project.id, new)
    assert secret is not None
    options = IdpOptions(auto_update=True)
    upstream_idp = IdpSettings(
        name="Upstream",
        type=IdpType.OIDC,
        client_id="zitui",
        client_secret=SECRET,
        issuer=upstream.issuer,
        options=options,
    )
    idp = await services.idps.add(admin, "", upstream_idp)
    # The "Auto" organisation and its providers come from a blueprint, as an operator's would.
    # The upstream's own issuer is 127.0.0.1: localhost is another issuer, refused.
    wrong_issuer = upstream.issuer.replace("127.0.0.1", "localhost")
    blueprint = f"""
[[orgs]]
name = "Auto"

[[orgs.idps]]
name = "Upstream for Auto"
type = "oidc"
issuer = "{upstream.issuer}"
client_id = "zitui"
client_secret = "{SECRET}"
creation_allowed = false
auto_linking = "email"

[[orgs.idps]]
name = "Mistyped"
type = "oidc"
issuer = "{wrong_issuer}"
client_id = "zitui"
client_secret = "{SECRET}"
"""
    await apply_blueprint(services, parse(tomllib.loads(blueprint)))
    [(auto_org_id,)] = rows(services.settings.data_dir, "SELECT id FROM orgs WHERE name = 'Auto'")
    auto = await services.idps.find_by_name(admin, str(auto_org_id), "Upstream for Auto")
    wrong = await services.idps.find_by_name(admin, str(auto_org_id), "Mistyped")
    assert auto is not None and wrong is not None
    return {
        "client_id": app.client_id,
        "client_secret": secret,
        "idp_id": idp.id,
        "auto_idp_id": auto.id,
        "auto_org_id": str(auto_org_id),
        "wrong_idp_id": wrong.id,
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    port = free_port()
    url = f"http://localhost:{port}"
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        listen=f"127.0.0.1:{port}",
        external_url=url,
        outbox_interval_s=1,
    )
    mail = MailServer()
    mail.start()
    with start_upstream(ACCOUNTS, [zitui_client("zitui", SECRET, url)]) as upstream:
        core = Core(settings)
        made = core.run(prepare(core, mail, upstream))
        try:
            with serving(settings):
                yield Live(settings.issuer, settings, core, mail, upstream, **made)
        finally:
            core.close()
            mail.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = new_context(browser)
    thrown: list[str] = []
    context.on("page", lambda p: p.on("pageerror", lambda error: thrown.append(str(error))))
    yield context.new_page()
    context.close()
    assert thrown == []


@pytest.fixture
def app(live: Live) -> Iterator[Application]:
    application = Application(live)  # type: ignore[arg-type]
    yield application
    application.close()


def heading(page: Page) -> str:
    return page.locator("h1").inner_text()


def alert(page: Page) -> str:
    return page.locator(".alert").first.inner_text()


def press(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def upstream_page(page: Page, live: Live) -> None:
    """Wait until the browser is at the upstream's sign-in page."""
    expect(page.locator('input[name="login"]')).to_be_visible()
    assert page.url.startswith(live.upstream.issuer)


def to_application(page: Page, app: Application, action: Any) -> dict[str, Any]:
    """Run `action`, whose answer ends at the application: the ID token's claims."""
    with page.expect_request(f"{REDIRECT_URI}?*", timeout=15_000) as reached:
        action()
    return app.claims_for(reached.value.url)


def with_scope(url: str, scope: str) -> str:
    """The authorization URL with one more scope."""
    current = parse_qs(urlsplit(url).query)["scope"][0]
    return url.replace(urlencode({"scope": current}), urlencode({"scope": f"{current} {scope}"}))


def start_at_upstream(page: Page, live: Live, start: str, provider: str = "Upstream") -> None:
    page.goto(start)
    assert heading(page) == "Welcome back!"
    page.get_by_role("button", name=f"Continue with {provider}").click()
    upstream_page(page, live)


# --- registering and signing in ---------------------------------------------------------------


def test_register_through_the_upstream_then_sign_in_again_with_the_profile_updated(
    live: Live, app: Application, browser: Browser
) -> None:
    context = new_context(browser)
    page = context.new_page()
    start_at_upstream(page, live, app.authorization_url())
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "alice-upstream")
    assert heading(page) == "No account is linked yet"
    assert "alice.up" in page.locator("main").inner_text()
    press(page, "Create a new account")
    # The form is pre-filled from the upstream, the address confirmed by it.
    assert page.locator("#given_name").input_value() == "Alice"
    assert page.locator("#family_name").input_value() == "Upstream"
    assert page.locator("#email").input_value() == "alice@upstream.example"
    assert page.locator("#username").input_value() == "alice.up"
    assert "Upstream confirmed this address." in page.locator("#email-hint").inner_text()
    press(page, "Register")
    assert "Accept the terms" in page.locator("#terms-error").inner_text()
    page.locator("#terms").check()
    claims = to_application(page, app, lambda: page.get_by_role("button", name="Register").click())
    user_id = claims["sub"]
    assert live.linked_user("alice-upstream") == user_id
    state, verified, first = live.user(user_id, "state", "email_verified", "first_name")
    assert (state, verified, first) == ("active", 1, "Alice")
    # No password: the account signs in through the upstream only.
    assert live.rows("SELECT password_hash FROM users WHERE id = ?", user_id) == [(None,)]
    context.close()

    # Another browser, the upstream's profile changed: signed in at once, profile updated.
    live.upstream.set_account(
        "alice-upstream", {**ACCOUNTS["alice-upstream"], "given_name": "Alicia"}
    )
    second = Application(live)  # type: ignore[arg-type]
    context = new_context(browser)
    page = context.new_page()
    start_at_upstream(page, live, second.authorization_url())
    claims = to_application(page, second, lambda: sign_in_upstream(page, "alice-upstream"))
    assert claims["sub"] == user_id
    assert live.user(user_id, "first_name") == ("Alicia",)
    events = live.rows(
        "SELECT payload FROM events WHERE event_type = 'user.human.profile.changed'"
        " AND aggregate_id = ?",
        user_id,
    )
    assert [json.loads(str(p))["first_name"] for (p,) in events] == ["Alicia"]
    second.close()
    context.close()


def test_an_address_the_upstream_does_not_vouch_for_is_verified_by_code(
    live: Live, app: Application, page: Page
) -> None:
    start_at_upstream(page, live, app.authorization_url())
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "hugo-upstream")
    press(page, "Create a new account")
    assert "We will send a code" in page.locator("#email-hint").inner_text()
    page.locator("#terms").check()
    press(page, "Register")
    assert heading(page) == "Verify your email address"
    code = mailed_code(live.mail.inbox.wait_for_mail_to("hugo@upstream.example")).code
    page.locator("#code").fill(code)
    claims = to_application(page, app, lambda: page.get_by_role("button", name="Verify").click())
    assert live.user(claims["sub"], "state", "email_verified") == ("active", 1)


def test_link_the_upstream_identity_to_an_existing_account(
    live: Live, app: Application, browser: Browser
) -> None:
    carol = live.add_user("carol", email="carol@local.example", email_verified=True)
    context = new_context(browser)
    page = context.new_page()
    start_at_upstream(page, live, app.authorization_url())
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "carol-upstream")
    press(page, "Link an existing account")
    assert "link your Upstream account" in page.locator("#linking").inner_text()
    assert page.locator("#providers").count() == 0
    page.locator("#login_name").fill("carol")
    press(page, "Next")
    assert "link your Upstream account" in page.locator("#linking").inner_text()
    page.locator("#password").fill(PASSWORD)
    claims = to_application(page, app, lambda: page.get_by_role("button", name="Sign in").click())
    assert claims["sub"] == carol
    assert live.links(carol) == [(live.idp_id, "carol-upstream")]
    context.close()

    # The next time, the upstream alone signs carol in.
    second = Application(live)  # type: ignore[arg-type]
    context = new_context(browser)
    page = context.new_page()
    start_at_upstream(page, live, second.authorization_url())
    claims = to_application(page, second, lambda: sign_in_upstream(page, "carol-upstream"))
    assert claims["sub"] == carol
    assert "pwd" not in claims.get("amr", [])
    second.close()
    context.close()


def test_auto_linking_offers_the_account_with_the_same_verified_email(
    live: Live, page: Page
) -> None:
    erin = live.add_user(
        "erin", org_id=live.auto_org_id, email="erin@local.example", email_verified=True
    )
    # The Auto organisation's own provider shows on its login page (no application here).
    page.goto(f"{live.url}{paths.LOGIN}")
    assert page.get_by_role("button", name="Continue with Upstream for Auto").count() == 0
    scoped = Application(live)  # type: ignore[arg-type]
    url = with_scope(scoped.authorization_url(), f"urn:zitadel:iam:org:id:{live.auto_org_id}")
    start_at_upstream(page, live, url, provider="Upstream for Auto")
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "erin-upstream")
    assert heading(page) == "Enter your password"
    assert "link your Upstream for Auto account" in page.locator("#linking").inner_text()
    assert page.locator("#login_name").input_value().startswith("erin@auto.")
    page.locator("#password").fill(PASSWORD)
    claims = to_application(
        page, scoped, lambda: page.get_by_role("button", name="Sign in").click()
    )
    assert claims["sub"] == erin
    assert live.links(erin) == [(live.auto_idp_id, "erin-upstream")]
    scoped.close()


def test_a_request_naming_its_provider_goes_straight_to_it(live: Live, page: Page) -> None:
    direct = Application(live)  # type: ignore[arg-type]
    url = with_scope(direct.authorization_url(), f"urn:zitadel:iam:org:idp:id:{live.idp_id}")
    page.goto(url)
    upstream_page(page, live)
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "dora-upstream")
    assert heading(page) == "No account is linked yet"
    direct.close()


def test_a_policy_without_passwords_shows_only_the_providers(live: Live, page: Page) -> None:
    async def external_only() -> str:
        services, admin = live.core.services, live.core.admin
        org = await services.orgs.create_org(admin, "Federated")
        await services.policies.set(admin, "login", {"allow_username_password": False}, org.id)
        return org.id

    org_id = live.core.run(external_only())
    scoped = Application(live)  # type: ignore[arg-type]
    url = with_scope(scoped.authorization_url(), f"urn:zitadel:iam:org:id:{org_id}")
    page.goto(url)
    assert heading(page) == "Welcome back!"
    assert page.locator("#login_name").count() == 0
    assert page.locator("#register").count() == 0
    expect(page.get_by_role("button", name="Continue with Upstream")).to_be_visible()
    scoped.close()


# --- errors -------------------------------------------------------------------------------------


def test_the_upstream_denying_returns_to_sign_in_with_the_reason(
    live: Live, app: Application, page: Page
) -> None:
    start_at_upstream(page, live, app.authorization_url())
    with page.expect_navigation(url=f"{live.url}/**") as answered:
        deny_upstream(page, "frank-upstream")
    assert answered.value is not None and answered.value.status == 412
    assert heading(page) == "Welcome back!"
    assert "cancelled or refused" in alert(page)
    assert live.rows(
        "SELECT count(*) FROM user_idp_links WHERE external_id = 'frank-upstream'"
    ) == [(0,)]


def test_a_state_that_is_not_ours_and_a_replayed_answer_are_refused(
    live: Live, app: Application, page: Page
) -> None:
    start_at_upstream(page, live, app.authorization_url())
    answers: list[str] = []
    page.on(
        "request",
        lambda r: (
            answers.append(r.url)
            if r.url.startswith(live.url + paths.LOGIN_EXTERNAL_CALLBACK)
            else None
        ),
    )
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "gina-upstream")
    assert heading(page) == "No account is linked yet"
    [answer] = answers
    query = parse_qs(urlsplit(answer).query)
    # The same answer again (its code, state and the nonce bound to them): spent.
    response = page.goto(answer)
    assert response is not None and response.status == 400
    assert heading(page) == "This sign-in cannot continue"
    # A state naming the flow with a MAC of our own making: refused the same way.
    flow_id = query["state"][0].split(".")[0]
    forged = {**{k: v[0] for k, v in query.items()}, "state": f"{flow_id}.forged"}
    response = page.goto(f"{live.url}{paths.LOGIN_EXTERNAL_CALLBACK}?{urlencode(forged)}")
    assert response is not None and response.status == 400
    # A state naming no flow of this browser.
    response = page.goto(f"{live.url}{paths.LOGIN_EXTERNAL_CALLBACK}?state=nothing.here&code=x")
    assert response is not None and response.status == 404
    assert live.rows("SELECT count(*) FROM user_idp_links WHERE external_id = 'gina-upstream'") == [
        (0,)
    ]


def test_an_issuer_that_is_not_the_upstreams_is_refused_before_leaving(
    live: Live, page: Page
) -> None:
    scoped = Application(live)  # type: ignore[arg-type]
    url = with_scope(scoped.authorization_url(), f"urn:zitadel:iam:org:id:{live.auto_org_id}")
    page.goto(url)
    with page.expect_navigation() as answered:
        page.get_by_role("button", name="Continue with Mistyped").click()
    assert answered.value is not None and answered.value.status >= 400
    assert heading(page) == "Welcome back!"
    assert page.url.startswith(live.url)
    assert alert(page) != ""
    scoped.close()


def test_an_old_external_sign_in_proves_itself_at_the_provider_again(
    live: Live, app: Application, page: Page
) -> None:
    start_at_upstream(page, live, app.authorization_url())
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "ivy-upstream")
    press(page, "Create a new account")
    page.locator("#terms").check()
    claims = to_application(page, app, lambda: page.get_by_role("button", name="Register").click())
    user_id = claims["sub"]
    page.goto(live.url + paths.ACCOUNT)
    assert heading(page) == "Your profile"

    # Older than the account pages' window: the provider, not a password page nobody has.
    age_external_check(live, user_id, minutes=11)
    page.locator("#email").fill("ivy@new.example")
    page.get_by_role("button", name="Change email address").click()
    upstream_page(page, live)
    with page.expect_navigation(url=f"{live.url}{paths.ACCOUNT}"):
        sign_in_upstream(page, "ivy-upstream")
    assert heading(page) == "Your profile"
    assert live.user(user_id, "email") == ("ivy@upstream.example",)

    # Another identity at the same provider does not stand in for this account.
    age_external_check(live, user_id, minutes=11)
    page.locator("#email").fill("ivy@new.example")
    page.get_by_role("button", name="Change email address").click()
    upstream_page(page, live)
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, "alice-upstream")
    assert "not linked to the account that is signed in" in alert(page)
    assert live.user(user_id, "email") == ("ivy@upstream.example",)


def age_external_check(live: Live, user_id: str, *, minutes: int) -> None:
    """Move the external sign-in of the user's sessions `minutes` into the past."""
    with sqlite3.connect(live.settings.data_dir / "zitui.db") as conn:
        for session_id, checked in conn.execute(
            "SELECT id, external_checked_at FROM sessions WHERE user_id = ?", (user_id,)
        ).fetchall():
            aged = datetime.fromisoformat(str(checked)) - timedelta(minutes=minutes)
            conn.execute(
                "UPDATE sessions SET external_checked_at = ? WHERE id = ?",
                (aged.strftime("%Y-%m-%d %H:%M:%S.%f"), session_id),
            )
    conn.close()
