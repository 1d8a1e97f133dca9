"""Permissions: organisation owners stay in their organisation; IAM owners reach all."""

from __future__ import annotations

import pytest

from zitui.core.context import Context, RequestMeta
from zitui.core.permissions import ROLES, Resource, roles_for_scope
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import PermissionDenied, Unauthenticated
from zitui.records import Scope


async def _user_in(services: Services, admin: Context, org_id: str, username: str) -> str:
    user = await services.users.create_human_user(
        admin,
        org_id,
        NewHumanUser(
            username=username,
            first_name=username.title(),
            last_name="Test",
            password="Their-Pass-1",
        ),
    )
    return user.id


async def _sign_in(services: Services, login: str) -> Context:
    return (await services.auth.login_operator(login, "Their-Pass-1", RequestMeta())).context


@pytest.fixture
async def two_orgs(services: Services, admin: Context) -> dict[str, object]:
    org_a = await services.orgs.create_org(admin, "Acme")
    org_b = await services.orgs.create_org(admin, "Beta")
    owner_id = await _user_in(services, admin, org_a.id, "owner")
    await services.memberships.add_member(admin, owner_id, Scope.ORG, org_a.id, ["ORG_OWNER"])
    plain_id = await _user_in(services, admin, org_a.id, "plain")
    return {
        "a": org_a,
        "b": org_b,
        "owner": await _sign_in(services, "owner@acme.127.0.0.1"),
        "plain_id": plain_id,
    }


async def test_org_owner_reads_and_changes_own_org(services, two_orgs):
    owner, org_a = two_orgs["owner"], two_orgs["a"]
    assert (await services.orgs.get_org(owner, org_a.id)).name == "Acme"
    renamed = await services.orgs.rename_org(owner, org_a.id, "Acme Corp")
    assert renamed.name == "Acme Corp"


async def test_org_owner_can_neither_read_nor_change_another_org(services, two_orgs):
    owner, org_b = two_orgs["owner"], two_orgs["b"]
    with pytest.raises(PermissionDenied):
        await services.orgs.get_org(owner, org_b.id)
    with pytest.raises(PermissionDenied):
        await services.orgs.rename_org(owner, org_b.id, "Hijacked")
    with pytest.raises(PermissionDenied):
        await services.users.create_human_user(
            owner, org_b.id, NewHumanUser(username="mole", first_name="M", last_name="M")
        )
    with pytest.raises(PermissionDenied):
        await services.memberships.add_member(
            owner, owner.actor.user_id, Scope.ORG, org_b.id, ["ORG_OWNER"]
        )
    with pytest.raises(PermissionDenied):
        await services.orgs.create_org(owner, "Gamma")
    listed = await services.orgs.list_orgs(owner)
    assert [org.name for org in listed.items] == ["Acme"]
    users = await services.users.list_users(owner, org_id=org_b.id)
    assert users.total == 0


async def test_iam_owner_reads_and_changes_every_org(services, admin, two_orgs):
    org_b = two_orgs["b"]
    assert (await services.orgs.get_org(admin, org_b.id)).name == "Beta"
    assert (await services.orgs.rename_org(admin, org_b.id, "Beta GmbH")).name == "Beta GmbH"
    listed = await services.orgs.list_orgs(admin)
    assert {org.name for org in listed.items} == {"ZITUI", "Acme", "Beta GmbH"}


async def test_user_without_membership_can_do_nothing_administrative(services, admin, two_orgs):
    org_a = two_orgs["a"]
    plain = Context(
        clock=services.clock,
        actor=_actor_without_memberships(two_orgs["plain_id"], org_a.id),
    )
    for attempt in (
        services.orgs.create_org(plain, "Delta"),
        services.orgs.get_org(plain, org_a.id),
        services.orgs.rename_org(plain, org_a.id, "Mine"),
        services.users.get_user(plain, admin.actor.user_id),
        services.users.set_password(plain, two_orgs["plain_id"], "Other-Pass-1"),
        services.users.lock_user(plain, two_orgs["plain_id"]),
        services.memberships.add_member(
            plain, two_orgs["plain_id"], Scope.ORG, org_a.id, ["ORG_OWNER"]
        ),
        services.memberships.list_members(plain, Scope.ORG, org_a.id),
    ):
        with pytest.raises(PermissionDenied):
            await attempt
    assert (await services.orgs.list_orgs(plain)).total == 0
    assert (await services.users.list_users(plain)).total == 0
    # The self side of the table: reading oneself needs no membership.
    assert (await services.users.get_user(plain, two_orgs["plain_id"])).id == two_orgs["plain_id"]
    with pytest.raises(PermissionDenied):
        await services.auth.login_operator("plain@acme.127.0.0.1", "Their-Pass-1", RequestMeta())


async def test_anonymous_context_is_unauthenticated(services):
    anonymous = Context(clock=services.clock)
    with pytest.raises(Unauthenticated):
        await services.orgs.create_org(anonymous, "Nobody")
    with pytest.raises(Unauthenticated):
        await services.instance.get_instance(anonymous)


async def test_roles_cannot_be_given_at_the_wrong_level(services, admin, two_orgs):
    from zitui.errors import InvalidArgument

    with pytest.raises(InvalidArgument) as caught:
        await services.memberships.add_member(
            admin, two_orgs["plain_id"], Scope.ORG, two_orgs["a"].id, ["IAM_OWNER"]
        )
    assert caught.value.field == "roles"


def test_role_table_is_data_with_zitadel_role_names():
    assert {
        "IAM_OWNER",
        "IAM_OWNER_VIEWER",
        "ORG_OWNER",
        "ORG_USER_MANAGER",
        "PROJECT_OWNER",
        "PROJECT_GRANT_OWNER",
    } <= set(ROLES)
    assert "IAM_OWNER" in roles_for_scope(Scope.INSTANCE)
    assert "ORG_OWNER" not in roles_for_scope(Scope.INSTANCE)
    level, org_owner = ROLES["ORG_OWNER"]
    assert level is Scope.ORG and "org.write" in org_owner and "org.create" not in org_owner
    assert all(p.endswith(".read") for p in ROLES["IAM_OWNER_VIEWER"][1])


def test_project_membership_covers_only_its_project():
    from datetime import UTC, datetime

    from zitui.core.permissions import allowed
    from zitui.records import Membership

    member = Membership(
        id="m",
        user_id="u",
        scope=Scope.PROJECT,
        scope_id="p1",
        org_id="o",
        roles=("PROJECT_OWNER",),
        created_at=datetime.now(UTC),
    )
    assert allowed([member], "project.write", Resource(org_id="o", project_id="p1"))
    assert not allowed([member], "project.write", Resource(org_id="o", project_id="p2"))
    assert not allowed([member], "org.write", Resource(org_id="o"))


def _actor_without_memberships(user_id: str, org_id: str):
    from zitui.core.context import Actor

    return Actor(user_id=user_id, org_id=org_id, login_name="plain")
