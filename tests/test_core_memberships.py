"""Managers at all four scopes, and the rule that the instance keeps an active IAM_OWNER."""

from __future__ import annotations

from functools import partial

import pytest

from tests.test_core_audit import _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from tests.test_core_permissions import _sign_in, _user_in
from zitui.core.context import Context
from zitui.core.ids import new_id
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PreconditionFailed
from zitui.records import (
    Instance,
    Organization,
    Project,
    ProjectGrant,
    Scope,
    State,
)


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


@pytest.fixture
async def instance(services: Services, admin: Context) -> Instance:
    return await services.instance.get_instance(admin)


@pytest.fixture
async def bob_id(services: Services, admin: Context, acme: Organization) -> str:
    return await _user_in(services, admin, acme.id, "bob")


@pytest.fixture
async def outsider(services: Services, admin: Context) -> Context:
    return await sign_in_org_owner(services, admin, "Other")


async def _project(services: Services, org_id: str) -> Project:
    now = services.clock.now()
    project = Project(
        id=new_id(),
        org_id=org_id,
        name="Shop",
        state=State.ACTIVE,
        role_assertion=False,
        role_check=False,
        has_project_check=False,
        created_at=now,
        updated_at=now,
    )
    async with services.store.transaction() as tx:
        await tx.projects.insert(project)
    return project


async def _grant(services: Services, project: Project, granted_org_id: str) -> ProjectGrant:
    grant = ProjectGrant(
        id=new_id(),
        project_id=project.id,
        project_name=project.name,
        owner_org_id=project.org_id,
        granted_org_id=granted_org_id,
        role_keys=(),
        state=State.ACTIVE,
        created_at=services.clock.now(),
    )
    async with services.store.transaction() as tx:
        await tx.project_grants.insert(grant)
    return grant


async def test_org_member_added_changed_removed(services, admin, acme, bob_id):
    memberships = services.memberships
    added = await _one_event(
        services,
        lambda: memberships.add_member(admin, bob_id, Scope.ORG, acme.id, ["ORG_OWNER_VIEWER"]),
    )
    assert (added.event_type, added.aggregate_id, added.org_id) == (
        "org.member.added",
        acme.id,
        acme.id,
    )
    with pytest.raises(AlreadyExists) as caught:
        await memberships.add_member(admin, bob_id, Scope.ORG, acme.id, ["ORG_OWNER"])
    assert caught.value.field == "user_id"

    changed = await _one_event(
        services,
        lambda: memberships.change_member(
            admin, bob_id, Scope.ORG, acme.id, ["ORG_USER_MANAGER", "ORG_SETTINGS_MANAGER"]
        ),
    )
    assert (changed.event_type, changed.payload) == (
        "org.member.changed",
        {"user_id": bob_id, "roles": ["ORG_USER_MANAGER", "ORG_SETTINGS_MANAGER"]},
    )
    [member] = await memberships.list_members(admin, Scope.ORG, acme.id)
    assert member.roles == ("ORG_USER_MANAGER", "ORG_SETTINGS_MANAGER")
    await _no_event(
        services,
        lambda: memberships.change_member(
            admin, bob_id, Scope.ORG, acme.id, ["ORG_SETTINGS_MANAGER", "ORG_USER_MANAGER"]
        ),
        PreconditionFailed,
    )
    await _no_event(
        services,
        lambda: memberships.change_member(admin, bob_id, Scope.ORG, acme.id, ["IAM_OWNER"]),
        InvalidArgument,
    )
    await _no_event(
        services,
        lambda: memberships.change_member(admin, bob_id, Scope.ORG, acme.id, []),
        InvalidArgument,
    )

    removed = await _one_event(
        services, lambda: memberships.remove_member(admin, bob_id, Scope.ORG, acme.id)
    )
    assert (removed.event_type, removed.payload) == ("org.member.removed", {"user_id": bob_id})
    assert await memberships.list_members(admin, Scope.ORG, acme.id) == []
    await _no_event(
        services, lambda: memberships.remove_member(admin, bob_id, Scope.ORG, acme.id), NotFound
    )
    await _no_event(
        services,
        lambda: memberships.change_member(admin, bob_id, Scope.ORG, acme.id, ["ORG_OWNER"]),
        NotFound,
    )


