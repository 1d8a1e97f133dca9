"""Claims as ZITADEL issues them: the roles claim, the reserved `urn:zitadel:iam:…` scopes,
the ID token's assertions, and the project's role and has-project checks at sign-in."""

from __future__ import annotations

from typing import Any

import pytest

from tests import oidc_fixtures as fx
from tests.oidc_fixtures import Client, Harness, World
from zitui.core.apps import OidcConfigChange
from zitui.core.context import Context
from zitui.core.events import EventQuery
from zitui.core.users import NewHumanUser
from zitui.errors import PermissionDenied
from zitui.records import Organization, User
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world
ROLES = "urn:zitadel:iam:org:project:roles"


async def tokens_for(harness: Harness, client: Client, user: User, scope: str) -> dict[str, Any]:
    result = await harness.code_flow(client, user, scope=scope)
    response = await harness.http.post(
        paths.TOKEN,
        data={"grant_type": "authorization_code", "code": result["code"]},
        auth=(client.client_id, client.secret or ""),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["claims"] = await harness.verify(body["id_token"])
    return body


async def userinfo(harness: Harness, access_token: str) -> dict[str, Any]:
    response = await harness.http.get(
        paths.USERINFO, headers={"Authorization": f"Bearer {access_token}"}
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def domain_of(user: User) -> str:
    return user.login_name.partition("@")[2]


async def test_project_role_assertion_puts_roles_in_userinfo(
    harness: Harness, world: World
) -> None:
    await harness.services.projects.update_project_settings(
        world.admin, world.project.id, role_assertion=True
    )
    body = await tokens_for(harness, world.clients["basic"], world.alice, "openid")
    info = await userinfo(harness, body["access_token"])
    assert info[ROLES] == {"reader": {world.org_id: domain_of(world.alice)}}
    assert ROLES not in body["claims"]  # the ID token asserts roles only when the app asks


async def test_role_scopes_ask_for_roles_and_filter_them(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    await harness.services.grants.add_user_grant(
        world.admin, world.bob.id, world.project.id, ["reader", "writer"]
    )
    scope = "openid urn:zitadel:iam:org:project:role:writer"
    body = await tokens_for(harness, client, world.bob, scope)
    assert (await userinfo(harness, body["access_token"]))[ROLES] == {
        "writer": {world.org_id: domain_of(world.bob)}
    }
    body = await tokens_for(harness, client, world.alice, scope)
    assert ROLES not in await userinfo(harness, body["access_token"])


async def test_id_token_assertions_of_the_app(harness: Harness, world: World) -> None:
    client = world.clients["basic"]
    await harness.services.apps.update_oidc_config(
        world.admin,
        client.app.id,
        OidcConfigChange(id_token_role_assertion=True, id_token_userinfo_assertion=True),
    )
    body = await tokens_for(harness, client, world.alice, "openid profile email")
    claims = body["claims"]
    assert claims[ROLES] == {"reader": {world.org_id: domain_of(world.alice)}}
    assert claims["email"] == "alice@example.com" and claims["given_name"] == "Alice"


async def test_projects_roles_and_audience_scopes(harness: Harness, world: World) -> None:
    services, admin = harness.services, world.admin
    other = await services.projects.create_project(admin, world.org_id, "Ledger")
    await services.projects.add_project_role(admin, other.id, "auditor")
    await services.grants.add_user_grant(admin, world.alice.id, other.id, ["auditor"])
    scope = (
        f"openid urn:zitadel:iam:org:project:id:{other.id}:aud urn:zitadel:iam:org:projects:roles"
    )
    body = await tokens_for(harness, world.clients["basic"], world.alice, scope)
    assert other.id in body["claims"]["aud"] and world.project.id in body["claims"]["aud"]
    info = await userinfo(harness, body["access_token"])
    domain = domain_of(world.alice)
    assert info[f"urn:zitadel:iam:org:project:{other.id}:roles"] == {
        "auditor": {world.org_id: domain}
    }
    assert info[f"urn:zitadel:iam:org:project:{world.project.id}:roles"] == {
        "reader": {world.org_id: domain}
    }
    assert info[ROLES] == {"reader": {world.org_id: domain}}


async def test_resource_owner_and_org_scopes(harness: Harness, world: World) -> None:
    scope = (
        "openid urn:zitadel:iam:user:resourceowner urn:zitadel:iam:user:metadata "
        f"urn:zitadel:iam:org:id:{world.org_id}"
    )
    body = await tokens_for(harness, world.clients["basic"], world.alice, scope)
    for claims in (body["claims"], await userinfo(harness, body["access_token"])):
        assert claims["urn:zitadel:iam:user:resourceowner:id"] == world.org_id
        assert claims["urn:zitadel:iam:user:resourceowner:name"] == "ZITUI"
        assert claims["urn:zitadel:iam:user:resourceowner:primary_domain"] == domain_of(world.alice)
        assert claims["urn:zitadel:iam:org:id"] == world.org_id


async def other_org_user(harness: Harness, admin: Context) -> tuple[Organization, User]:
    org = await harness.services.orgs.create_org(admin, "Acme")
    user = await harness.services.users.create_human_user(
        admin,
        org.id,
        NewHumanUser(username="carol", first_name="Carol", last_name="C", password=fx.PASSWORD),
    )
    return org, user


async def link(harness: Harness, client: Client, user: User, scope: str = "openid") -> None:
    response = await harness.authorize(fx.authorize_params(client, scope=scope))
    auth_request_id = fx.login_redirect_id(response)
    _, session = await harness.sign_in(user)
    await harness.services.auth_requests.link_session(auth_request_id, session.id)


async def test_org_scope_keeps_other_organisations_out(harness: Harness, world: World) -> None:
    org, carol = await other_org_user(harness, world.admin)
    client = world.clients["basic"]
    scope = f"openid urn:zitadel:iam:org:domain:primary:{org.primary_domain}"
    params = fx.authorize_params(client, scope=scope)
    auth_request_id = fx.login_redirect_id(await harness.authorize(params))
    request = await harness.services.auth_requests.get_auth_request(auth_request_id)
    assert request.org_id == org.id
    _, session = await harness.sign_in(world.alice)
    with pytest.raises(PermissionDenied) as refused:
        await harness.services.auth_requests.link_session(auth_request_id, session.id)
    assert refused.value.code == "auth_request.wrong_org"
    await link(harness, client, carol, scope)

    unknown = fx.authorize_params(client, scope="openid urn:zitadel:iam:org:domain:primary:x.y")
    response = await harness.authorize(unknown)
    assert fx.query_of(response.headers["location"])["error"] == "invalid_scope"


async def test_role_check_refuses_users_without_a_role(harness: Harness, world: World) -> None:
    await harness.services.projects.update_project_settings(
        world.admin, world.project.id, role_check=True
    )
    client = world.clients["basic"]
    with pytest.raises(PermissionDenied) as refused:
        await link(harness, client, world.bob)
    assert refused.value.code == "auth_request.role_required"
    await link(harness, client, world.alice)
    events = await harness.services.events.list_events(
        world.admin, EventQuery(event_type="auth_request.denied")
    )
    assert [e.payload["reason"] for e in events.items] == ["auth_request.role_required"]


async def test_role_check_with_prompt_none_is_access_denied(harness: Harness, world: World) -> None:
    await harness.services.projects.update_project_settings(
        world.admin, world.project.id, role_check=True
    )
    cookie, _ = await harness.sign_in(world.bob)
    params = {**fx.authorize_params(world.clients["basic"]), "prompt": "none"}
    response = await harness.authorize(params, cookie=cookie)
    assert fx.query_of(response.headers["location"])["error"] == "access_denied"


async def test_has_project_check_needs_the_project_or_a_grant(
    harness: Harness, world: World
) -> None:
    services, admin = harness.services, world.admin
    await services.projects.update_project_settings(admin, world.project.id, has_project_check=True)
    org, carol = await other_org_user(harness, admin)
    client = world.clients["basic"]
    await link(harness, client, world.alice)  # the owning organisation's user
    with pytest.raises(PermissionDenied) as refused:
        await link(harness, client, carol)
    assert refused.value.code == "auth_request.project_required"
    await services.grants.grant_project(admin, world.project.id, org.id, ["reader"])
    await link(harness, client, carol)
