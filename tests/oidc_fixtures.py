"""Fixtures for the OpenID provider tests: a world of apps and users, and an HTTP harness.

The server runs in the test's own event loop: an httpx2 `ASGITransport` in front of the app,
with the services (and their clock) placed in the lifespan state as uvicorn would. The clock
follows real time (authlib and joserfc read `time.time()`) and can be moved forward.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet

from zitui.core.apps import NewOidcApp
from zitui.core.context import Context, RequestMeta
from zitui.core.projects import NewProjectRole
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.core.users import NewHumanUser
from zitui.records import App, AppType, AuthMethod, Project, Session, User
from zitui.server import paths
from zitui.server.app import create_app
from zitui.server.browser import cookie_name

PASSWORD = "Alice-Pass-1!"
WEB_CALLBACK = "https://app.example/callback"
SPA_CALLBACK = "https://spa.example/callback"
LOGGED_OUT = "https://app.example/logged-out"


class OffsetClock:
    """Real time, shifted by however far a test moves it."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock() -> OffsetClock:  # overrides the suite's frozen clock in the modules importing it
    return OffsetClock()


@dataclass
class Client:
    app: App
    secret: str | None = None
    key_file: dict[str, str] | None = None

    @property
    def client_id(self) -> str:
        return self.app.client_id


@dataclass
class World:
    admin: Context
    org_id: str
    project: Project
    alice: User
    bob: User  # in the same organisation, without any role
    clients: dict[str, Client] = field(default_factory=dict)
    robot: User | None = None
    robot_secret: str = ""
    robot_key: dict[str, str] = field(default_factory=dict)
    robot_pat: str = ""


async def build_world(services: Services, admin: Context) -> World:
    assert admin.actor is not None
    org_id = admin.actor.org_id
    project = await services.projects.create_project(admin, org_id, "Portal")
    await services.projects.add_project_roles(
        admin, project.id, [NewProjectRole("reader"), NewProjectRole("writer")]
    )
    alice = await _human(services, admin, org_id, "alice", "Alice", "Liddell")
    bob = await _human(services, admin, org_id, "bob", "Bob", "Builder")
    await services.grants.add_user_grant(admin, alice.id, project.id, ["reader"])
    world = World(admin=admin, org_id=org_id, project=project, alice=alice, bob=bob)
    code_flow = ("authorization_code", "refresh_token")
    for name, app_type, method in (
        ("basic", AppType.WEB, AuthMethod.BASIC),
        ("post", AppType.WEB, AuthMethod.POST),
        ("jwt", AppType.WEB, AuthMethod.PRIVATE_KEY_JWT),
        ("spa", AppType.USER_AGENT, AuthMethod.NONE),
    ):
        callback = SPA_CALLBACK if app_type is AppType.USER_AGENT else WEB_CALLBACK
        app, secret = await services.apps.create_oidc_app(
            admin,
            project.id,
            NewOidcApp(
                name=name,
                app_type=app_type,
                auth_method=method,
                redirect_uris=[callback, f"{callback}?tenant=1"],
                post_logout_redirect_uris=[LOGGED_OUT],
                grant_types=code_flow,
            ),
        )
        world.clients[name] = Client(app, secret)
    for name, method in (("api", AuthMethod.BASIC), ("api_jwt", AuthMethod.PRIVATE_KEY_JWT)):
        app, secret = await services.apps.create_oidc_app(
            admin,
            project.id,
            NewOidcApp(name=name, app_type=AppType.API, auth_method=method, redirect_uris=[]),
        )
        world.clients[name] = Client(app, secret)
    for name in ("jwt", "api_jwt"):
        _, key_file = await services.keys.add_app_key(admin, world.clients[name].app.id)
        world.clients[name].key_file = key_file
    robot = await services.machines.create_machine_user(admin, org_id, "robot", "Robot")
    _, world.robot_secret = await services.machines.generate_machine_secret(admin, robot.id)
    _, world.robot_key = await services.machines.add_machine_key(admin, robot.id)
    _, world.robot_pat = await services.machines.add_personal_access_token(admin, robot.id)
    world.robot = robot
    return world


async def _human(
    services: Services, admin: Context, org_id: str, username: str, first: str, last: str
) -> User:
    new = NewHumanUser(
        username=username,
        first_name=first,
        last_name=last,
        email=f"{username}@example.com",
        email_verified=True,
        password=PASSWORD,
    )
    return await services.users.create_human_user(admin, org_id, new)


@pytest.fixture
async def world(services: Services, admin: Context) -> World:
    return await build_world(services, admin)


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: generate_token(48))

    @property
    def challenge(self) -> str:
        return create_s256_code_challenge(self.verifier)


