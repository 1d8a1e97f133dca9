"""The audience scope `urn:zitadel:iam:org:project:id:{id}:aud` across organisations, and who
learns at introspection that a token (a personal access token too) is active.

Organisation A (the world's) owns the Portal project with its API app. Organisation B has a
project of its own with a web app and an API app, a user, and a machine user with a secret, a
key and a personal access token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Client, Harness, World
from zitui.core.apps import NewOidcApp
from zitui.core.users import NewHumanUser
from zitui.records import AppType, AuthMethod, Organization, Project, User
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MACHINE_GRANTS = ("client_credentials", "jwt_bearer")


@dataclass
class OrgB:
    org: Organization
    project: Project
    user: User
    web: Client
    api: Client
    robot: User
    secret: str
    key_file: dict[str, str]
    pat: str


@pytest.fixture
async def beta(harness: Harness, world: World) -> OrgB:
    services, admin = harness.services, world.admin
    org = await services.orgs.create_org(admin, "Beta")
    project = await services.projects.create_project(admin, org.id, "Beta Shop")
    user = await services.users.create_human_user(
        admin,
        org.id,
        NewHumanUser(username="dora", first_name="Dora", last_name="D", password=fx.PASSWORD),
    )
    web, web_secret = await services.apps.create_oidc_app(
        admin,
        project.id,
        NewOidcApp(
            name="shop",
            app_type=AppType.WEB,
            auth_method=AuthMethod.BASIC,
            redirect_uris=[fx.WEB_CALLBACK],
            grant_types=("authorization_code", "refresh_token"),
        ),
    )
    api, api_secret = await services.apps.create_oidc_app(
        admin,
        project.id,
        NewOidcApp(
            name="api", app_type=AppType.API, auth_method=AuthMethod.BASIC, redirect_uris=[]
        ),
    )
    robot = await services.machines.create_machine_user(admin, org.id, "crawler", "Crawler")
    _, secret = await services.machines.generate_machine_secret(admin, robot.id)
    _, key_file = await services.machines.add_machine_key(admin, robot.id)
    _, pat = await services.machines.add_personal_access_token(admin, robot.id)
    return OrgB(
        org=org,
        project=project,
        user=user,
        web=Client(web, web_secret),
        api=Client(api, api_secret),
        robot=robot,
        secret=secret,
        key_file=key_file,
        pat=pat,
    )


def aud(project_id: str) -> str:
    return f"urn:zitadel:iam:org:project:id:{project_id}:aud"


def assertion(harness: Harness, key_file: dict[str, str]) -> str:
    now = int(time.time())
    claims = {
        "iss": key_file["userId"],
        "sub": key_file["userId"],
        "aud": harness.issuer,
        "iat": now,
        "exp": now + 300,
    }
    header = {"alg": "RS256", "kid": key_file["keyId"]}
    return jwt.encode(header, claims, RSAKey.import_key(key_file["key"]))


async def machine_token(harness: Harness, beta: OrgB, grant: str, scope: str) -> httpx2.Response:
    """B's machine user asks for a token with `scope` by a client secret or its key file."""
    if grant == "client_credentials":
        data = {
            "grant_type": "client_credentials",
            "client_id": beta.robot.username,
            "client_secret": beta.secret,
        }
    else:
        data = {"grant_type": JWT_BEARER, "assertion": assertion(harness, beta.key_file)}
    return await harness.http.post(paths.TOKEN, data={**data, "scope": scope})


async def redeem(harness: Harness, client: Client, code: str) -> httpx2.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": fx.WEB_CALLBACK}
    return await harness.http.post(
        paths.TOKEN, data=data, auth=(client.client_id, client.secret or "")
    )


async def refreshed(harness: Harness, client: Client, token: str) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return await harness.http.post(
        paths.TOKEN, data=data, auth=(client.client_id, client.secret or "")
    )


