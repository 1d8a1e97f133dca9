"""Projects, apps and grants on PostgreSQL: the same SQL, conflicts and cascades as on SQLite."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from tests.test_core_projects import PASSWORD, add_user, appoint
from zitui.core.apps import NewOidcApp
from zitui.core.context import RequestMeta
from zitui.core.projects import NewProjectRole
from zitui.core.services import open_services
from zitui.errors import AlreadyExists
from zitui.records import AppType, AuthMethod, Scope


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


async def test_projects_apps_and_grants_on_postgres(postgres_url: str, tmp_path: Path, clock):
    services, _ = await open_services(
        make_settings(tmp_path, database_url=postgres_url), clock=clock
    )
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        acme = (await services.orgs.create_org(admin, "Acme")).id
        beta = (await services.orgs.create_org(admin, "Beta")).id
        owner_user = await add_user(services, admin, acme, "owner")
        await appoint(services, owner_user, Scope.ORG, acme, ["ORG_OWNER"])
        owner = (
            await services.auth.login_operator(owner_user.login_name, PASSWORD, RequestMeta())
        ).context

        portal = await services.projects.create_project(owner, acme, "Portal_1")
        await services.projects.create_project(owner, acme, "Shop")
        with pytest.raises(AlreadyExists):
            await services.projects.create_project(owner, acme, "PORTAL_1")
        await services.projects.add_project_roles(
            owner, portal.id, [NewProjectRole(k) for k in ("admin", "editor", "viewer")]
        )
        # The duplicate is caught by the database; the savepoint keeps the transaction usable.
        with pytest.raises(AlreadyExists) as duplicate:
            await services.projects.add_project_role(owner, portal.id, "admin")
        assert duplicate.value.field == "key"
        with pytest.raises(AlreadyExists):
            await services.projects.add_project_roles(
                owner, portal.id, [NewProjectRole("auditor"), NewProjectRole("viewer")]
            )
        roles = await services.projects.list_project_roles(owner, portal.id)
        assert [r.key for r in roles.items] == ["admin", "editor", "viewer"]
        listed = await services.projects.list_projects(owner, search="_")
        assert [p.name for p in listed.items] == ["Portal_1"]

        app, secret = await services.apps.create_oidc_app(
            owner,
            portal.id,
            NewOidcApp("Web", AppType.WEB, AuthMethod.BASIC, ["https://portal.example.com/cb"]),
        )
        other_app, _ = await services.apps.create_oidc_app(
            owner, portal.id, NewOidcApp("API", AppType.API, AuthMethod.PRIVATE_KEY_JWT, [])
        )
        async with services.store.transaction() as tx:
            assert await tx.apps.find_secret_digest(app.client_id) == (
                hashlib.sha256(secret.encode()).hexdigest()
            )
            with pytest.raises(AlreadyExists) as taken:
                await tx.apps.update(replace(other_app, name="Web"))
            assert taken.value.field == "name"
            with pytest.raises(AlreadyExists) as same_client:
                await tx.apps.insert(replace(other_app, id="x", name="X"), secret_digest=None)
            assert same_client.value.field == "client_id"
            assert (await tx.apps.find_by_client_id(app.client_id)).name == "Web"

        grant = await services.grants.grant_project(owner, portal.id, beta, ["editor", "viewer"])
        carla = await add_user(services, admin, beta, "carla")
        await appoint(services, carla, Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER"])
        through = await services.grants.add_user_grant(
            admin, carla.id, portal.id, ["editor"], project_grant_id=grant.id
        )
        ann = await add_user(services, admin, acme, "ann")
        direct = await services.grants.add_user_grant(owner, ann.id, portal.id, ["editor"])
        assert [g.id for g in (await services.grants.list_user_grants(owner)).items] == [direct.id]
        customer_view = await services.grants.list_granted_projects(admin, beta)
        assert [g.project_name for g in customer_view.items] == ["Portal_1"]

        await services.projects.remove_project_role(owner, portal.id, "editor")
        assert (await services.grants.get_project_grant(owner, grant.id)).role_keys == ("viewer",)
        assert (await services.grants.get_user_grant(admin, through.id)).role_keys == ()
        assert (await services.grants.get_user_grant(admin, direct.id)).role_keys == ()

        await services.projects.remove_project(owner, portal.id)
        async with services.store.reader() as tx:
            assert await tx.project_grants.find(grant.id) is None
            assert await tx.apps.find_by_client_id(app.client_id) is None
            assert await tx.user_grants.list_for_user_project(ann.id, portal.id) == []
            assert await tx.memberships.list_for_scope(Scope.PROJECT_GRANT, grant.id) == []
    finally:
        await services.close()


async def test_private_labeling_on_postgres(postgres_url: str, tmp_path: Path, clock):
    from zitui.core.login.steps import FlowView
    from zitui.core.oidc.authorization_request import AuthorizeParams
    from zitui.core.oidc.responses import ToLogin
    from zitui.records import PrivateLabeling

    services, _ = await open_services(
        make_settings(tmp_path, database_url=postgres_url), clock=clock
    )
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        acme = (await services.orgs.create_org(admin, "Acme Labels")).id
        beta = (await services.orgs.create_org(admin, "Beta Labels")).id
        enforce = PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY
        project = await services.projects.create_project(
            admin, acme, "Labelled", private_labeling_setting=enforce.value
        )
        assert (await services.projects.get_project(admin, project.id)) == project
        new = NewOidcApp("Web", AppType.WEB, AuthMethod.NONE, ["https://labels.example.com/cb"])
        app, _ = await services.apps.create_oidc_app(admin, project.id, new)
        params = {
            "client_id": app.client_id,
            "redirect_uri": "https://labels.example.com/cb",
            "response_type": "code",
            "scope": "openid",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
        answer = await services.auth_requests.authorize(admin, AuthorizeParams(params))
        assert isinstance(answer, ToLogin)
        bea = await add_user(services, admin, beta, "bea")

        def flow(user_id: str = "") -> FlowView:
            return FlowView("f", "", auth_request_id=answer.auth_request_id, user_id=user_id)

        assert (await services.labeling.for_flow(flow(bea.id))).org_id == acme
        allow = PrivateLabeling.ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY.value
        await services.projects.update_project_settings(
            admin, project.id, private_labeling_setting=allow
        )
        assert (await services.labeling.for_flow(flow())).org_id == acme
        assert (await services.labeling.for_flow(flow(bea.id))).org_id == beta
    finally:
        await services.close()
