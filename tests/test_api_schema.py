"""schemathesis against the live server: every operation of /openapi.json with generated
inputs, checked for no 5xx, documented status codes and answers that match their schemas.

The server runs as in production (zitui.runner on a bound socket, its own services). Tokens
come from a real authorization code flow over HTTP with the API audience scope; the sign-in
step between authorize and callback goes through the same store, as in tests/oidc_fixtures.py.

What the generated run may break, and how it stays meaningful:
- A token can end mid-run (a password change, revoking all refresh tokens, ending sessions).
  Before each case the token of its user is checked with `GET /auth/v1/users/me` and re-issued
  by a new code flow when it no longer works, so no case runs with a dead token by accident.
- The operations that end sessions or tokens or change credentials (`DESTRUCTIVE`) run as a
  second user, so the main user's factors, sessions and tokens are not thrown away between
  the cases of the other operations.
- `DELETE /auth/v1/users/me` stays in the run: the login policy's `allow_self_delete` is off
  (the default), so every generated case is refused (412) and nobody is deleted; the deletion
  itself is tested in tests/test_api_account_flows.py.
Nothing is excluded. The schema is the document the route table generates, which the first
test checks is the one the live server serves at /openapi.json. Hypothesis is derandomised
and bounded (`MAX_EXAMPLES` per operation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_fixtures import API_SCOPES
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.live_server import serving
from tests.oidc_fixtures import PASSWORD, World, authorize_params, build_world, query_of
from tests.processes import free_port
from zitui.config import Settings
from zitui.core.context import RequestMeta
from zitui.core.services import Services, open_services
from zitui.core.sessions import new_browser_cookie
from zitui.records import User
from zitui.server import paths
from zitui.server.api.openapi import openapi_document
from zitui.server.browser import cookie_name

MAX_EXAMPLES = 8
ME = f"{paths.AUTH_API}/users/me"
DESTRUCTIVE = frozenset(
    {
        ("PUT", f"{ME}/password"),
        ("DELETE", ME),
        ("DELETE", f"{ME}/sessions/{{session_id}}"),
        ("POST", f"{ME}/sessions/_end_others"),
        ("DELETE", f"{ME}/tokens/refresh/{{id}}"),
        ("POST", f"{ME}/tokens/refresh/_revoke_all"),
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Live:
    url: str
    settings: Settings
    runner: asyncio.Runner
    services: Services
    world: World
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: User) -> str:
        """A working access token of `user`, issued anew when the last one stopped working."""
        current = self.tokens.get(user.id)
        if current is not None:
            check = httpx2.get(self.url + ME, headers={"Authorization": f"Bearer {current}"})
            if check.status_code == 200:
                return current
        self.tokens[user.id] = self.runner.run(self._code_flow(user))
        return self.tokens[user.id]

    async def _code_flow(self, user: User) -> str:
        client = self.world.clients["basic"]
        params = authorize_params(client, scope=API_SCOPES)
        cookie = new_browser_cookie()
        cookies = {cookie_name(secure=False): cookie}
        async with httpx2.AsyncClient(base_url=self.url, cookies=cookies) as http:
            start = await http.get(paths.AUTHORIZE, params=params)
            assert start.status_code == 302, start.text
            auth_request_id = query_of(start.headers["location"])["authRequestID"]
            session = await self.services.sessions.check_password(
                cookie, user.username, PASSWORD, RequestMeta(origin="test")
            )
            await self.services.auth_requests.link_session(auth_request_id, session.id)
            back = await http.get(paths.AUTHORIZE_CALLBACK, params={"id": auth_request_id})
            assert back.status_code == 302, back.text
            code = query_of(back.headers["location"])["code"]
            answer = await http.post(
                paths.TOKEN,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": params["redirect_uri"],
                },
                auth=(client.client_id, client.secret or ""),
            )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    config = make_settings(tmp_path_factory.mktemp("api") / "data", listen=f"127.0.0.1:{PORT}")
    runner = asyncio.Runner()
    services, world = runner.run(_prepare(config))
    try:
        with serving(config):
            yield Live(config.issuer, config, runner, services, world)
    finally:
        runner.run(services.close())
        runner.close()


async def _prepare(config: Settings) -> tuple[Services, World]:
    services, _ = await open_services(config)
    login = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta(origin="t"))
    return services, await build_world(services, login.context)


# The document is generated from the route table, so it is known before the server runs;
# pytest 9 cannot take a schema from a fixture (schemathesis' `from_fixture` needs
# `Function._nodeid`), and the live document is checked to be this one below.
PORT = free_port()
DOCUMENT = openapi_document(f"http://127.0.0.1:{PORT}")
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_live_server_serves_the_document_under_test(live: Live) -> None:
    assert httpx2.get(live.url + paths.OPENAPI).json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case: Any, live: Live) -> None:
    destructive = (case.operation.method.upper(), case.operation.path) in DESTRUCTIVE
    user = live.world.bob if destructive else live.world.alice
    token = live.token(user)
    case.call_and_validate(
        base_url=live.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
