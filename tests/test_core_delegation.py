"""Managers in delegation (seed § Managers): an owner shares a project with a customer
organisation and appoints a customer manager, who then serves itself within the grant.

Choices this test pins down:
- assigning a role the grant does not include is InvalidArgument on `role_keys` (the actor
  may authorize through the grant; the request is wrong), not PermissionDenied;
- a user grant through a project grant for a user outside the granted organisation is
  InvalidArgument on `user_id`; a direct user grant on the owner's project is PermissionDenied;
- lists (`list_users`, `list_projects`) filter to what the actor may see and so come back
  empty rather than refused; reading one named thing is refused and audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.test_core_audit import _events, _no_event
from tests.test_core_projects import PASSWORD, add_user, sign_in
from zitui.core.apps import NewOidcApp
from zitui.core.context import Context
from zitui.core.projects import NewProjectRole
from zitui.core.services import Services
from zitui.core.user_profile import ProfileChange
from zitui.core.users import NewHumanUser
from zitui.errors import InvalidArgument, PermissionDenied
from zitui.records import AppType, AuthMethod, Scope


async def _refused_and_audited(
    services: Services, actor: Context, command: Callable[[], Awaitable[Any]]
) -> None:
    before = {e.id for e in await _events(services)}
    with pytest.raises(PermissionDenied):
        await command()
    new = [e for e in await _events(services) if e.id not in before]
    assert [(e.event_type, e.actor_id) for e in new] == [("permission.denied", actor.actor.user_id)]


@pytest.fixture
async def b2b(services: Services, admin: Context) -> dict[str, Any]:
    """The owner's organisation with project "Portal", granted to "Customer"."""
    acme = (await services.orgs.create_org(admin, "Acme")).id
    owner_user = await add_user(services, admin, acme, "owner")
    await services.memberships.add_member(admin, owner_user.id, Scope.ORG, acme, ["ORG_OWNER"])
    owner = await sign_in(services, owner_user)
    assert owner.actor.login_name == "owner@acme.127.0.0.1"

    portal = await services.projects.create_project(owner, acme, "Portal", role_assertion=True)
    await services.projects.add_project_roles(
        owner,
        portal.id,
        [
            NewProjectRole("admin", "Administrator"),
            NewProjectRole("editor"),
            NewProjectRole("viewer"),
        ],
    )
    app, _ = await services.apps.create_oidc_app(
        owner,
        portal.id,
        NewOidcApp("Portal Web", AppType.WEB, AuthMethod.BASIC, ["https://portal.example.com/cb"]),
    )
    customer = (await services.orgs.create_org(admin, "Customer")).id
    grant = await services.grants.grant_project(owner, portal.id, customer, ["editor", "viewer"])
    other_org = (await services.orgs.create_org(admin, "Other")).id
    other_grant = await services.grants.grant_project(owner, portal.id, other_org, ["viewer"])

    cora_user = await add_user(services, admin, customer, "cora")
    await services.memberships.add_member(admin, cora_user.id, Scope.ORG, customer, ["ORG_OWNER"])
    return {
        "acme": acme,
        "owner": owner,
        "owner_user": owner_user,
        "portal": portal,
        "app": app,
        "customer": customer,
        "grant": grant,
        "other_grant": other_grant,
        "cora": await sign_in(services, cora_user),
    }


async def test_customer_org_owner_serves_itself_within_the_grant(services, b2b):
    cora, customer, grant, portal = b2b["cora"], b2b["customer"], b2b["grant"], b2b["portal"]

    assert (await services.orgs.get_org(cora, customer)).name == "Customer"
    assert [o.name for o in (await services.orgs.list_orgs(cora)).items] == ["Customer"]
    granted = await services.grants.list_granted_projects(cora, customer)
    assert [(g.project_name, g.role_keys) for g in granted.items] == [
        ("Portal", ("editor", "viewer"))
    ]
    assert await services.grants.get_project_grant(cora, grant.id) == grant

    carl = await services.users.create_human_user(
        cora,
        customer,
        NewHumanUser(username="carl", first_name="Carl", last_name="C", password=PASSWORD),
    )
    editor = await services.grants.add_user_grant(
        cora, carl.id, portal.id, ["editor"], project_grant_id=grant.id
    )
    assert (editor.org_id, editor.role_keys) == (customer, ("editor",))
    assert [g.id for g in (await services.grants.list_user_grants(cora)).items] == [editor.id]

    # An ORG_USER_MANAGER appointed by the customer manages authorizations in the grant too.
    uma = await services.users.create_human_user(
        cora,
        customer,
        NewHumanUser(username="uma", first_name="Uma", last_name="U", password=PASSWORD),
    )
    await services.memberships.add_member(cora, uma.id, Scope.ORG, customer, ["ORG_USER_MANAGER"])
    uma_ctx = await sign_in(services, uma)
    await services.grants.change_user_grant(uma_ctx, editor.id, ["editor", "viewer"])

    # A PROJECT_GRANT_OWNER appointed by the customer works within that grant only.
    gil = await services.users.create_human_user(
        cora,
        customer,
        NewHumanUser(username="gil", first_name="Gil", last_name="G", password=PASSWORD),
    )
    await services.memberships.add_member(
        cora, gil.id, Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER"]
    )
    gil_ctx = await sign_in(services, gil)
    viewer = await services.grants.add_user_grant(
        gil_ctx, gil.id, portal.id, ["viewer"], project_grant_id=grant.id
    )
    assert viewer.org_id == customer
    assert [
        g.id for g in (await services.grants.list_granted_projects(gil_ctx, customer)).items
    ] == [grant.id]
    await _refused_and_audited(
        services, gil_ctx, lambda: services.grants.get_project_grant(gil_ctx, b2b["other_grant"].id)
    )