async def test_instance_members(services, admin, instance, bob_id):
    added = await _one_event(
        services,
        lambda: services.memberships.add_member(
            admin, bob_id, Scope.INSTANCE, instance.id, ["IAM_OWNER_VIEWER"]
        ),
    )
    assert (added.event_type, added.aggregate_id) == ("instance.member.added", instance.id)
    members = await services.memberships.list_members(admin, Scope.INSTANCE, instance.id)
    assert {m.user_id for m in members} == {admin.actor.user_id, bob_id}
    with pytest.raises(InvalidArgument) as caught:
        await services.memberships.add_member(
            admin, bob_id, Scope.INSTANCE, instance.id, ["ORG_OWNER"]
        )
    assert caught.value.field == "roles"
    with pytest.raises(NotFound) as caught:
        await services.memberships.add_member(
            admin, bob_id, Scope.INSTANCE, "another-instance", ["IAM_OWNER"]
        )
    assert caught.value.field == "scope_id"


async def test_last_iam_owner_keeps_the_role(services, admin, instance, acme, bob_id):
    memberships, admin_id = services.memberships, admin.actor.user_id
    for command in (
        lambda: memberships.change_member(
            admin, admin_id, Scope.INSTANCE, instance.id, ["IAM_OWNER_VIEWER"]
        ),
        lambda: memberships.remove_member(admin, admin_id, Scope.INSTANCE, instance.id),
    ):
        await _no_event(services, command, PreconditionFailed)
        with pytest.raises(PreconditionFailed) as caught:
            await command()
        assert caught.value.code == "membership.last_iam_owner"

    # An IAM_OWNER who cannot sign in (never activated) does not count.
    dora = await services.users.create_human_user(admin, acme.id, _human("dora"))
    await memberships.add_member(admin, dora.id, Scope.INSTANCE, instance.id, ["IAM_OWNER"])
    with pytest.raises(PreconditionFailed):
        await memberships.remove_member(admin, admin_id, Scope.INSTANCE, instance.id)

    await memberships.add_member(admin, bob_id, Scope.INSTANCE, instance.id, ["IAM_OWNER"])
    await memberships.change_member(
        admin, admin_id, Scope.INSTANCE, instance.id, ["IAM_OWNER_VIEWER", "IAM_ORG_MANAGER"]
    )
    bob = await _sign_in(services, f"bob@{acme.primary_domain}")
    await memberships.remove_member(bob, admin_id, Scope.INSTANCE, instance.id)
    with pytest.raises(PreconditionFailed):
        await memberships.remove_member(bob, bob_id, Scope.INSTANCE, instance.id)


async def test_project_members(services, admin, acme, bob_id):
    project = await _project(services, acme.id)
    added = await _one_event(
        services,
        lambda: services.memberships.add_member(
            admin, bob_id, Scope.PROJECT, project.id, ["PROJECT_OWNER"]
        ),
    )
    assert (added.event_type, added.aggregate_id, added.org_id) == (
        "project.member.added",
        project.id,
        acme.id,
    )
    [member] = await services.memberships.list_members(admin, Scope.PROJECT, project.id)
    assert (member.org_id, member.roles) == (acme.id, ("PROJECT_OWNER",))
    with pytest.raises(InvalidArgument):
        await services.memberships.add_member(
            admin, bob_id, Scope.PROJECT, project.id, ["ORG_OWNER"]
        )
    with pytest.raises(NotFound) as caught:
        await services.memberships.add_member(
            admin, bob_id, Scope.PROJECT, "no-project", ["PROJECT_OWNER"]
        )
    assert caught.value.field == "scope_id"

    # The project owner manages the project's managers, but nothing of the organisation.
    owner = await _sign_in(services, f"bob@{acme.primary_domain}")
    carol_id = await _user_in(services, admin, acme.id, "carol")
    await services.memberships.add_member(
        owner, carol_id, Scope.PROJECT, project.id, ["PROJECT_OWNER_VIEWER"]
    )
    changed = await _one_event(
        services,
        lambda: services.memberships.change_member(
            owner, carol_id, Scope.PROJECT, project.id, ["PROJECT_OWNER"]
        ),
    )
    assert changed.event_type == "project.member.changed"
    await assert_denied(
        services, lambda: services.memberships.list_members(owner, Scope.ORG, acme.id)
    )
    removed = await _one_event(
        services,
        lambda: services.memberships.remove_member(owner, carol_id, Scope.PROJECT, project.id),
    )
    assert removed.event_type == "project.member.removed"


