"""The external-IdP login steps as a browser without JavaScript drives them: the hosted forms
of zitui and the upstream OpenID provider's own pages (npm `oidc-provider`, tests/upstream),
walked with plain HTTP clients that keep their cookies. What the browser journeys
(tests/test_login_external_browser.py) leave out: every route with missing or foreign input,
the provider's options (auto-creation, auto-linking, auto-update, neither creation nor
linking), the login policy's `force_mfa`, `force_mfa_local_only` and
`external_login_check_lifetime`, a locked or deactivated linked user, and the ID token the
application receives after an external sign-in.

zitui runs in the test's event loop (tests/oidc_fixtures.py), one fresh store per test; the
upstream runs once for the module, and each test signs in there as subjects of its own.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx2
import pytest

from tests import oidc_fixtures as fx
from tests.conftest import make_settings
from tests.oidc_fixtures import Harness, World
from tests.test_login_mfa_pages import exchange
from tests.test_oidc_login_pages import form
from tests.upstream_fixtures import Upstream, upstream, zitui_client
from zitui.core.idps import IdpSettings
from zitui.core.users import NewHumanUser
from zitui.records import AutoLinking, IdpOptions, IdpType, User
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world
upstream = upstream  # the module's provider, from the two fixtures below

# The in-process zitui's issuer (tests/conftest.py's settings): the upstream sends answers here.
ZITUI = make_settings(Path("unused")).issuer
SECRET = "upstream-client-secret-for-the-pages"
STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how the SQLite store writes a UTC timestamp
ALERT = re.compile(r'<div class="alert"[^>]*>(.*?)</div>', re.DOTALL)
HEADING = re.compile(r"<h1[^>]*>(.*?)</h1>", re.DOTALL)


def person(sub: str, **claims: Any) -> dict[str, Any]:
    first = sub.split("-")[0]
    return {
        "email": f"{first}@upstream.example",
        "email_verified": True,
        "given_name": first.title(),
        "family_name": "Upstream",
        "name": f"{first.title()} Upstream",
        "preferred_username": f"{first}.up",
        **claims,
    }


# Each test signs in as its own subjects.
ACCOUNTS: dict[str, dict[str, Any]] = {
    sub: person(sub)
    for sub in (
        "ada-upstream",
        "ben-upstream",
        "cleo-upstream",
        "dan-upstream",
        "eve-upstream",
        "fay-upstream",
        "gus-upstream",
        "ida-upstream",
        "jon-upstream",
        "kim-upstream",
        "lou-upstream",
        "max-upstream",
        "ned-upstream",
        "ola-upstream",
        "pia-upstream",
        "quin-upstream",
        "rex-upstream",
        "sam-upstream",
        "tia-upstream",
        "uma-upstream",
    )
}
# A username that is alice's at zitui (auto-creation falls back, auto-linking by username).
ACCOUNTS["alice-upstream"] = person("alice-upstream", preferred_username="alice")
ACCOUNTS["bob-upstream"] = person("bob-upstream", preferred_username="bob")
# alice's address at zitui, but the upstream does not vouch for it.
ACCOUNTS["mallory-upstream"] = person(
    "mallory-upstream", email="alice@example.com", email_verified=False
)


@pytest.fixture(scope="module")
def upstream_accounts() -> dict[str, dict[str, Any]]:
    return {sub: dict(claims) for sub, claims in ACCOUNTS.items()}


@pytest.fixture(scope="module")
def upstream_clients() -> list[dict[str, Any]]:
    return [zitui_client("zitui", SECRET, ZITUI)]


@pytest.fixture
async def browser(harness: Harness) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser at zitui: it keeps its cookies and follows nothing by itself."""
    assert harness.issuer == ZITUI
    async with httpx2.AsyncClient(transport=harness.transport, base_url=ZITUI) as client:
        yield client


# --- zitui's pages ------------------------------------------------------------------------------


async def follow(browser: httpx2.AsyncClient, response: httpx2.Response) -> httpx2.Response:
    """Follow redirects inside zitui; stop at one that leaves it (the upstream, the app)."""
    while response.status_code in (302, 303):
        location = urljoin(str(response.url), response.headers["location"])
        if not location.startswith(ZITUI + "/"):
            return response
        response = await browser.get(location)
    return response


def heading(page: httpx2.Response) -> str:
    [text] = HEADING.findall(page.text)
    return html.unescape(text).strip()


def alert(page: httpx2.Response) -> str:
    found = ALERT.findall(page.text)
    return html.unescape(re.sub(r"<[^>]+>", "", found[0])).strip() if found else ""


