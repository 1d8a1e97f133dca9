"""Signing in through a running zitui's hosted pages, as a browser without JavaScript does."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx2

from tests.server_fixtures import BROWSER_ACCEPT
from tests.test_login_pages import read, the_form
from zitui.server import paths


def browser(base_url: str) -> httpx2.Client:
    return httpx2.Client(base_url=base_url, headers={"Accept": BROWSER_ACCEPT}, timeout=30)


def password_sign_in(client: httpx2.Client, login_name: str, password: str) -> httpx2.Response:
    """The entry page, the login name, then the password (and "skip" where the default login
    policy offers to set up a second factor); the last answer."""
    page = client.get(paths.LOGIN)
    assert page.status_code == 200, page.text
    return _skip_mfa_prompt(client, _name_and_password(client, page.text, login_name, password))


def code_flow(
    client: httpx2.Client,
    *,
    client_id: str,
    redirect_uri: str,
    login_name: str,
    password: str,
) -> dict[str, str]:
    """Authorize, sign in on the hosted pages, and follow the callback; the redirect's query."""
    start = client.get(
        paths.AUTHORIZE,
        params={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid profile email",
            "state": "upgrade-state",
            "nonce": "upgrade-nonce",
        },
    )
    assert start.status_code == 302, start.text
    page = client.get(start.headers["location"])
    assert page.status_code == 200, page.text
    done = _skip_mfa_prompt(client, _name_and_password(client, page.text, login_name, password))
    location = done.headers.get("location", "")
    while not location.startswith(redirect_uri):
        assert done.status_code in (302, 303), done.text
        done = _skip_mfa_prompt(client, client.get(location))
        location = done.headers.get("location", "")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _skip_mfa_prompt(client: httpx2.Client, response: httpx2.Response) -> httpx2.Response:
    """The offer to set up a second factor (the default login policy's) is skipped."""
    if response.status_code != 200 or f'action="{paths.LOGIN_MFA_PROMPT}"' not in response.text:
        return response
    prompt = the_form(response.text, paths.LOGIN_MFA_PROMPT)
    return client.post(prompt.action, data=prompt.values | {"skip": "1"})


def _name_and_password(
    client: httpx2.Client, html: str, login_name: str, password: str
) -> httpx2.Response:
    name_form = the_form(html, paths.LOGIN_NAME)
    named = client.post(name_form.action, data=name_form.values | {"login_name": login_name})
    assert named.status_code == 200, named.text
    password_form = the_form(named.text, paths.LOGIN_PASSWORD)
    return client.post(password_form.action, data=password_form.values | {"password": password})


def signed_in_text(client: httpx2.Client, response: httpx2.Response) -> str:
    """The signed-in page a finished password sign-in leads to, as text."""
    assert response.status_code == 303, response.text
    assert response.headers["location"] == paths.LOGIN_SIGNED_IN
    page = client.get(paths.LOGIN_SIGNED_IN)
    assert page.status_code == 200, page.text
    return " ".join("".join(read(page.text).main_text).split())