class Harness:
    """The app over an in-process transport, and the steps of a browser sign-in."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.issuer = services.settings.issuer
        self.app = create_app(services.settings, services)
        self.transport = httpx2.ASGITransport(app=self._with_state)
        self.http = httpx2.AsyncClient(transport=self.transport, base_url=self.issuer)

    async def _with_state(self, scope: Any, receive: Any, send: Any) -> None:
        scope["state"] = {"services": self.services}
        await self.app(scope, receive, send)

    def url(self, path: str) -> str:
        return self.issuer + path

    async def sign_in(
        self, user: User, *, cookie: str | None = None, password: str = PASSWORD
    ) -> tuple[str, Session]:
        """A browser (cookie) where `user` has just proved the password."""
        cookie = cookie or new_browser_cookie()
        session = await self.services.sessions.check_password(
            cookie, user.username, password, RequestMeta(origin="test")
        )
        return cookie, session

    async def browser(
        self, method: str, path: str, *, cookie: str = "", **kwargs: Any
    ) -> httpx2.Response:
        """A request from a browser that holds the `zitui_browser` cookie `cookie`."""
        name = cookie_name(secure=self.issuer.startswith("https://"))
        cookies = {name: cookie} if cookie else {}
        async with httpx2.AsyncClient(
            transport=self.transport, base_url=self.issuer, cookies=cookies
        ) as browser:
            return await browser.request(method, path, **kwargs)

    async def confirm_logout(self, page: httpx2.Response, *, cookie: str) -> httpx2.Response:
        """Press "Sign out" on the confirmation page that end_session shows without a hint."""
        assert page.status_code == 200, page.text
        assert f'action="{paths.END_SESSION}"' in page.text
        hidden = r'<input type="hidden" name="([^"]+)" value="([^"]*)">'
        fields = dict(re.findall(hidden, page.text))
        assert fields.get("confirm") == "yes" and fields.get("csrf_token")
        values = {name: html.unescape(value) for name, value in fields.items()}
        return await self.browser("POST", paths.END_SESSION, cookie=cookie, data=values)

    async def authorize(
        self, params: dict[str, str], *, cookie: str = "", method: str = "GET"
    ) -> httpx2.Response:
        if method == "POST":
            return await self.browser("POST", paths.AUTHORIZE, cookie=cookie, data=params)
        return await self.browser("GET", paths.AUTHORIZE, cookie=cookie, params=params)

    async def callback(self, auth_request_id: str, *, cookie: str) -> httpx2.Response:
        return await self.browser(
            "GET", paths.AUTHORIZE_CALLBACK, cookie=cookie, params={"id": auth_request_id}
        )

    async def code_flow(
        self,
        client: Client,
        user: User,
        *,
        scope: str = "openid profile email",
        pkce: Pkce | None = None,
        cookie: str | None = None,
        extra: dict[str, str] | None = None,
        redirect_uri: str | None = None,
    ) -> dict[str, str]:
        """Authorize, sign in, link, and follow the callback; the redirect's parameters."""
        params = authorize_params(client, scope=scope, pkce=pkce, redirect_uri=redirect_uri)
        params.update(extra or {})
        response = await self.authorize(params)
        auth_request_id = login_redirect_id(response)
        cookie, session = await self.sign_in(user, cookie=cookie)
        await self.services.auth_requests.link_session(auth_request_id, session.id)
        back = await self.callback(auth_request_id, cookie=cookie)
        assert back.status_code == 302, back.text
        location = back.headers["location"]
        assert location.startswith(params["redirect_uri"])
        result = query_of(location)
        assert result["state"] == params["state"]
        result["_nonce"] = params["nonce"]
        result["_cookie"] = cookie
        return result

    async def jwks(self) -> KeySet:
        response = await self.http.get(paths.KEYS)
        return KeySet.import_key_set(response.json())

    async def verify(self, token: str, **expected: Any) -> dict[str, Any]:
        """Claims of a token signed by one of the published keys."""
        claims = dict(jwt.decode(token, await self.jwks(), algorithms=["RS256"]).claims)
        for name, value in expected.items():
            assert claims.get(name) == value, (name, claims.get(name), value)
        return claims

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def harness(services: Services) -> AsyncIterator[Harness]:
    harness = Harness(services)
    try:
        yield harness
    finally:
        await harness.close()


def authorize_params(
    client: Client,
    *,
    scope: str = "openid profile email",
    pkce: Pkce | None = None,
    redirect_uri: str | None = None,
) -> dict[str, str]:
    callback = SPA_CALLBACK if client.app.app_type is AppType.USER_AGENT else WEB_CALLBACK
    params = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri or callback,
        "response_type": "code",
        "scope": scope,
        "state": generate_token(10),
        "nonce": generate_token(16),
    }
    if pkce is not None:
        params |= {"code_challenge": pkce.challenge, "code_challenge_method": "S256"}
    return params


def login_redirect_id(response: httpx2.Response) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{paths.LOGIN}?authRequestID=")
    return query_of(location)["authRequestID"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