def field_error(page: httpx2.Response, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error">(.*?)</p>', page.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def buttons(page: httpx2.Response) -> list[str]:
    """The provider buttons of a login-name page: the ids of their providers."""
    return re.findall(r'<input type="hidden" name="idp" value="([^"]+)">', page.text)


def is_login_name_page(page: httpx2.Response) -> bool:
    return f'action="{paths.LOGIN_NAME}"' in page.text


async def start(
    browser: httpx2.AsyncClient, world: World, *, scope: str = "", **params: str
) -> httpx2.Response:
    """An application's authorization request: the first page zitui shows."""
    request = fx.authorize_params(world.clients["basic"])
    if scope:
        request["scope"] += f" {scope}"
    request.update(params)
    page = await follow(browser, await browser.get(paths.AUTHORIZE, params=request))
    assert page.status_code == 200, page.text
    return page


async def press_provider(
    browser: httpx2.AsyncClient, page: httpx2.Response, idp_id: str
) -> httpx2.Response:
    """A provider's button on the login-name page: its form's hidden fields (the flow and
    the CSRF token, taken from the login-name form where the page shows no button)."""
    action = paths.LOGIN_EXTERNAL if buttons(page) else paths.LOGIN_NAME
    hidden = {k: v for k, v in form(page.text, action).items() if k in ("flow", "csrf_token")}
    fields = {**hidden, "idp": idp_id}
    return await browser.post(paths.LOGIN_EXTERNAL, data=fields)


def org_scope(org_id: str) -> str:
    return f"urn:zitadel:iam:org:id:{org_id}"


# --- the upstream's pages -----------------------------------------------------------------------

UPSTREAM_FORM = re.compile(r'<form method="post" action="(/interaction/[\w-]+/(\w+))">')


async def at_upstream(url: str, sub: str, *, deny: bool = False) -> str:
    """At the upstream's authorization URL: sign in as `sub` and consent (or, with `deny`,
    cancel), as a browser without JavaScript; the URL its answer sends the browser to."""
    async with httpx2.AsyncClient(timeout=15) as upstream_browser:
        response = await upstream_browser.get(url)
        for _ in range(12):
            if response.status_code in (302, 303):
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(ZITUI + "/"):
                    return location
                response = await upstream_browser.get(location)
                continue
            assert response.status_code == 200, response.text
            actions = {kind: action for action, kind in UPSTREAM_FORM.findall(response.text)}
            # The sign-in page, then the consent page; "Cancel" (abort) is on both.
            kind = "abort" if deny else "login" if "login" in actions else "consent"
            target = urljoin(str(response.url), actions[kind])
            data = {"login": sub} if kind == "login" else {}
            response = await upstream_browser.post(target, data=data)
        raise AssertionError("the upstream never answered zitui")


async def through_upstream(
    browser: httpx2.AsyncClient,
    page: httpx2.Response,
    idp_id: str,
    sub: str,
    *,
    deny: bool = False,
) -> httpx2.Response:
    """Press the provider's button, sign in there as `sub`: zitui's answer to the callback,
    redirects inside zitui followed."""
    away = await press_provider(browser, page, idp_id)
    assert away.status_code == 303, away.text
    answer = await at_upstream(away.headers["location"], sub, deny=deny)
    return await follow(browser, await browser.get(answer))


def at_application(response: httpx2.Response) -> bool:
    location = response.headers.get("location", "")
    return response.status_code in (302, 303) and location.startswith(fx.WEB_CALLBACK)


# --- the world's providers and users ------------------------------------------------------------


async def add_provider(
    harness: Harness,
    world: World,
    upstream: Upstream,
    org_id: str = "",
    *,
    name: str = "Upstream",
    **options: Any,
) -> str:
    """A provider for the upstream (the instance's, or `org_id`'s) with these options."""
    settings = IdpSettings(
        name=name,
        type=IdpType.OIDC,
        client_id="zitui",
        client_secret=SECRET,
        issuer=upstream.issuer,
        options=IdpOptions(**options),
    )
    return (await harness.services.idps.add(world.admin, org_id, settings)).id


async def add_user(harness: Harness, world: World, username: str) -> User:
    new = NewHumanUser(
        username=username,
        first_name=username.title(),
        last_name="Local",
        email=f"{username}@example.com",
        email_verified=True,
        password=fx.PASSWORD,
    )
    return await harness.services.users.create_human_user(world.admin, world.org_id, new)


async def login_policy(harness: Harness, world: World, **changes: Any) -> None:
    """The world's organisation's login policy, with these changes."""
    await harness.services.policies.set(world.admin, "login", changes, world.org_id)


def rows(harness: Harness, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(harness.services.settings.data_dir / "zitui.db") as conn:
        found = conn.execute(sql, params).fetchall()
    conn.close()
    return found


def linked_user(harness: Harness, sub: str) -> str | None:
    found = rows(harness, "SELECT user_id FROM user_idp_links WHERE external_id = ?", sub)
    return str(found[0][0]) if found else None


def sessions_of(harness: Harness, user_id: str) -> list[tuple[Any, ...]]:
    """The user's sessions: (id, password check, external check)."""
    sql = (
        "SELECT id, password_checked_at, external_checked_at FROM sessions WHERE user_id = ?"
        " ORDER BY created_at"
    )
    return rows(harness, sql, user_id)


def stored_time(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


async def link(
    harness: Harness, world: World, browser: httpx2.AsyncClient, idp_id: str, sub: str, user: User
) -> None:
    """Link `sub` to `user` the way a user does: "link an existing account", then the
    user's password; the application gets its code."""
    page = await through_upstream(browser, await start(browser, world), idp_id, sub)
    assert heading(page) == "No account is linked yet", page.text
    page = await browser.post(
        paths.LOGIN_EXTERNAL_OPTION,
        data={**form(page.text, paths.LOGIN_EXTERNAL_OPTION), "choice": "link"},
    )
    name_form = form(page.text, paths.LOGIN_NAME)
    page = await browser.post(paths.LOGIN_NAME, data={**name_form, "login_name": user.username})
    password_form = form(page.text, paths.LOGIN_PASSWORD)
    back = await follow(
        browser,
        await browser.post(paths.LOGIN_PASSWORD, data={**password_form, "password": fx.PASSWORD}),
    )
    assert at_application(back), back.text
    assert linked_user(harness, sub) == user.id


async def not_found_page(
    browser: httpx2.AsyncClient, world: World, idp_id: str, sub: str
) -> httpx2.Response:
    page = await through_upstream(browser, await start(browser, world), idp_id, sub)
    assert heading(page) == "No account is linked yet", page.text
    return page


async def register_page(
    browser: httpx2.AsyncClient, world: World, idp_id: str, sub: str
) -> httpx2.Response:
    """The unknown identity's page, then "create a new account": the pre-filled form."""
    page = await not_found_page(browser, world, idp_id, sub)
    fields = {**form(page.text, paths.LOGIN_EXTERNAL_OPTION), "choice": "create"}
    page = await browser.post(paths.LOGIN_EXTERNAL_OPTION, data=fields)
    assert page.status_code == 200, page.text
    assert f'action="{paths.LOGIN_EXTERNAL_REGISTER}"' in page.text
    return page


async def send_registration(
    browser: httpx2.AsyncClient, page: httpx2.Response, **changes: str
) -> httpx2.Response:
    """The pre-filled form as the page holds it, the terms accepted, with `changes`."""
    fields = dict(form(page.text, paths.LOGIN_EXTERNAL_REGISTER))
    fields.pop("terms", None)
    values = {"terms": "on", "language": "en", **fields, **changes}
    if not values["terms"]:
        del values["terms"]
    return await follow(browser, await browser.post(paths.LOGIN_EXTERNAL_REGISTER, data=values))


# --- every route, with missing or foreign input -------------------------------------------------


@pytest.mark.parametrize(
    "action", [paths.LOGIN_EXTERNAL, paths.LOGIN_EXTERNAL_OPTION, paths.LOGIN_EXTERNAL_REGISTER]
)
async def test_every_external_form_needs_its_csrf_token(
    harness: Harness,
    world: World,
    upstream: Upstream,
    browser: httpx2.AsyncClient,
    action: str,
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    page = await start(browser, world)
    flow_id = form(page.text, paths.LOGIN_NAME)["flow"]
    data = {"flow": flow_id, "idp": idp_id, "choice": "create", "given_name": "Zed"}
    for token in ("", "forged-token"):
        refused = await browser.post(action, data={**data, "csrf_token": token})
        assert refused.status_code == 403, refused.text
        assert heading(refused) == "Not allowed" and "location" not in refused.headers
        assert "Reload the page and try again." in refused.text
    # The POST-only routes answer a GET with 405, not a page that changes anything.
    for path in (paths.LOGIN_EXTERNAL, paths.LOGIN_EXTERNAL_OPTION):
        assert (await browser.get(path, params={"flow": flow_id})).status_code == 405
    assert (await browser.get(paths.LOGIN_EXTERNAL_CALLBACK_FORM)).status_code == 405


async def test_an_unknown_provider_is_not_available(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    page = await start(browser, world)
    for garbage in ("no-such-provider", "", "x" * 5000, "\u0000\ud7ff"):
        refused = await press_provider(browser, page, garbage)
        assert refused.status_code == 404, refused.text
        assert is_login_name_page(refused) and "location" not in refused.headers
        assert "not available" in alert(refused)
        # The page is the flow's own again: its buttons still work.
        assert buttons(refused) == [idp_id]
        page = refused
    assert (await press_provider(browser, page, idp_id)).status_code == 303


async def test_another_organisations_provider_is_not_offered(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    other = await harness.services.orgs.create_org(world.admin, "Other")
    theirs = await add_provider(harness, world, upstream, other.id, name="Theirs")
    ours = await add_provider(harness, world, upstream, world.org_id, name="Ours")
    # Without an organisation in scope: the instance's providers only (none here).
    page = await start(browser, world)
    assert buttons(page) == []
    refused = await press_provider(browser, page, theirs)
    assert refused.status_code == 404 and "not available" in alert(refused)
    # Scoped to the world's organisation: its own provider, never the other's.
    page = await start(browser, world, scope=org_scope(world.org_id))
    assert buttons(page) == [ours]
    refused = await press_provider(browser, page, theirs)
    assert refused.status_code == 404 and "not available" in alert(refused)
    assert 'name="idp"' in refused.text and theirs not in refused.text


async def test_a_policy_without_external_providers_shows_and_takes_none(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    await login_policy(harness, world, allow_external_idp=False)
    page = await start(browser, world, scope=org_scope(world.org_id))
    assert buttons(page) == [] and 'id="providers"' not in page.text
    # The form sent anyway.
    refused = await press_provider(browser, page, idp_id)
    assert refused.status_code == 404 and "not available" in alert(refused)
    assert "location" not in refused.headers
    # The request's idp scope does not get past the policy either.
    request = fx.authorize_params(world.clients["basic"])
    request["scope"] += f" {org_scope(world.org_id)} urn:zitadel:iam:org:idp:id:{idp_id}"
    page = await follow(browser, await browser.get(paths.AUTHORIZE, params=request))
    assert page.status_code == 404 and "not available" in alert(page)
    assert is_login_name_page(page) and buttons(page) == []


async def test_a_callback_without_a_state_or_with_another_browsers_is_a_page(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    for query in ("", "?code=abc", "?state=", "?state=" + "." * 300, "?state=%00%ff&error=x"):
        page = await browser.get(paths.LOGIN_EXTERNAL_CALLBACK + query)
        assert page.status_code in (400, 404), (query, page.text)
        assert "<h1>" in page.text and "location" not in page.headers
    # Another browser's round trip: its answer is nothing to this browser ...
    away = await press_provider(browser, await start(browser, world), idp_id)
    answer = await at_upstream(away.headers["location"], "ada-upstream")
    async with httpx2.AsyncClient(transport=harness.transport, base_url=ZITUI) as intruder:
        await start(intruder, world)
        stolen = await intruder.get(answer)
        assert stolen.status_code == 404, stolen.text
    assert rows(harness, "SELECT count(*) FROM sessions") == [(0,)]
    # ... and spends nothing of it: the browser that went finishes its sign-in.
    page = await follow(browser, await browser.get(answer))
    assert heading(page) == "No account is linked yet"


async def test_a_provider_error_other_than_access_denied_returns_with_the_reason(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    away = await press_provider(browser, await start(browser, world), idp_id)
    state = dict(httpx2.URL(away.headers["location"]).params)["state"]
    query = urlencode({"state": state, "error": "server_error<script>", "error_description": "x"})
    page = await browser.get(f"{paths.LOGIN_EXTERNAL_CALLBACK}?{query}")
    assert 400 <= page.status_code < 500, page.text
    assert is_login_name_page(page) and buttons(page) == [idp_id]
    assert alert(page) == "The identity provider could not sign you in."
    assert "<script>" not in page.text
    assert rows(harness, "SELECT count(*) FROM sessions") == [(0,)]
    # The state is spent: the same answer again belongs to no sign-in.
    again = await browser.get(f"{paths.LOGIN_EXTERNAL_CALLBACK}?{query}")
    assert again.status_code == 400 and heading(again) == "This sign-in cannot continue"


async def test_the_form_post_callback_goes_on_to_the_get_callback(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    away = await press_provider(browser, await start(browser, world), idp_id)
    answer = await at_upstream(away.headers["location"], "ben-upstream")
    fields = dict(httpx2.URL(answer).params)
    assert {"code", "state"} <= fields.keys()
    # As the provider posts it (no cookie: a cross-site POST carries no Lax cookie).
    async with httpx2.AsyncClient(transport=harness.transport, base_url=ZITUI) as provider:
        posted = await provider.post(
            paths.LOGIN_EXTERNAL_CALLBACK_FORM, data={**fields, "other": "ignored"}
        )
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert location.startswith(paths.LOGIN_EXTERNAL_CALLBACK + "?")
    assert dict(httpx2.URL(location).params) == fields
    page = await follow(browser, await browser.get(location))
    assert heading(page) == "No account is linked yet"


@pytest.mark.parametrize(
    "body",
    [b"", b"state", b"&&&===", b"state=" + b"s" * 3_000_000, b"code=" + b"%ff" * 100_000],
    ids=["empty", "bare-name", "separators", "huge-state", "huge-code"],
)
async def test_the_form_post_callback_with_odd_bodies(
    harness: Harness, browser: httpx2.AsyncClient, body: bytes
) -> None:
    posted = await browser.post(
        paths.LOGIN_EXTERNAL_CALLBACK_FORM,
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert 300 <= posted.status_code < 500, posted.text[:200]
    if posted.status_code == 303:
        location = posted.headers["location"]
        assert location.startswith(paths.LOGIN_EXTERNAL_CALLBACK)
        assert len(location) < 64_000  # cut, as the GET callback cuts its fields
        page = await browser.get(location)
        assert page.status_code in (400, 404) and "<h1>" in page.text


async def test_the_option_page_takes_only_what_the_provider_allows(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream, creation_allowed=False)
    page = await not_found_page(browser, world, idp_id, "cleo-upstream")
    assert 'id="create"' not in page.text and 'id="link"' in page.text
    hidden = form(page.text, paths.LOGIN_EXTERNAL_OPTION)
    for choice in ("create", "delete", "", "x" * 3000):
        refused = await browser.post(paths.LOGIN_EXTERNAL_OPTION, data={**hidden, "choice": choice})
        assert refused.status_code == 400, (choice, refused.text)
        assert heading(refused) == "No account is linked yet"
        assert alert(refused).startswith("This choice is not offered")
        assert f'action="{paths.LOGIN_EXTERNAL_REGISTER}"' not in refused.text
    assert rows(harness, "SELECT count(*) FROM users WHERE username = 'cleo.up'") == [(0,)]
    # Without its CSRF token: refused before anything.
    no_token = {k: v for k, v in hidden.items() if k != "csrf_token"}
    refused = await browser.post(paths.LOGIN_EXTERNAL_OPTION, data={**no_token, "choice": "link"})
    assert refused.status_code == 403
    # The allowed choice still works.
    page = await browser.post(paths.LOGIN_EXTERNAL_OPTION, data={**hidden, "choice": "link"})
    assert page.status_code == 200 and 'id="linking"' in page.text


async def test_the_option_and_register_forms_out_of_step(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    await add_provider(harness, world, upstream)
    page = await start(browser, world)
    hidden = form(page.text, paths.LOGIN_NAME)
    flow_only = {k: v for k, v in hidden.items() if k in ("flow", "csrf_token")}
    # No external identity in this flow: the flow's own page, nothing created.
    option = await browser.post(paths.LOGIN_EXTERNAL_OPTION, data={**flow_only, "choice": "create"})
    assert option.status_code == 200 and is_login_name_page(option)
    register = await browser.post(
        paths.LOGIN_EXTERNAL_REGISTER,
        data={**flow_only, "given_name": "Zed", "family_name": "Z", "username": "zed"},
    )
    assert register.status_code == 200 and is_login_name_page(register)
    assert rows(harness, "SELECT count(*) FROM users WHERE username = 'zed'") == [(0,)]
    # No flow at all.
    for path in (paths.LOGIN_EXTERNAL_OPTION, paths.LOGIN_EXTERNAL_REGISTER):
        lost = await browser.post(path, data={"flow": "nothing", "choice": "create"})
        assert 400 <= lost.status_code < 500 and "<h1>" in lost.text
    shown = await browser.get(paths.LOGIN_EXTERNAL_REGISTER, params={"flow": "nothing"})
    assert shown.status_code == 404 and "<h1>" in shown.text


async def test_the_registration_form_refuses_field_by_field_and_keeps_the_values(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    page = await register_page(browser, world, idp_id, "dan-upstream")
    assert 'value="dan.up"' in page.text and 'value="dan@upstream.example"' in page.text

    taken = await send_registration(browser, page, username="alice", given_name="Daniel")
    assert taken.status_code == 409, taken.text
    assert field_error(taken, "username") != ""
    assert 'value="alice"' in taken.text and 'value="Daniel"' in taken.text

    in_use = await send_registration(browser, taken, username="dan.up", email="bob@example.com")
    assert in_use.status_code == 409 and field_error(in_use, "email") != ""
    assert 'value="bob@example.com"' in in_use.text

    nameless = await send_registration(
        browser, in_use, email="dan@upstream.example", given_name="", family_name=""
    )
    assert nameless.status_code == 400 and field_error(nameless, "given_name") != ""

    no_terms = await send_registration(
        browser, nameless, given_name="Dan", family_name="Up", terms=""
    )
    assert no_terms.status_code == 400 and field_error(no_terms, "terms") != ""
    assert 'value="Dan"' in no_terms.text
    assert rows(harness, "SELECT count(*) FROM users WHERE username = 'dan.up'") == [(0,)]
    assert linked_user(harness, "dan-upstream") is None

    done = await send_registration(browser, no_terms)
    assert at_application(done), done.text
    [(user_id, first)] = rows(harness, "SELECT id, first_name FROM users WHERE username = 'dan.up'")
    assert first == "Dan" and linked_user(harness, "dan-upstream") == user_id


# --- the provider's options ---------------------------------------------------------------------


async def test_auto_creation_creates_the_account_without_the_form(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream, auto_creation=True)
    back = await through_upstream(browser, await start(browser, world), idp_id, "eve-upstream")
    assert at_application(back), back.text
    claims = await exchange(harness, world, back)
    [(user_id, state, verified)] = rows(
        harness, "SELECT id, state, email_verified FROM users WHERE username = 'eve.up'"
    )
    assert claims["sub"] == user_id == linked_user(harness, "eve-upstream")
    assert (state, verified) == ("active", 1)


async def test_auto_creation_falls_back_to_the_form_with_the_reason(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream, auto_creation=True)
    # The upstream's username is alice's here.
    page = await through_upstream(browser, await start(browser, world), idp_id, "alice-upstream")
    assert page.status_code == 409, page.text
    assert f'action="{paths.LOGIN_EXTERNAL_REGISTER}"' in page.text
    assert field_error(page, "username") != "" and 'value="alice"' in page.text
    assert 'value="Alice"' in page.text and 'value="alice@upstream.example"' in page.text
    assert linked_user(harness, "alice-upstream") is None
    back = await send_registration(browser, page, username="alice.up")
    assert at_application(back), back.text
    assert linked_user(harness, "alice-upstream") not in (None, world.alice.id)


async def test_a_provider_without_creation_or_linking_ends_on_not_allowed(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(
        harness, world, upstream, creation_allowed=False, linking_allowed=False
    )
    page = await through_upstream(browser, await start(browser, world), idp_id, "fay-upstream")
    assert page.status_code == 403, page.text
    assert "No account is linked to this identity" in page.text
    assert f'action="{paths.LOGIN_EXTERNAL_OPTION}"' not in page.text
    assert rows(harness, "SELECT count(*) FROM users WHERE username = 'fay.up'") == [(0,)]
    assert linked_user(harness, "fay-upstream") is None


async def test_auto_linking_by_username_offers_that_account(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream, auto_linking=AutoLinking.USERNAME)
    page = await through_upstream(browser, await start(browser, world), idp_id, "bob-upstream")
    assert f'action="{paths.LOGIN_PASSWORD}"' in page.text, page.text
    assert 'id="linking"' in page.text
    password_form = form(page.text, paths.LOGIN_PASSWORD)
    back = await follow(
        browser,
        await browser.post(paths.LOGIN_PASSWORD, data={**password_form, "password": fx.PASSWORD}),
    )
    assert at_application(back), back.text
    assert (await exchange(harness, world, back))["sub"] == world.bob.id
    assert linked_user(harness, "bob-upstream") == world.bob.id


async def test_an_unverified_upstream_email_does_not_auto_link(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream, auto_linking=AutoLinking.EMAIL)
    # alice@example.com is alice's verified address here; the upstream does not vouch for it.
    page = await through_upstream(browser, await start(browser, world), idp_id, "mallory-upstream")
    assert heading(page) == "No account is linked yet", page.text
    assert f'action="{paths.LOGIN_PASSWORD}"' not in page.text and "alice" not in page.text
    assert linked_user(harness, "mallory-upstream") is None


async def test_without_auto_update_the_profile_stays_as_it_is(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream, auto_creation=True)
    first = await through_upstream(browser, await start(browser, world), idp_id, "gus-upstream")
    assert at_application(first), first.text
    user_id = linked_user(harness, "gus-upstream")
    changed = person("gus-upstream", given_name="Gustav", email="gustav@upstream.example")
    upstream.set_account("gus-upstream", changed)
    try:
        async with httpx2.AsyncClient(transport=harness.transport, base_url=ZITUI) as other:
            again = await through_upstream(other, await start(other, world), idp_id, "gus-upstream")
            assert at_application(again), again.text
            assert (await exchange(harness, world, again))["sub"] == user_id
    finally:
        upstream.set_account("gus-upstream", ACCOUNTS["gus-upstream"])
    found = rows(harness, "SELECT first_name, email FROM users WHERE id = ?", user_id)
    assert found == [("Gus", "gus@upstream.example")]
    events = rows(
        harness,
        "SELECT count(*) FROM events WHERE aggregate_id = ? AND event_type IN"
        " ('user.human.profile.changed', 'user.human.email.changed')",
        user_id,
    )
    assert events == [(0,)]


# --- the login policy -------------------------------------------------------------------------


def asks_to_set_up_mfa(page: httpx2.Response) -> bool:
    return f'action="{paths.LOGIN_MFA_PROMPT}"' in page.text


async def password_sign_in(
    browser: httpx2.AsyncClient, world: World, user: User, *, scope: str = ""
) -> httpx2.Response:
    page = await start(browser, world, scope=scope)
    page = await browser.post(
        paths.LOGIN_NAME, data={**form(page.text, paths.LOGIN_NAME), "login_name": user.username}
    )
    password_form = form(page.text, paths.LOGIN_PASSWORD)
    response = await browser.post(
        paths.LOGIN_PASSWORD, data={**password_form, "password": fx.PASSWORD}
    )
    return await follow(browser, response)


def new_browser(harness: Harness) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=harness.transport, base_url=ZITUI)


async def test_force_mfa_local_only_asks_the_password_sign_in_only(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    ida = await add_user(harness, world, "ida")
    await link(harness, world, browser, idp_id, "ida-upstream", ida)
    await login_policy(harness, world, force_mfa_local_only=True)
    scope = org_scope(world.org_id)
    async with new_browser(harness) as federated:
        page = await start(federated, world, scope=scope)
        back = await through_upstream(federated, page, idp_id, "ida-upstream")
        assert at_application(back), back.text
        assert (await exchange(harness, world, back))["sub"] == ida.id
    async with new_browser(harness) as local:
        page = await password_sign_in(local, world, ida, scope=scope)
        assert asks_to_set_up_mfa(page), page.text
        assert 'name="skip"' not in page.text  # forced: no way around it


async def test_force_mfa_asks_every_sign_in(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    jon = await add_user(harness, world, "jon")
    await link(harness, world, browser, idp_id, "jon-upstream", jon)
    await login_policy(harness, world, force_mfa=True)
    scope = org_scope(world.org_id)
    async with new_browser(harness) as federated:
        page = await start(federated, world, scope=scope)
        page = await through_upstream(federated, page, idp_id, "jon-upstream")
        assert asks_to_set_up_mfa(page), page.text
        assert 'name="skip"' not in page.text
        # prompt=none does not skip it either.
        silent = fx.authorize_params(world.clients["basic"])
        silent.update(prompt="none", scope=f"{silent['scope']} {scope}")
        refused = await federated.get(paths.AUTHORIZE, params=silent)
        assert refused.status_code in (302, 303)
        assert "code" not in fx.query_of(refused.headers["location"])
    async with new_browser(harness) as local:
        page = await password_sign_in(local, world, jon, scope=scope)
        assert asks_to_set_up_mfa(page), page.text


def age_external_check(harness: Harness, session_id: str, by: timedelta) -> None:
    """Move the session's external check `by` into the past, as if made that long ago."""
    sql = "SELECT external_checked_at FROM sessions WHERE id = ?"
    [(checked,)] = rows(harness, sql, session_id)
    aged = stored_time(checked) - by
    with sqlite3.connect(harness.services.settings.data_dir / "zitui.db") as conn:
        conn.execute(
            "UPDATE sessions SET external_checked_at = ? WHERE id = ?",
            (aged.strftime(STORED_TIME), session_id),
        )
    conn.close()


async def silent_request(browser: httpx2.AsyncClient, world: World, scope: str) -> dict[str, str]:
    """A prompt=none request: the parameters of the application's answer."""
    params = fx.authorize_params(world.clients["basic"])
    params.update(prompt="none", scope=f"{params['scope']} {scope}")
    answer = await browser.get(paths.AUTHORIZE, params=params)
    assert answer.status_code in (302, 303), answer.text
    assert answer.headers["location"].startswith(fx.WEB_CALLBACK)
    return fx.query_of(answer.headers["location"])


async def test_the_external_check_is_reused_within_its_lifetime_only(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream, auto_creation=True)
    await login_policy(harness, world, external_login_check_lifetime_s=3600)
    scope = org_scope(world.org_id)
    page = await start(browser, world, scope=scope)
    back = await through_upstream(browser, page, idp_id, "kim-upstream")
    assert at_application(back), back.text
    user_id = linked_user(harness, "kim-upstream")
    assert user_id is not None
    # Within the lifetime: prompt=none answers at once, the account list signs in.
    assert "code" in await silent_request(browser, world, scope)
    listed = await start(browser, world, scope=scope)
    assert f'action="{paths.LOGIN_USER_SELECTION}"' in listed.text, listed.text
    choice = form(listed.text, paths.LOGIN_USER_SELECTION)
    [(session_id, password_at, _)] = sessions_of(harness, user_id)
    assert password_at is None
    chosen = await follow(
        browser,
        await browser.post(paths.LOGIN_USER_SELECTION, data={**choice, "session_id": session_id}),
    )
    assert at_application(chosen), chosen.text

    # Past it: prompt=none must not answer with a code, and the account must sign in again.
    age_external_check(harness, session_id, timedelta(seconds=3601))
    answer = await silent_request(browser, world, scope)
    assert "code" not in answer and answer["error"] == "login_required"
    # The account list still shows the account; choosing it sends the browser to the
    # provider it signed in with, not to a password it never had.
    listed = await start(browser, world, scope=scope)
    choice = form(listed.text, paths.LOGIN_USER_SELECTION)
    away = await browser.post(paths.LOGIN_USER_SELECTION, data={**choice, "session_id": session_id})
    assert away.status_code == 303, away.text
    assert away.headers["location"].startswith(upstream.issuer + "/")
    answer_url = await at_upstream(away.headers["location"], "kim-upstream")
    back = await follow(browser, await browser.get(answer_url))
    assert at_application(back), back.text
    [(_, _, checked)] = sessions_of(harness, user_id)
    now = harness.services.clock.now().replace(tzinfo=None)
    assert now - stored_time(checked) < timedelta(seconds=60)
    assert "code" in await silent_request(browser, world, scope)


@pytest.mark.parametrize("action", ["lock_user", "deactivate_user"])
async def test_a_locked_or_deactivated_linked_user_is_refused(
    harness: Harness,
    world: World,
    upstream: Upstream,
    browser: httpx2.AsyncClient,
    action: str,
) -> None:
    idp_id = await add_provider(harness, world, upstream, auto_creation=True, auto_update=True)
    sub = "lou-upstream" if action == "lock_user" else "max-upstream"
    first = await through_upstream(browser, await start(browser, world), idp_id, sub)
    assert at_application(first), first.text
    user_id = linked_user(harness, sub)
    assert user_id is not None
    await getattr(harness.services.users, action)(world.admin, user_id)
    before = sessions_of(harness, user_id)
    async with new_browser(harness) as again:
        page = await through_upstream(again, await start(again, world), idp_id, sub)
        assert 400 <= page.status_code < 500, page.text
        assert is_login_name_page(page)
        assert alert(page).startswith("The account linked to this identity is locked or")
        assert not at_application(page)
        # prompt=none in that browser finds nobody signed in.
        answer = await silent_request(again, world, "")
        assert "code" not in answer
    assert sessions_of(harness, user_id) == before
    [(state,)] = rows(harness, "SELECT state FROM users WHERE id = ?", user_id)
    assert state in ("locked", "inactive")


# --- the ID token -------------------------------------------------------------------------------


async def test_the_id_token_after_an_external_sign_in(
    harness: Harness, world: World, upstream: Upstream, browser: httpx2.AsyncClient
) -> None:
    idp_id = await add_provider(harness, world, upstream)
    ned = await add_user(harness, world, "ned")
    await link(harness, world, browser, idp_id, "ned-upstream", ned)
    async with new_browser(harness) as federated:
        page = await start(federated, world, acr_values="pwd")
        back = await through_upstream(federated, page, idp_id, "ned-upstream")
        assert at_application(back), back.text
        claims = await exchange(harness, world, back)
    assert claims["sub"] == ned.id
    [*_, (_, password_at, external_at)] = sessions_of(harness, ned.id)
    assert password_at is None
    assert claims["auth_time"] == int(stored_time(external_at).replace(tzinfo=UTC).timestamp())
    amr = claims.get("amr", [])  # RFC 8176 has no value for a federated sign-in
    assert isinstance(amr, list) and "pwd" not in amr
    assert claims.get("acr") == "pwd"
    # acr_values=mfa still asks for a second factor the policy does not force.
    async with new_browser(harness) as federated:
        page = await start(federated, world, acr_values="mfa")
        page = await through_upstream(federated, page, idp_id, "ned-upstream")
        assert asks_to_set_up_mfa(page), page.text
