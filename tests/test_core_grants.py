"""Project grants and user grants: roles within bounds, one event per command, cascades."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_projects import add_user, appoint, denied, manager
from zitui.core.context import Context
from zitui.core.projects import NewProjectRole
from zitui.core.services import Services
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ZituiError,
)
from zitui.records import Scope, State


async def refused(
    services: Services,
    command: Callable[[], Awaitable[Any]],
    error: type[ZituiError],
    field: str,
) -> None:
    """The command fails with `error` naming `field`, and writes no event."""
    before = len(await _events(services))
    with pytest.raises(error) as caught:
        await command()
    assert caught.value.field == field, caught.value.message
    assert len(await _events(services)) == before


@pytest.fixture
async def world(services: Services, admin: Context) -> dict[str, Any]:
    """Acme owns "Portal" (admin, editor, viewer); Beta and Gamma are customers."""
    acme = (await services.orgs.create_org(admin, "Acme")).id
    beta = (await services.orgs.create_org(admin, "Beta")).id
    gamma = (await services.orgs.create_org(admin, "Gamma")).id
    owner = await manager(services, admin, acme, "owner", Scope.ORG, acme, ["ORG_OWNER"])
    portal = await services.projects.create_project(owner, acme, "Portal")
    await services.projects.add_project_roles(
        owner, portal.id, [NewProjectRole(k) for k in ("admin", "editor", "viewer")]
    )
    return {
        "acme": acme,
        "beta": beta,
        "gamma": gamma,
        "owner": owner,
        "portal": portal.id,
        "beta_owner": await manager(services, admin, beta, "bert", Scope.ORG, beta, ["ORG_OWNER"]),
    }


# --- project grants --------------------------------------------------------------------------


async def test_grant_project_writes_one_event(services, world):
    owner, portal, beta = world["owner"], world["portal"], world["beta"]
    made: list[Any] = []

    async def grant() -> None:
        made.append(
            await services.grants.grant_project(owner, portal, beta, ["editor", "viewer", "editor"])
        )

    event = await _one_event(services, grant)
    grant_ = made[0]
    assert (grant_.project_name, grant_.owner_org_id, grant_.granted_org_id) == (
        "Portal",
        world["acme"],
        beta,
    )
    assert grant_.role_keys == ("editor", "viewer") and grant_.state is State.ACTIVE
    assert (event.event_type, event.aggregate_id, event.org_id) == (
        "project.grant.added",
        grant_.id,
        world["acme"],
    )
    assert event.payload == {
        "project_id": portal,
        "granted_org_id": beta,
        "role_keys": ["editor", "viewer"],
    }
    async with services.store.reader() as tx:
        assert await tx.project_grants.find(grant_.id) == grant_


async def test_grant_project_refusals_name_the_field(services, world):
    owner, portal, beta = world["owner"], world["portal"], world["beta"]
    await services.grants.grant_project(owner, portal, beta, ["viewer"])
    cases = [
        (lambda: services.grants.grant_project(owner, portal, beta, ["viewer"]), AlreadyExists,
         "granted_org_id"),
        (lambda: services.grants.grant_project(owner, portal, world["acme"], []), InvalidArgument,
         "granted_org_id"),
        (lambda: services.grants.grant_project(owner, portal, world["gamma"], ["owner"]),
         InvalidArgument, "role_keys"),
        (lambda: services.grants.grant_project(owner, portal, world["gamma"], "viewer"),
         InvalidArgument, "role_keys"),
        (lambda: services.grants.grant_project(owner, portal, world["gamma"], ["bad key"]),
         InvalidArgument, "role_keys"),
        (lambda: services.grants.grant_project(owner, portal, "no-such-org", []), NotFound,
         "granted_org_id"),
        (lambda: services.grants.grant_project(owner, "no-such-project", beta, []), NotFound,
         "project_id"),
    ]  # fmt: skip
    for command, error, field in cases:
        await refused(services, command, error, field)


async def test_change_project_grant_takes_roles_from_its_user_grants_only(services, admin, world):
    owner, portal, beta = world["owner"], world["portal"], world["beta"]
    grant = await services.grants.grant_project(owner, portal, beta, ["editor", "viewer"])
    carla = await add_user(services, admin, beta, "carla")
    through = await services.grants.add_user_grant(
        admin, carla.id, portal, ["editor", "viewer"], project_grant_id=grant.id
    )
    ann = await add_user(services, admin, world["acme"], "ann")
    direct = await services.grants.add_user_grant(owner, ann.id, portal, ["editor"])

    event = await _one_event(
        services,
        lambda: services.grants.change_project_grant(owner, grant.id, ["viewer", "admin"]),
    )
    assert event.event_type == "project.grant.changed"
    assert event.payload == {
        "project_id": portal,
        "role_keys": ["viewer", "admin"],
        "removed_role_keys": ["editor"],
        "user_grants": 1,
    }
    assert (await services.grants.get_project_grant(owner, grant.id)).role_keys == (
        "viewer",
        "admin",
    )
    assert (await services.grants.get_user_grant(admin, through.id)).role_keys == ("viewer",)
    assert (await services.grants.get_user_grant(admin, direct.id)).role_keys == ("editor",)

    before = len(await _events(services))
    await services.grants.change_project_grant(owner, grant.id, ["admin", "viewer"])
    assert len(await _events(services)) == before, "the same roles in another order: no change"
    await _no_event(
        services,
        lambda: services.grants.change_project_grant(owner, grant.id, ["ghost"]),
        InvalidArgument,
    )


async def test_deactivate_and_reactivate_project_grant(services, world):
    grant = await services.grants.grant_project(
        world["owner"], world["portal"], world["beta"], ["viewer"]
    )
    owner = world["owner"]
    event = await _one_event(
        services, lambda: services.grants.deactivate_project_grant(owner, grant.id)
    )
    assert event.event_type == "project.grant.deactivated"
    assert (await services.grants.get_project_grant(owner, grant.id)).state is State.INACTIVE
    await _no_event(
        services,
        lambda: services.grants.deactivate_project_grant(owner, grant.id),
        PreconditionFailed,
    )
    event = await _one_event(
        services, lambda: services.grants.reactivate_project_grant(owner, grant.id)
    )
    assert event.event_type == "project.grant.reactivated"


async def test_remove_project_grant_cascades_in_one_event(services, admin, world, settings):
    owner, portal, beta = world["owner"], world["portal"], world["beta"]
    grant = await services.grants.grant_project(owner, portal, beta, ["viewer"])
    other = await services.grants.grant_project(owner, portal, world["gamma"], ["viewer"])
    carla = await add_user(services, admin, beta, "carla")
    await services.grants.add_user_grant(
        admin, carla.id, portal, ["viewer"], project_grant_id=grant.id
    )
    await appoint(services, carla, Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER"])
    gina = await add_user(services, admin, world["gamma"], "gina")
    kept = await services.grants.add_user_grant(
        admin, gina.id, portal, ["viewer"], project_grant_id=other.id
    )

    event = await _one_event(
        services, lambda: services.grants.remove_project_grant(owner, grant.id)
    )
    assert (event.event_type, event.payload) == (
        "project.grant.removed",
        {"project_id": portal, "granted_org_id": beta, "user_grants": 1},
    )
    assert rows(settings.data_dir, "SELECT id FROM user_grants") == [(kept.id,)]
    assert rows(
        settings.data_dir, "SELECT count(*) FROM memberships WHERE scope = 'project_grant'"
    ) == [(0,)]
    with pytest.raises(NotFound):
        await services.grants.get_project_grant(owner, grant.id)


async def test_both_sides_see_a_grant_and_nobody_else(services, admin, world):
    owner, portal, beta, gamma = world["owner"], world["portal"], world["beta"], world["gamma"]
    to_beta = await services.grants.grant_project(owner, portal, beta, ["viewer"])
    to_gamma = await services.grants.grant_project(owner, portal, gamma, ["editor"])
    beta_owner = world["beta_owner"]

    listed = await services.grants.list_project_grants(owner, portal)
    assert [g.granted_org_id for g in listed.items] == [beta, gamma] and listed.total == 2
    assert await services.grants.get_project_grant(beta_owner, to_beta.id) == to_beta
    granted = await services.grants.list_granted_projects(beta_owner, beta)
    assert [(g.id, g.project_name) for g in granted.items] == [(to_beta.id, "Portal")]

    await denied(
        services,
        lambda: services.grants.get_project_grant(beta_owner, to_gamma.id),
        "project.grant.read",
    )
    await denied(
        services,
        lambda: services.grants.list_project_grants(beta_owner, portal),
        "project.grant.read",
    )
    await denied(
        services,
        lambda: services.grants.change_project_grant(beta_owner, to_beta.id, ["admin"]),
        "project.grant.write",
    )
    assert (await services.grants.list_granted_projects(beta_owner, gamma)).total == 0
    assert (await services.grants.list_granted_projects(owner, beta)).total == 0
    assert (await services.grants.list_granted_projects(admin, gamma)).total == 1

    # A manager of one grant sees that grant from the customer's side and no other.
    gina = await manager(
        services, admin, gamma, "gina", Scope.PROJECT_GRANT, to_gamma.id, ["PROJECT_GRANT_OWNER"]
    )
    assert [g.id for g in (await services.grants.list_granted_projects(gina, gamma)).items] == [
        to_gamma.id
    ]
    assert await services.grants.get_project_grant(gina, to_gamma.id) == to_gamma
    with pytest.raises(PermissionDenied):
        await services.grants.get_project_grant(gina, to_beta.id)


# --- user grants ----------------------------------------------------------------------------


async def test_direct_user_grant_writes_one_event(services, admin, world):
    owner, portal, acme = world["owner"], world["portal"], world["acme"]
    ann = await add_user(services, admin, acme, "ann")
    made: list[Any] = []

    async def add() -> None:
        made.append(await services.grants.add_user_grant(owner, ann.id, portal, ["admin"]))

    event = await _one_event(services, add)
    grant = made[0]
    assert (grant.user_id, grant.project_id, grant.org_id, grant.project_grant_id) == (
        ann.id,
        portal,
        acme,
        None,
    )
    assert (event.event_type, event.aggregate_id, event.org_id) == (
        "user.grant.added",
        grant.id,
        acme,
    )
    assert event.payload == {
        "project_id": portal,
        "user_id": ann.id,
        "project_grant_id": None,
        "role_keys": ["admin"],
    }
    assert await services.grants.find_user_grant(owner, ann.id, portal) == grant
    assert await services.grants.find_user_grant(owner, "nobody", portal) is None
    async with services.store.reader() as tx:
        assert await tx.user_grants.list_for_user_project(ann.id, portal) == [grant]


async def test_owner_may_grant_to_users_of_other_orgs(services, admin, world):
    """ZITADEL's external user grant: the user's org is not the project's."""
    gina = await add_user(services, admin, world["gamma"], "gina")
    grant = await services.grants.add_user_grant(
        world["owner"], gina.id, world["portal"], ["viewer"]
    )
    assert grant.org_id == world["acme"]


