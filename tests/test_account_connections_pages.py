"""The connections page at /ui/console/users/me/connections, driven as a browser without
JavaScript drives it: the links listed and removed with their CSRF-checked forms, the refusals
shown with their reason, and a "Link" button that starts the login flow's round trip to the
provider (after the password again when the sign-in is old). The round trip itself runs in a
real browser against a real provider in tests/test_account_connections_browser.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, World
from tests.test_account_pages import (
    back_to,
    forms_to,
    one_form,
    open_browser,
    send,
    text_of,
    user_events,
)
from tests.test_login_pages import Form
from zitui.core.context import RequestMeta
from zitui.core.crypto import tokens
from zitui.core.idps import IdpSettings, callback_urls
from zitui.core.ids import new_id
from zitui.core.sessions import new_browser_cookie, start_external_session
from zitui.core.users import NewHumanUser
from zitui.i18n import lookup
from zitui.records import IdentityProvider, IdpLink, IdpType, User
from zitui.server import paths
from zitui.server.browser import cookie_name

clock, harness, world = fx.clock, fx.harness, fx.world

AUTHORIZE = "https://upstream.example/authorize"
UPSTREAM = IdpSettings(
    name="Upstream",
    type=IdpType.OAUTH,
    client_id="zitui",
    client_secret="upstream-secret",
    authorization_endpoint=AUTHORIZE,
    token_endpoint="https://upstream.example/token",
    userinfo_endpoint="https://upstream.example/userinfo",
    id_attribute="sub",
)


@pytest.fixture
async def upstream(harness: Harness, world: World) -> IdentityProvider:
    return await harness.services.idps.add(world.admin, "", UPSTREAM)


@pytest.fixture
async def second(harness: Harness, world: World) -> IdentityProvider:
    """A provider of alice's organisation, after the instance's in the list."""
    settings = replace(UPSTREAM, name="Upstream B", client_id="zitui-b")
    return await harness.services.idps.add(world.admin, world.org_id, settings)


@pytest.fixture
async def alice(harness: Harness, world: World) -> AsyncIterator[httpx2.AsyncClient]:
    async with await open_browser(harness, world.alice) as browser:
        yield browser


async def link(harness: Harness, user: User, idp: IdentityProvider, external_id: str) -> str:
    """A link as the login's callback leaves it; its id."""
    now = harness.services.clock.now()
    made = IdpLink(new_id(), user.id, idp.id, external_id, f"{external_id}@upstream", now, None)
    async with harness.services.store.transaction() as tx:
        await tx.idp_links.insert(made)
    return made.id


async def link_names(harness: Harness, user: User) -> list[str]:
    async with harness.services.store.reader() as tx:
        return [x.external_id for x in await tx.idp_links.list_for_user(user.id)]


async def externally_signed_in(
    harness: Harness, user: User, idp: IdentityProvider
) -> httpx2.AsyncClient:
    """A browser where `user` signed in through `idp` just now (as the login's callback
    leaves it), for a user who has no password."""
    cookie = new_browser_cookie()
    services = harness.services
    async with services.store.transaction() as tx:
        await start_external_session(
            tx, services.clock, tokens.digest(cookie), user, idp.id, RequestMeta(origin="login")
        )
    name = cookie_name(secure=harness.issuer.startswith("https://"))
    return httpx2.AsyncClient(
        transport=harness.transport,
        base_url=harness.issuer,
        cookies={name: cookie},
        headers={"accept": "text/html"},
    )


def link_button(page: httpx2.Response, idp: IdentityProvider) -> Form:
    [form] = [f for f in forms_to(page.text, paths.ACCOUNT_LINK_ADD) if f.values["idp"] == idp.id]
    return form


# --- the list ----------------------------------------------------------------------------------


async def test_without_links_the_page_says_so_and_offers_every_provider(
    alice: httpx2.AsyncClient, upstream: IdentityProvider, second: IdentityProvider
) -> None:
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    assert page.status_code == 200
    assert text_of(page, "no-connections") == "No identity provider is linked to your account."
    buttons = [text_of(page, f"link-idp-{i}") for i in (1, 2)]
    assert buttons == ["Link Upstream", "Link Upstream B"]
    assert not forms_to(page.text, paths.ACCOUNT_LINK_REMOVE)


