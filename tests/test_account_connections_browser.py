"""The account's Connections page in a real browser (Debian's chromium) against a real
upstream OpenID provider nobody here wrote (npm `oidc-provider`, tests/upstream): a local user
links two providers from the profile (two clients of the same upstream, "Upstream" and
"Upstream B"), removes one and signs in through the other from a fresh browser; an identity
linked to another account is refused with its reason; a user without a password keeps their
last link.

The servers and the browser are the module's; each test uses upstream subjects of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import make_settings
from tests.dbfile import rows
from tests.live_server import chromium, serving
from tests.processes import free_port
from tests.test_login_factors_browser import Core
from tests.upstream_fixtures import ALICE, Upstream, sign_in_upstream, start_upstream, zitui_client
from zitui.config import Settings
from zitui.core.idps import IdpSettings
from zitui.core.ids import new_id
from zitui.core.users import NewHumanUser
from zitui.i18n import lookup
from zitui.records import IdpLink, IdpType
from zitui.server import paths

PASSWORD = "Local-Pass-12!"
SECRET = "upstream-client-secret-0123456789"
SECRET_B = "upstream-client-b-secret-0123456789"


def account(sub: str, name: str) -> dict[str, Any]:
    return {
        **ALICE,
        "email": f"{sub}@upstream.example",
        "given_name": name,
        "name": f"{name} Upstream",
        "preferred_username": f"{sub}.up",
    }


ACCOUNTS = {
    sub: account(sub, name)
    for sub, name in (("lena", "Lena"), ("lena-b", "Lena"), ("omar", "Omar"), ("nora", "Nora"))
}


@dataclass
class Live:
    url: str
    settings: Settings
    core: Core
    upstream: Upstream
    idp_id: str
    idp_b_id: str

    def add_user(self, username: str, *, password: str = PASSWORD) -> str:
        async def create() -> str:
            services, admin = self.core.services, self.core.admin
            org = (await services.instance.get_instance(admin)).default_org_id
            new = NewHumanUser(
                username=username, first_name=username.title(), last_name="L", password=password
            )
            return (await services.users.create_human_user(admin, org, new)).id

        return self.core.run(create())

    def link(self, user_id: str, idp_id: str, external_id: str) -> None:
        """A link made as the login's callback makes it, for a user set up beforehand."""

        async def insert() -> None:
            services = self.core.services
            now = services.clock.now()
            made = IdpLink(new_id(), user_id, idp_id, external_id, external_id, now, now)
            async with services.store.transaction() as tx:
                await tx.idp_links.insert(made)

        self.core.run(insert())

    def links(self, user_id: str) -> list[tuple[object, ...]]:
        """The user's links: (idp id, external id), the oldest first."""
        sql = "SELECT idp_id, external_id FROM user_idp_links WHERE user_id = ? ORDER BY created_at"
        return rows(self.settings.data_dir, sql, user_id)

    def events(self, event_type: str, user_id: str) -> int:
        sql = "SELECT count(*) FROM events WHERE event_type = ? AND aggregate_id = ?"
        [(count,)] = rows(self.settings.data_dir, sql, event_type, user_id)
        return int(str(count))


async def prepare(core: Core, upstream: Upstream) -> dict[str, str]:
    services, admin = core.services, core.admin
    first = IdpSettings(
        name="Upstream",
        type=IdpType.OIDC,
        client_id="zitui",
        client_secret=SECRET,
        issuer=upstream.issuer,
    )
    second = IdpSettings(
        name="Upstream B",
        type=IdpType.OIDC,
        client_id="zitui-b",
        client_secret=SECRET_B,
        issuer=upstream.issuer,
    )
    idp = await services.idps.add(admin, "", first)
    idp_b = await services.idps.add(admin, "", second)
    return {"idp_id": idp.id, "idp_b_id": idp_b.id}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    port = free_port()
    url = f"http://localhost:{port}"
    settings = make_settings(
        tmp_path_factory.mktemp("data"), listen=f"127.0.0.1:{port}", external_url=url
    )
    clients = [zitui_client("zitui", SECRET, url), zitui_client("zitui-b", SECRET_B, url)]
    with start_upstream(ACCOUNTS, clients) as upstream:
        core = Core(settings)
        made = core.run(prepare(core, upstream))
        try:
            with serving(settings):
                yield Live(settings.issuer, settings, core, upstream, **made)
        finally:
            core.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(10_000)
    return context


def heading(page: Page) -> str:
    return page.locator("h1").inner_text()


def press(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def sign_in_locally(page: Page, live: Live, username: str) -> None:
    page.goto(live.url + paths.LOGIN)
    page.locator("#login_name").fill(username)
    press(page, "Next")
    page.locator("#password").fill(PASSWORD)
    press(page, "Sign in")


def sign_in_through(page: Page, live: Live, provider: str, sub: str) -> None:
    """The login page's provider button, then the upstream's pages, back at zitui."""
    page.goto(live.url + paths.LOGIN)
    page.get_by_role("button", name=f"Continue with {provider}", exact=True).click()
    expect(page.locator('input[name="login"]')).to_be_visible()
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, sub)