async def test_direct_user_grant_refusals(services, admin, world):
    owner, portal = world["owner"], world["portal"]
    ann = await add_user(services, admin, world["acme"], "ann")
    await services.grants.add_user_grant(owner, ann.id, portal, ["viewer"])
    bob = await add_user(services, admin, world["acme"], "bob")
    cases = [
        (lambda: services.grants.add_user_grant(owner, ann.id, portal, ["admin"]), AlreadyExists,
         "user_id"),
        (lambda: services.grants.add_user_grant(owner, bob.id, portal, ["ghost"]),
         InvalidArgument, "role_keys"),
        (lambda: services.grants.add_user_grant(owner, "nobody", portal, []), NotFound,
         "user_id"),
        (lambda: services.grants.add_user_grant(owner, bob.id, "no-project", []), NotFound,
         "project_id"),
        (lambda: services.grants.add_user_grant(
            owner, bob.id, portal, [], project_grant_id="no-grant"), NotFound,
         "project_grant_id"),
    ]  # fmt: skip
    for command, error, field in cases:
        await refused(services, command, error, field)


async def test_user_grant_through_a_project_grant(services, admin, world):
    owner, portal, beta = world["owner"], world["portal"], world["beta"]
    grant = await services.grants.grant_project(owner, portal, beta, ["editor", "viewer"])
    carla = await add_user(services, admin, beta, "carla")
    beta_owner = world["beta_owner"]

    event = await _one_event(
        services,
        lambda: services.grants.add_user_grant(
            beta_owner, carla.id, portal, ["editor"], project_grant_id=grant.id
        ),
    )
    assert (event.event_type, event.org_id) == ("user.grant.added", beta)
    made = await services.grants.find_user_grant(beta_owner, carla.id, portal)
    assert (made.org_id, made.project_grant_id, made.role_keys) == (beta, grant.id, ("editor",))

    dave = await add_user(services, admin, beta, "dave")
    ann = await add_user(services, admin, world["acme"], "ann")
    other_project = await services.projects.create_project(owner, world["acme"], "Shop")
    cases = [
        (lambda: services.grants.add_user_grant(
            beta_owner, dave.id, portal, ["admin"], project_grant_id=grant.id),
         InvalidArgument, "role_keys"),
        (lambda: services.grants.add_user_grant(
            admin, ann.id, portal, ["viewer"], project_grant_id=grant.id),
         InvalidArgument, "user_id"),
        (lambda: services.grants.add_user_grant(
            admin, dave.id, other_project.id, [], project_grant_id=grant.id),
         InvalidArgument, "project_grant_id"),
    ]  # fmt: skip
    for command, error, field in cases:
        await refused(services, command, error, field)

    await services.grants.deactivate_project_grant(owner, grant.id)
    with pytest.raises(PreconditionFailed) as inactive:
        await services.grants.add_user_grant(
            beta_owner, dave.id, portal, ["viewer"], project_grant_id=grant.id
        )
    assert inactive.value.field == "project_grant_id"