async def test_links_show_provider_name_and_dates_and_leave_the_rest_to_link(
    alice: httpx2.AsyncClient,
    harness: Harness,
    world: World,
    upstream: IdentityProvider,
    second: IdentityProvider,
) -> None:
    await link(harness, world.alice, upstream, "alice-up")
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    row = text_of(page, "link-1")
    assert "Upstream" in row and "as alice-up@upstream" in row
    assert "linked 20" in row and "last used never" in row
    assert [f.values["idp"] for f in forms_to(page.text, paths.ACCOUNT_LINK_ADD)] == [second.id]
    assert text_of(page, "link-idp-1") == "Link Upstream B"


async def test_the_page_speaks_the_users_language(
    harness: Harness, world: World, upstream: IdentityProvider
) -> None:
    async with await open_browser(harness, world.alice) as browser:
        page = await browser.get(paths.ACCOUNT_CONNECTIONS, headers={"accept-language": "fr"})
    assert '<html lang="fr">' in page.text
    assert text_of(page, "link-idp-1") == "Lier Upstream"


async def test_without_any_provider_there_is_nothing_to_link(alice: httpx2.AsyncClient) -> None:
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    assert text_of(page, "none-linkable") == "There is no other identity provider to link."


# --- linking -----------------------------------------------------------------------------------


