"""The whole browser journey through the real hosted login pages: authorize → login name →
password → callback → the client's redirect URI, then a silent and a forced re-login."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx2

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Harness, World
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world


class Forms(HTMLParser):
    """The forms of a page: action → {input name: value}."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._action = values.get("action", "")
            self.forms.setdefault(self._action, {})
        elif tag == "input" and self._action is not None and values.get("name"):
            self.forms[self._action][values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._action = None


def form(html: str, action: str) -> dict[str, str]:
    reader = Forms()
    reader.feed(html)
    return reader.forms[action]


async def follow(browser: httpx2.AsyncClient, response: httpx2.Response) -> httpx2.Response:
    """Follow redirects inside zitui; stop at the client's redirect URI."""
    while response.status_code in (302, 303):
        location = response.headers["location"]
        if location.startswith("https://"):
            return response
        response = await browser.get(location)
    return response


async def sign_in_through_pages(
    browser: httpx2.AsyncClient, params: dict[str, str], login_name: str
) -> httpx2.Response:
    page = await follow(browser, await browser.get(paths.AUTHORIZE, params=params))
    assert page.status_code == 200, page.text
    name_form = form(page.text, paths.LOGIN_NAME)
    page = await browser.post(paths.LOGIN_NAME, data={**name_form, "login_name": login_name})
    password_form = form(page.text, paths.LOGIN_PASSWORD)
    response = await browser.post(
        paths.LOGIN_PASSWORD, data={**password_form, "password": fx.PASSWORD}
    )
    return await follow(browser, response)


async def test_sign_in_through_the_login_pages(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    async with httpx2.AsyncClient(transport=harness.transport, base_url=harness.issuer) as browser:
        params = fx.authorize_params(client)
        back = await sign_in_through_pages(browser, params, world.alice.login_name)
        found = fx.query_of(back.headers["location"])
        assert found["code"] and found["state"] == params["state"]
        assert found["iss"] == harness.issuer

        # The browser is signed in now: prompt=none answers at once ...
        silent = {**fx.authorize_params(client), "prompt": "none"}
        response = await browser.get(paths.AUTHORIZE, params=silent)
        assert "code" in fx.query_of(response.headers["location"])

        # ... and prompt=login asks for the password again.
        forced = {**fx.authorize_params(client), "prompt": "login"}
        page = await follow(browser, await browser.get(paths.AUTHORIZE, params=forced))
        assert paths.LOGIN_NAME in page.text


async def test_a_user_the_role_check_refuses_never_reaches_the_app(
    harness: Harness, world: World
) -> None:
    await harness.services.projects.update_project_settings(
        world.admin, world.project.id, role_check=True
    )
    async with httpx2.AsyncClient(transport=harness.transport, base_url=harness.issuer) as browser:
        params = fx.authorize_params(world.clients["basic"])
        page = await sign_in_through_pages(browser, params, world.bob.login_name)
    assert page.status_code == 403
    assert "location" not in page.headers