async def test_change_remove_and_state_of_user_grants(services, admin, world):
    owner, portal, beta = world["owner"], world["portal"], world["beta"]
    grant = await services.grants.grant_project(owner, portal, beta, ["editor", "viewer"])
    carla = await add_user(services, admin, beta, "carla")
    beta_owner = world["beta_owner"]
    user_grant = await services.grants.add_user_grant(
        beta_owner, carla.id, portal, ["viewer"], project_grant_id=grant.id
    )

    event = await _one_event(
        services,
        lambda: services.grants.change_user_grant(beta_owner, user_grant.id, ["editor", "viewer"]),
    )
    assert (event.event_type, event.payload) == (
        "user.grant.changed",
        {"project_id": portal, "role_keys": ["editor", "viewer"]},
    )
    with pytest.raises(InvalidArgument) as caught:
        await services.grants.change_user_grant(beta_owner, user_grant.id, ["admin"])
    assert caught.value.field == "role_keys"
    before = len(await _events(services))
    await services.grants.change_user_grant(beta_owner, user_grant.id, ["viewer", "editor"])
    assert len(await _events(services)) == before

    event = await _one_event(
        services, lambda: services.grants.deactivate_user_grant(beta_owner, user_grant.id)
    )
    assert event.event_type == "user.grant.deactivated"
    got = await services.grants.get_user_grant(beta_owner, user_grant.id)
    assert got.state is State.INACTIVE
    await _no_event(
        services,
        lambda: services.grants.deactivate_user_grant(beta_owner, user_grant.id),
        PreconditionFailed,
    )
    event = await _one_event(
        services, lambda: services.grants.reactivate_user_grant(beta_owner, user_grant.id)
    )
    assert event.event_type == "user.grant.reactivated"

    # The project's owner does not manage the customer's authorizations.
    await denied(
        services,
        lambda: services.grants.remove_user_grant(owner, user_grant.id),
        "user.grant.delete",
    )
    event = await _one_event(
        services, lambda: services.grants.remove_user_grant(beta_owner, user_grant.id)
    )
    assert (event.event_type, event.payload) == (
        "user.grant.removed",
        {"project_id": portal, "user_id": carla.id},
    )
    with pytest.raises(NotFound):
        await services.grants.get_user_grant(beta_owner, user_grant.id)