async def test_link_sends_the_browser_to_the_provider_for_this_account(
    alice: httpx2.AsyncClient, harness: Harness, world: World, upstream: IdentityProvider
) -> None:
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    response = await send(alice, link_button(page, upstream))
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(AUTHORIZE + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["client_id"] == "zitui"
    assert query["redirect_uri"] == callback_urls(harness.issuer)[0]
    assert query["state"] and query["code_challenge_method"] == "S256"
    # The flow that waits for the answer links to alice and ends back on this page.
    flow_id = query["state"].split(".")[0]
    async with harness.services.store.reader() as tx:
        flow = await tx.login_flows.find(flow_id)
    assert flow is not None and flow.user_id == world.alice.id
    assert flow.internal["link_to"] == world.alice.id
    assert flow.internal["return_to"] == f"{paths.ACCOUNT_CONNECTIONS}?done=idp_linked"


async def test_an_old_sign_in_proves_the_password_before_linking(
    alice: httpx2.AsyncClient, world: World, clock: fx.OffsetClock, upstream: IdentityProvider
) -> None:
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    clock.advance(timedelta(minutes=11))
    asked = await send(alice, link_button(page, upstream))
    assert asked.status_code == 200, asked.text
    proved = await send(alice, one_form(asked.text, paths.LOGIN_PASSWORD), password=fx.PASSWORD)
    assert proved.status_code == 303
    assert proved.headers["location"].startswith(paths.ACCOUNT_CONNECTIONS)
    again = await alice.get(proved.headers["location"])
    off = await send(alice, link_button(again, upstream))
    assert off.status_code == 303 and off.headers["location"].startswith(AUTHORIZE)


async def test_a_provider_the_user_may_not_link_is_refused_on_the_page(
    alice: httpx2.AsyncClient, harness: Harness, world: World, upstream: IdentityProvider
) -> None:
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    form = link_button(page, upstream)
    other = await harness.services.orgs.create_org(world.admin, "Other")
    theirs = await harness.services.idps.add(world.admin, other.id, replace(UPSTREAM, name="B"))
    reason = lookup("en", "idp.not_available")
    for idp_id in (theirs.id, "no-such-provider", ""):
        refused = await alice.post(form.action, data=form.values | {"idp": idp_id})
        assert refused.status_code == 404
        assert reason and text_of(refused, "form-alert") == reason
    # Linked already: the button went, and a form sent again is refused too.
    await link(harness, world.alice, upstream, "alice-up")
    refused = await send(alice, form)
    assert refused.status_code == 404 and text_of(refused, "form-alert") == reason


# --- removing ----------------------------------------------------------------------------------


async def test_remove_a_link_with_its_notice_and_event(
    alice: httpx2.AsyncClient, harness: Harness, world: World, upstream: IdentityProvider
) -> None:
    await link(harness, world.alice, upstream, "alice-up")
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    removed = await back_to(
        alice, await send(alice, one_form(page.text, paths.ACCOUNT_LINK_REMOVE))
    )
    assert text_of(removed, "notice") == "The link was removed."
    assert text_of(removed, "no-connections")
    assert text_of(removed, "link-idp-1") == "Link Upstream"
    [event] = await user_events(harness, "user.human.externalidp.removed", world.alice.id)
    assert event.actor_id == world.alice.id and event.payload["external_id"] == "alice-up"


async def test_another_users_link_is_not_removed(
    alice: httpx2.AsyncClient, harness: Harness, world: World, upstream: IdentityProvider
) -> None:
    await link(harness, world.alice, upstream, "alice-up")
    bobs = await link(harness, world.bob, upstream, "bob-up")
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    form = one_form(page.text, paths.ACCOUNT_LINK_REMOVE)
    refused = await alice.post(form.action, data=form.values | {"link": bobs})
    assert refused.status_code == 404
    assert text_of(refused, "form-alert") == lookup("en", "idp.link_not_found")
    assert await link_names(harness, world.bob) == ["bob-up"]


async def test_a_form_without_its_csrf_token_removes_nothing(
    alice: httpx2.AsyncClient, harness: Harness, world: World, upstream: IdentityProvider
) -> None:
    await link(harness, world.alice, upstream, "alice-up")
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    values = one_form(page.text, paths.ACCOUNT_LINK_REMOVE).values
    del values["csrf_token"]
    assert (await alice.post(paths.ACCOUNT_LINK_REMOVE, data=values)).status_code == 403
    assert await link_names(harness, world.alice) == ["alice-up"]


async def test_an_old_sign_in_proves_the_password_before_removing(
    alice: httpx2.AsyncClient,
    harness: Harness,
    world: World,
    clock: fx.OffsetClock,
    upstream: IdentityProvider,
) -> None:
    await link(harness, world.alice, upstream, "alice-up")
    page = await alice.get(paths.ACCOUNT_CONNECTIONS)
    clock.advance(timedelta(minutes=11))
    asked = await send(alice, one_form(page.text, paths.ACCOUNT_LINK_REMOVE))
    assert asked.status_code == 200 and forms_to(asked.text, paths.LOGIN_PASSWORD)
    assert await link_names(harness, world.alice) == ["alice-up"]


async def test_the_last_way_to_sign_in_stays_with_the_reason(
    harness: Harness, world: World, upstream: IdentityProvider, second: IdentityProvider
) -> None:
    """A user without a password, signed in through a provider: one of two links goes, the
    last one stays."""
    new = NewHumanUser(username="dora", first_name="Dora", last_name="Upstream")
    dora = await harness.services.users.create_human_user(world.admin, world.org_id, new)
    await link(harness, dora, upstream, "dora-up")
    await link(harness, dora, second, "dora-b")
    async with await externally_signed_in(harness, dora, upstream) as browser:
        page = await browser.get(paths.ACCOUNT_CONNECTIONS)
        assert dora.login_name in text_of(page, "account-who")
        remove_b = forms_to(page.text, paths.ACCOUNT_LINK_REMOVE)[1]
        removed = await back_to(browser, await send(browser, remove_b))
        assert text_of(removed, "notice") == "The link was removed."
        refused = await send(browser, one_form(removed.text, paths.ACCOUNT_LINK_REMOVE))
    assert refused.status_code == 412
    reason = lookup("en", "idp.last_way_in")
    assert reason and text_of(refused, "form-alert") == reason
    assert "dora-up@upstream" in text_of(refused, "link-1")
    assert await link_names(harness, dora) == ["dora-up"]