async def test_project_grant_members_belong_to_the_granted_org(services, admin, acme, bob_id):
    project = await _project(services, acme.id)
    beta_owner = await sign_in_org_owner(services, admin, "Beta")
    beta = await services.orgs.find_org_by_name(admin, "Beta")
    grant = await _grant(services, project, beta.id)
    dan_id = await _user_in(services, admin, beta.id, "dan")

    added = await _one_event(
        services,
        lambda: services.memberships.add_member(
            beta_owner, dan_id, Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER"]
        ),
    )
    assert (added.event_type, added.aggregate_id, added.org_id) == (
        "project_grant.member.added",
        grant.id,
        beta.id,
    )
    members = await services.memberships.list_members(beta_owner, Scope.PROJECT_GRANT, grant.id)
    assert [(m.user_id, m.org_id) for m in members] == [(dan_id, beta.id)]
    with pytest.raises(NotFound):
        await services.memberships.list_members(admin, Scope.PROJECT_GRANT, "no-grant")

    dan = await _sign_in(services, f"dan@{beta.primary_domain}")
    await assert_denied(
        services,
        lambda: services.memberships.add_member(
            dan, bob_id, Scope.PROJECT, project.id, ["PROJECT_OWNER"]
        ),
    )
    changed = await _one_event(
        services,
        lambda: services.memberships.change_member(
            dan, dan_id, Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER_VIEWER"]
        ),
    )
    assert changed.event_type == "project_grant.member.changed"
    removed = await _one_event(
        services,
        lambda: services.memberships.remove_member(
            beta_owner, dan_id, Scope.PROJECT_GRANT, grant.id
        ),
    )
    assert removed.event_type == "project_grant.member.removed"


async def test_list_user_memberships_shows_what_the_actor_may_see(
    services, admin, instance, acme, bob_id
):
    project = await _project(services, acme.id)
    memberships = services.memberships
    await memberships.add_member(admin, bob_id, Scope.INSTANCE, instance.id, ["IAM_OWNER_VIEWER"])
    await memberships.add_member(admin, bob_id, Scope.ORG, acme.id, ["ORG_OWNER"])
    await memberships.add_member(admin, bob_id, Scope.PROJECT, project.id, ["PROJECT_OWNER"])
    everything = await memberships.list_user_memberships(admin, bob_id)
    assert [m.scope for m in everything] == [Scope.INSTANCE, Scope.ORG, Scope.PROJECT]

    carol_id = await _user_in(services, admin, acme.id, "carol")
    await memberships.add_member(admin, carol_id, Scope.ORG, acme.id, ["ORG_OWNER"])
    carol = await _sign_in(services, f"carol@{acme.primary_domain}")
    visible = await memberships.list_user_memberships(carol, bob_id)
    assert [m.scope for m in visible] == [Scope.ORG, Scope.PROJECT]
    with pytest.raises(NotFound):
        await memberships.list_user_memberships(admin, "nobody")


async def test_removed_project_membership_goes_with_the_org(services, admin, acme, bob_id):
    project = await _project(services, acme.id)
    outside_id = await _user_in(services, admin, await _default_org(services, admin), "eve")
    await services.memberships.add_member(
        admin, outside_id, Scope.PROJECT, project.id, ["PROJECT_OWNER"]
    )
    await services.orgs.remove_org(admin, acme.id)
    assert await services.memberships.list_user_memberships(admin, outside_id) == []


async def test_org_owner_of_another_org_is_refused(
    services, admin, instance, acme, bob_id, outsider
):
    project = await _project(services, acme.id)
    memberships = services.memberships
    own_id = outsider.actor.user_id
    targets = [
        (Scope.INSTANCE, instance.id, "IAM_OWNER"),
        (Scope.ORG, acme.id, "ORG_OWNER"),
        (Scope.PROJECT, project.id, "PROJECT_OWNER"),
    ]
    for scope, scope_id, role in targets:
        await memberships.add_member(admin, bob_id, scope, scope_id, [role])
        for command in (
            partial(memberships.add_member, outsider, own_id, scope, scope_id, [role]),
            partial(memberships.change_member, outsider, bob_id, scope, scope_id, [role]),
            partial(memberships.remove_member, outsider, bob_id, scope, scope_id),
            partial(memberships.list_members, outsider, scope, scope_id),
        ):
            await assert_denied(services, command)
    await assert_denied(services, partial(memberships.list_user_memberships, outsider, bob_id))


def _human(username: str) -> NewHumanUser:
    return NewHumanUser(username=username, first_name=username.title(), last_name="Test")


async def _default_org(services: Services, admin: Context) -> str:
    return (await services.instance.get_instance(admin)).default_org_id