async def test_list_user_grants_shows_what_the_actor_may_read(services, admin, world):
    owner, portal, acme, beta = world["owner"], world["portal"], world["acme"], world["beta"]
    grant = await services.grants.grant_project(owner, portal, beta, ["viewer"])
    ann = await add_user(services, admin, acme, "ann")
    carla = await add_user(services, admin, beta, "carla")
    direct = await services.grants.add_user_grant(owner, ann.id, portal, ["admin"])
    through = await services.grants.add_user_grant(
        admin, carla.id, portal, ["viewer"], project_grant_id=grant.id
    )
    shop = await services.projects.create_project(owner, acme, "Shop")
    other = await services.grants.add_user_grant(owner, ann.id, shop.id, [])

    def ids(page: Any) -> list[str]:
        return [g.id for g in page.items]

    assert ids(await services.grants.list_user_grants(admin)) == [direct.id, through.id, other.id]
    assert ids(await services.grants.list_user_grants(owner)) == [direct.id, other.id]
    assert ids(await services.grants.list_user_grants(owner, project_id=portal)) == [direct.id]
    assert ids(await services.grants.list_user_grants(owner, user_id=carla.id)) == []
    assert ids(await services.grants.list_user_grants(world["beta_owner"])) == [through.id]
    assert ids(await services.grants.list_user_grants(admin, org_id=beta)) == [through.id]
    assert ids(await services.grants.list_user_grants(admin, user_id=ann.id, limit=1)) == [
        direct.id
    ]
    assert (await services.grants.list_user_grants(admin, user_id=ann.id, limit=1)).total == 2

    pete = await manager(services, admin, acme, "pete", Scope.PROJECT, portal, ["PROJECT_OWNER"])
    assert ids(await services.grants.list_user_grants(pete)) == [direct.id]
    gus = await manager(
        services, admin, beta, "gus", Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER"]
    )
    assert ids(await services.grants.list_user_grants(gus)) == [through.id]
    assert (await services.grants.list_user_grants(Context(clock=services.clock))).total == 0
    with pytest.raises(PermissionDenied):
        await services.grants.find_user_grant(gus, ann.id, portal)