async def test_customer_org_owner_stays_out_of_the_owners_business(services, b2b):
    cora, acme, portal, grant = b2b["cora"], b2b["acme"], b2b["portal"], b2b["grant"]
    owner_user, app = b2b["owner_user"], b2b["app"]
    carl = await add_user(services, cora, b2b["customer"], "carl")

    # "admin" is not in the grant: a wrong request, refused before anything is written.
    with pytest.raises(InvalidArgument) as caught:
        await services.grants.add_user_grant(
            cora, carl.id, portal.id, ["admin"], project_grant_id=grant.id
        )
    assert caught.value.field == "role_keys"
    await _no_event(
        services,
        lambda: services.grants.add_user_grant(
            cora, carl.id, portal.id, ["editor", "admin"], project_grant_id=grant.id
        ),
        InvalidArgument,
    )

    refused: list[Callable[[], Awaitable[Any]]] = [
        lambda: services.orgs.get_org(cora, acme),
        lambda: services.users.get_user(cora, owner_user.id),
        lambda: services.projects.get_project(cora, portal.id),
        lambda: services.projects.rename_project(cora, portal.id, "Mine now"),
        lambda: services.projects.update_project_settings(cora, portal.id, role_check=True),
        lambda: services.projects.add_project_role(cora, portal.id, "superuser"),
        lambda: services.projects.list_project_roles(cora, portal.id),
        lambda: services.apps.get_app(cora, app.id),
        lambda: services.apps.list_apps(cora, portal.id),
        lambda: services.apps.regenerate_client_secret(cora, app.id),
        lambda: services.grants.list_project_grants(cora, portal.id),
        lambda: services.grants.get_project_grant(cora, b2b["other_grant"].id),
        lambda: services.grants.change_project_grant(cora, grant.id, ["admin", "editor"]),
        # Granting roles to a user of another organisation, directly on the owner's project.
        lambda: services.grants.add_user_grant(cora, owner_user.id, portal.id, ["viewer"]),
        lambda: services.memberships.add_member(
            cora, carl.id, Scope.ORG, acme, ["ORG_USER_MANAGER"]
        ),
    ]
    for command in refused:
        await _refused_and_audited(services, cora, command)

    # Through the grant, only the customer's own users can be authorized.
    await _no_event(
        services,
        lambda: services.grants.add_user_grant(
            cora, owner_user.id, portal.id, ["viewer"], project_grant_id=grant.id
        ),
        InvalidArgument,
    )
    # Lists filter instead of refusing.
    assert (await services.users.list_users(cora, org_id=acme)).total == 0
    assert (await services.projects.list_projects(cora)).total == 0
    assert (await services.grants.list_user_grants(cora, project_id=portal.id)).total == 0
    assert (await services.grants.get_project_grant(b2b["owner"], grant.id)).role_keys == (
        "editor",
        "viewer",
    )


async def test_project_owner_manages_the_project_but_not_the_orgs_users(services, b2b):
    owner, acme, portal, grant = b2b["owner"], b2b["acme"], b2b["portal"], b2b["grant"]
    pete = await add_user(services, owner, acme, "pete")
    await services.memberships.add_member(
        owner, pete.id, Scope.PROJECT, portal.id, ["PROJECT_OWNER"]
    )
    pete_ctx = await sign_in(services, pete)

    await services.projects.rename_project(pete_ctx, portal.id, "Portal 2")
    await services.projects.add_project_role(pete_ctx, portal.id, "auditor")
    await services.apps.create_oidc_app(
        pete_ctx,
        portal.id,
        NewOidcApp("CLI", AppType.NATIVE, AuthMethod.NONE, ["http://127.0.0.1/callback"]),
    )
    await services.grants.change_project_grant(pete_ctx, grant.id, ["viewer", "auditor"])
    ann = await add_user(services, owner, acme, "ann")
    await services.grants.add_user_grant(pete_ctx, ann.id, portal.id, ["admin"])

    owner_user = b2b["owner_user"]
    await _refused_and_audited(
        services,
        pete_ctx,
        lambda: services.users.update_profile(pete_ctx, ann.id, ProfileChange(first_name="X")),
    )
    await _refused_and_audited(
        services, pete_ctx, lambda: services.users.get_user(pete_ctx, ann.id)
    )
    await _refused_and_audited(
        services,
        pete_ctx,
        lambda: services.users.set_password(pete_ctx, owner_user.id, "Taken-Over-1"),
    )
    await _refused_and_audited(
        services,
        pete_ctx,
        lambda: services.users.create_human_user(
            pete_ctx, acme, NewHumanUser(username="mole", first_name="M", last_name="M")
        ),
    )
    await _refused_and_audited(
        services, pete_ctx, lambda: services.projects.create_project(pete_ctx, acme, "Side")
    )
    await _refused_and_audited(
        services, pete_ctx, lambda: services.orgs.rename_org(pete_ctx, acme, "X")
    )