def link_at_upstream(page: Page, live: Live, provider: str, sub: str) -> None:
    """On the Connections page: "Link <provider>", signed in at the upstream as `sub`."""
    page.get_by_role("button", name=f"Link {provider}", exact=True).click()
    expect(page.locator('input[name="login"]')).to_be_visible()
    assert page.url.startswith(live.upstream.issuer)
    with page.expect_navigation(url=f"{live.url}/**"):
        sign_in_upstream(page, sub)


def rows_of(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("li.account-row").all_inner_texts()]


def open_connections(page: Page, live: Live) -> None:
    page.goto(live.url + paths.ACCOUNT_CONNECTIONS)
    assert heading(page) == "Connections"


# --- linking from the profile ---------------------------------------------------------------


def test_link_two_providers_remove_one_and_sign_in_through_the_other(
    live: Live, browser: Browser
) -> None:
    lena = live.add_user("lena")
    context = new_context(browser)
    page = context.new_page()
    sign_in_locally(page, live, "lena")
    open_connections(page, live)
    assert page.locator("#no-connections").is_visible()

    link_at_upstream(page, live, "Upstream", "lena")
    assert page.url.startswith(live.url + paths.ACCOUNT_CONNECTIONS)
    assert page.locator("#notice").inner_text() == lookup("en", "account.done.idp_linked")
    [row] = rows_of(page)
    assert row.startswith("Upstream") and "as lena.up" in row and "linked 20" in row
    assert live.links(lena) == [(live.idp_id, "lena")]
    # Linked already: only the other provider is offered.
    expect(page.get_by_role("button", name="Link Upstream", exact=True)).to_have_count(0)

    link_at_upstream(page, live, "Upstream B", "lena-b")
    assert len(rows_of(page)) == 2
    assert live.links(lena) == [(live.idp_id, "lena"), (live.idp_b_id, "lena-b")]
    assert live.events("user.human.externalidp.added", lena) == 2
    assert page.locator("#none-linkable").is_visible()

    b_row = page.locator("li.account-row", has_text="Upstream B")
    with page.expect_navigation():
        b_row.get_by_role("button").click()
    assert page.locator("#notice").inner_text() == "The link was removed."
    [row] = rows_of(page)
    assert row.startswith("Upstream") and "Upstream B" not in row
    assert live.links(lena) == [(live.idp_id, "lena")]
    assert live.events("user.human.externalidp.removed", lena) == 1
    context.close()

    # A fresh browser: the remaining provider signs lena in, the removed one no longer does.
    context = new_context(browser)
    page = context.new_page()
    sign_in_through(page, live, "Upstream", "lena")
    open_connections(page, live)
    assert "lena" in page.locator("#account-who").inner_text()
    context.close()

    context = new_context(browser)
    page = context.new_page()
    sign_in_through(page, live, "Upstream B", "lena-b")
    assert heading(page) == "No account is linked yet"
    context.close()


def test_an_identity_linked_to_another_account_is_refused_with_its_reason(
    live: Live, browser: Browser
) -> None:
    omar = live.add_user("omar")
    other = live.add_user("omar-other")
    live.link(other, live.idp_id, "omar")
    context = new_context(browser)
    page = context.new_page()
    sign_in_locally(page, live, "omar")
    open_connections(page, live)
    link_at_upstream(page, live, "Upstream", "omar")
    reason = lookup("en", "idp.link_exists")
    assert reason and page.locator("#form-alert").inner_text() == reason
    assert live.links(omar) == []
    assert live.links(other) == [(live.idp_id, "omar")]
    # "Back" leads to the account's page, where nothing changed either.
    with page.expect_navigation():
        page.locator("#back").click()
    assert page.url == live.url + paths.ACCOUNT_CONNECTIONS
    assert page.locator("#no-connections").is_visible()
    context.close()


def test_a_user_without_a_password_keeps_the_last_link(live: Live, browser: Browser) -> None:
    """Nora registers through the upstream, so her account has no password: her one link
    is her only way in."""
    context = new_context(browser)
    page = context.new_page()
    sign_in_through(page, live, "Upstream", "nora")
    press(page, "Create a new account")
    page.locator("#terms").check()
    press(page, "Register")
    [(nora, password)] = rows(
        live.settings.data_dir, "SELECT id, password_hash FROM users WHERE username = 'nora.up'"
    )
    assert password is None
    open_connections(page, live)
    assert "nora.up" in page.locator("#account-who").inner_text()
    with page.expect_navigation():
        page.locator("li.account-row").get_by_role("button").click()
    reason = lookup("en", "idp.last_way_in")
    assert reason and page.locator("#form-alert").inner_text() == reason
    assert len(rows_of(page)) == 1
    assert live.links(str(nora)) == [(live.idp_id, "nora")]
    context.close()