async def introspect(harness: Harness, caller: Client, token: str) -> dict[str, Any]:
    response = await harness.http.post(
        paths.INTROSPECT, data={"token": token}, auth=(caller.client_id, caller.secret or "")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_oauth_error(response: httpx2.Response, error: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error


async def test_a_foreign_project_is_refused_at_authorize(
    harness: Harness, world: World, beta: OrgB
) -> None:
    result = await harness.code_flow(beta.web, beta.user, scope=f"openid {aud(world.project.id)}")
    assert result["error"] == "invalid_scope"
    assert "code" not in result


async def test_an_unknown_project_is_refused_before_the_sign_in(
    harness: Harness, world: World, beta: OrgB
) -> None:
    params = fx.authorize_params(beta.web, scope=f"openid {aud('no-such-project')}")
    response = await harness.authorize(params)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(fx.WEB_CALLBACK)
    assert fx.query_of(location)["error"] == "invalid_scope"


@pytest.mark.parametrize("grant", MACHINE_GRANTS)
@pytest.mark.parametrize("whose", ["foreign", "unknown"])
async def test_machine_grants_refuse_a_project_out_of_reach(
    harness: Harness, world: World, beta: OrgB, grant: str, whose: str
) -> None:
    project_id = world.project.id if whose == "foreign" else "no-such-project"
    response = await machine_token(harness, beta, grant, f"openid {aud(project_id)}")
    assert_oauth_error(response, "invalid_scope")


async def test_a_refresh_loses_a_project_whose_grant_ended(
    harness: Harness, world: World, beta: OrgB
) -> None:
    services, admin = harness.services, world.admin
    granted = await services.grants.grant_project(admin, world.project.id, beta.org.id, ["reader"])
    scope = f"openid offline_access {aud(world.project.id)}"
    result = await harness.code_flow(beta.web, beta.user, scope=scope)
    tokens = await redeem(harness, beta.web, result["code"])
    assert tokens.status_code == 200, tokens.text
    await services.grants.deactivate_project_grant(admin, granted.id)
    assert_oauth_error(
        await refreshed(harness, beta.web, tokens.json()["refresh_token"]), "invalid_scope"
    )
    # A code issued while the grant held is refused once it has ended.
    await services.grants.reactivate_project_grant(admin, granted.id)
    result = await harness.code_flow(beta.web, beta.user, scope=scope)
    await services.grants.deactivate_project_grant(admin, granted.id)
    assert_oauth_error(await redeem(harness, beta.web, result["code"]), "invalid_scope")


async def test_a_project_granted_to_the_organisation_enters_the_audience(
    harness: Harness, world: World, beta: OrgB
) -> None:
    services, admin = harness.services, world.admin
    await services.grants.grant_project(admin, world.project.id, beta.org.id, ["reader"])
    scope = f"openid {aud(world.project.id)}"
    api_of_a = world.clients["api"]
    for grant in MACHINE_GRANTS:
        response = await machine_token(harness, beta, grant, scope)
        assert response.status_code == 200, response.text
        found = await introspect(harness, api_of_a, response.json()["access_token"])
        assert found["active"] is True and world.project.id in found["aud"]
    result = await harness.code_flow(beta.web, beta.user, scope=f"{scope} offline_access")
    tokens = await redeem(harness, beta.web, result["code"])
    assert tokens.status_code == 200, tokens.text
    claims = await harness.verify(tokens.json()["id_token"])
    assert world.project.id in claims["aud"] and beta.project.id in claims["aud"]
    again = await refreshed(harness, beta.web, tokens.json()["refresh_token"])
    assert again.status_code == 200, again.text
    found = await introspect(harness, api_of_a, again.json()["access_token"])
    assert found["active"] is True


async def test_the_user_organisations_own_projects_may_be_asked_for(
    harness: Harness, world: World, beta: OrgB
) -> None:
    """Alice of A signs in to B's app and asks for A's project: her organisation owns it."""
    result = await harness.code_flow(beta.web, world.alice, scope=f"openid {aud(world.project.id)}")
    tokens = await redeem(harness, beta.web, result["code"])
    assert tokens.status_code == 200, tokens.text
    found = await introspect(harness, world.clients["api"], tokens.json()["access_token"])
    assert found["active"] is True


async def test_the_zitadel_alias_names_this_providers_own_api(
    harness: Harness, world: World, beta: OrgB
) -> None:
    scope = f"openid {aud('zitadel')} {aud(beta.project.id)}"
    response = await machine_token(harness, beta, "client_credentials", scope)
    assert response.status_code == 200, response.text
    found = await introspect(harness, beta.api, response.json()["access_token"])
    assert found["active"] is True
    assert harness.issuer in found["aud"] and "zitadel" not in found["aud"]
    result = await harness.code_flow(beta.web, beta.user, scope=f"openid {aud('zitadel')}")
    tokens = await redeem(harness, beta.web, result["code"])
    claims = await harness.verify(tokens.json()["id_token"])
    assert harness.issuer in claims["aud"]


async def test_a_personal_access_token_is_active_only_for_its_audience(
    harness: Harness, world: World, beta: OrgB
) -> None:
    api_of_a = world.clients["api"]
    assert await introspect(harness, api_of_a, beta.pat) == {"active": False}
    found = await introspect(harness, beta.api, beta.pat)
    assert found["active"] is True and found["sub"] == beta.robot.id
    # A project granted to B's organisation is in the audience of B's tokens.
    await harness.services.grants.grant_project(
        world.admin, world.project.id, beta.org.id, ["reader"]
    )
    assert (await introspect(harness, api_of_a, beta.pat))["active"] is True


async def test_role_check_of_an_extra_audience_project(
    harness: Harness, world: World, beta: OrgB
) -> None:
    services, admin = harness.services, world.admin
    ledger = await services.projects.create_project(admin, beta.org.id, "Ledger", role_check=True)
    await services.projects.add_project_role(admin, ledger.id, "auditor")
    scope = f"openid {aud(ledger.id)}"
    result = await harness.code_flow(beta.web, beta.user, scope=scope)
    assert result["error"] == "invalid_scope"
    for grant in MACHINE_GRANTS:
        assert_oauth_error(await machine_token(harness, beta, grant, scope), "invalid_scope")

    for user in (beta.user, beta.robot):
        await services.grants.add_user_grant(admin, user.id, ledger.id, ["auditor"])
    assert "code" in await harness.code_flow(beta.web, beta.user, scope=scope)
    for grant in MACHINE_GRANTS:
        response = await machine_token(harness, beta, grant, scope)
        assert response.status_code == 200, response.text


async def test_has_project_check_of_an_extra_audience_project(
    harness: Harness, world: World, beta: OrgB
) -> None:
    """A's app may ask for A's other projects; with the has-project check, only for users
    whose organisation owns the project or holds a grant of it."""
    services, admin = harness.services, world.admin
    ledger = await services.projects.create_project(
        admin, world.org_id, "Ledger", has_project_check=True
    )
    await services.projects.add_project_role(admin, ledger.id, "auditor")
    client, scope = world.clients["basic"], f"openid {aud(ledger.id)}"
    result = await harness.code_flow(client, beta.user, scope=scope)
    assert result["error"] == "invalid_scope"
    assert "code" in await harness.code_flow(client, world.alice, scope=scope)
    await services.grants.grant_project(admin, ledger.id, beta.org.id, ["auditor"])
    result = await harness.code_flow(client, beta.user, scope=scope)
    tokens = await redeem(harness, client, result["code"])
    assert tokens.status_code == 200, tokens.text