async def test_project_and_grant_managers_work_through_their_resources(services, admin, world):
    owner, portal, acme, beta = world["owner"], world["portal"], world["acme"], world["beta"]
    grant = await services.grants.grant_project(owner, portal, beta, ["editor", "viewer"])
    pete = await manager(services, admin, acme, "pete", Scope.PROJECT, portal, ["PROJECT_OWNER"])
    ann = await add_user(services, admin, acme, "ann")
    await services.grants.add_user_grant(pete, ann.id, portal, ["admin"])
    await services.grants.change_project_grant(pete, grant.id, ["viewer"])
    assert (await services.grants.list_project_grants(pete, portal)).total == 1

    gus = await manager(
        services, admin, beta, "gus", Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER"]
    )
    carla = await add_user(services, admin, beta, "carla")
    made = await services.grants.add_user_grant(
        gus, carla.id, portal, ["viewer"], project_grant_id=grant.id
    )
    await services.grants.change_user_grant(gus, made.id, [])
    await denied(
        services,
        lambda: services.grants.add_user_grant(gus, ann.id, portal, ["viewer"]),
        "user.grant.write",
    )
    await denied(
        services,
        lambda: services.grants.change_project_grant(gus, grant.id, ["viewer", "editor"]),
        "project.grant.write",
    )
