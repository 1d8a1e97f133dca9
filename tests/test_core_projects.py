"""Projects and roles: one event per command, names unique per organisation, cascades."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from zitui.core.context import Context, RequestMeta
from zitui.core.ids import new_id
from zitui.core.projects import NewProjectRole
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from zitui.records import Membership, PrivateLabeling, Scope, State, User

PASSWORD = "Their-Pass-1"


async def add_user(services: Services, admin: Context, org_id: str, username: str) -> User:
    return await services.users.create_human_user(
        admin,
        org_id,
        NewHumanUser(
            username=username, first_name=username.title(), last_name="Test", password=PASSWORD
        ),
    )


async def appoint(
    services: Services, user: User, scope: Scope, scope_id: str, roles: list[str]
) -> None:
    """A membership at any scope, written directly: test set-up, not a command under test."""
    async with services.store.transaction() as tx:
        await tx.memberships.insert(
            Membership(
                id=new_id(),
                user_id=user.id,
                scope=scope,
                scope_id=scope_id,
                org_id=scope_id if scope is Scope.ORG else "",
                roles=tuple(roles),
                created_at=services.clock.now(),
            )
        )


async def sign_in(services: Services, user: User) -> Context:
    login = await services.auth.login_operator(
        user.login_name, PASSWORD, RequestMeta(origin="test")
    )
    return login.context


async def manager(
    services: Services,
    admin: Context,
    org_id: str,
    username: str,
    scope: Scope,
    scope_id: str,
    roles: list[str],
) -> Context:
    """A new user of `org_id` holding `roles` at `scope_id`, signed in."""
    user = await add_user(services, admin, org_id, username)
    await appoint(services, user, scope, scope_id, roles)
    return await sign_in(services, user)


async def denied(services: Services, command: Any, permission: str) -> None:
    """The command is refused, changes nothing, and leaves one `permission.denied` event."""
    before = {e.id for e in await _events(services)}
    with pytest.raises(PermissionDenied):
        await command()
    new = [e for e in await _events(services) if e.id not in before]
    assert [e.event_type for e in new] == ["permission.denied"]
    assert new[0].payload["permission"] == permission


@pytest.fixture
async def acme(services: Services, admin: Context) -> str:
    return (await services.orgs.create_org(admin, "Acme")).id


@pytest.fixture
async def beta(services: Services, admin: Context) -> str:
    return (await services.orgs.create_org(admin, "Beta")).id


@pytest.fixture
async def owner(services: Services, admin: Context, acme: str) -> Context:
    """ORG_OWNER of Acme."""
    return await manager(services, admin, acme, "owner", Scope.ORG, acme, ["ORG_OWNER"])


async def test_create_project_writes_one_event(services, owner, acme):
    created: list[Any] = []

    async def create() -> None:
        created.append(
            await services.projects.create_project(owner, acme, "  Portal ", role_check=True)
        )

    event = await _one_event(services, create)
    project = created[0]
    assert (project.name, project.org_id, project.state) == ("Portal", acme, State.ACTIVE)
    assert project.role_check and not project.role_assertion
    assert (event.event_type, event.aggregate_id, event.org_id) == (
        "project.added",
        project.id,
        acme,
    )
    assert event.payload == {
        "name": "Portal",
        "role_assertion": False,
        "role_check": True,
        "has_project_check": False,
        "private_labeling_setting": "unspecified",
    }
    assert await services.projects.get_project(owner, project.id) == project


async def test_project_names_are_unique_per_org_ignoring_case(services, admin, owner, acme, beta):
    await services.projects.create_project(owner, acme, "Portal")
    with pytest.raises(AlreadyExists) as caught:
        await services.projects.create_project(owner, acme, "PORTAL")
    assert (caught.value.code, caught.value.field) == ("project.name.taken", "name")
    other = await services.projects.create_project(admin, beta, "Portal")
    assert other.org_id == beta


async def test_refused_project_commands_write_no_event(services, admin, owner, acme, beta):
    await services.projects.create_project(owner, acme, "Portal")
    await _no_event(
        services, lambda: services.projects.create_project(owner, acme, "portal"), AlreadyExists
    )
    await _no_event(
        services, lambda: services.projects.create_project(owner, acme, "  "), InvalidArgument
    )
    await _no_event(
        services, lambda: services.projects.create_project(owner, acme, "x" * 201), InvalidArgument
    )
    await _no_event(
        services, lambda: services.projects.create_project(admin, "no-such-org", "P"), NotFound
    )
    await _no_event(
        services, lambda: services.projects.rename_project(admin, "no-such-project", "P"), NotFound
    )
    with pytest.raises(InvalidArgument) as caught:
        await services.projects.create_project(owner, acme, "")
    assert caught.value.field == "name"
    with pytest.raises(NotFound) as missing:
        await services.projects.create_project(admin, "no-such-org", "P")
    assert missing.value.field == "org_id"


async def test_org_owner_cannot_create_projects_elsewhere_and_is_audited(services, owner, beta):
    await denied(
        services, lambda: services.projects.create_project(owner, beta, "Mole"), "project.create"
    )
    assert (await services.projects.list_projects(owner, org_id=beta)).total == 0


async def test_rename_and_settings_record_only_what_changed(services, owner, acme):
    project = await services.projects.create_project(owner, acme, "Portal")
    await services.projects.create_project(owner, acme, "Shop")

    event = await _one_event(
        services, lambda: services.projects.rename_project(owner, project.id, "Portal 2")
    )
    assert (event.event_type, event.payload) == ("project.changed", {"name": "Portal 2"})
    renamed = await services.projects.get_project(owner, project.id)
    assert renamed.name == "Portal 2" and renamed.updated_at == services.clock.now()

    with pytest.raises(AlreadyExists) as caught:
        await services.projects.rename_project(owner, project.id, "shop")
    assert caught.value.field == "name"
    # Changing only the case of the own name is allowed.
    assert (await services.projects.rename_project(owner, project.id, "PORTAL 2")).name == (
        "PORTAL 2"
    )

    before = len(await _events(services))
    await services.projects.rename_project(owner, project.id, "PORTAL 2")
    await services.projects.update_project_settings(owner, project.id, role_check=False)
    assert len(await _events(services)) == before, "no-op changes record nothing"

    event = await _one_event(
        services,
        lambda: services.projects.update_project_settings(
            owner, project.id, role_assertion=True, role_check=False, has_project_check=True
        ),
    )
    assert event.payload == {"role_assertion": True, "has_project_check": True}
    changed = await services.projects.get_project(owner, project.id)
    assert (changed.role_assertion, changed.role_check, changed.has_project_check) == (
        True,
        False,
        True,
    )


async def test_private_labeling_is_set_on_create_and_change_validated_and_audited(
    services, owner, acme
):
    enforce = PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY
    allow = PrivateLabeling.ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY
    project = await services.projects.create_project(
        owner, acme, "Portal", private_labeling_setting=enforce.value
    )
    assert project.private_labeling_setting is enforce
    assert (await services.projects.get_project(owner, project.id)) == project

    event = await _one_event(
        services,
        lambda: services.projects.update_project_settings(
            owner, project.id, private_labeling_setting=allow.value
        ),
    )
    assert (event.event_type, event.payload) == (
        "project.changed",
        {"private_labeling_setting": allow.value},
    )
    assert (
        await services.projects.get_project(owner, project.id)
    ).private_labeling_setting is allow

    before = len(await _events(services))
    await services.projects.update_project_settings(
        owner, project.id, private_labeling_setting=allow.value
    )
    assert len(await _events(services)) == before, "the same setting again records nothing"

    for command in (
        lambda: services.projects.create_project(
            owner, acme, "Shop", private_labeling_setting="project_owner"
        ),
        lambda: services.projects.update_project_settings(
            owner, project.id, private_labeling_setting="ENFORCE_PROJECT_RESOURCE_OWNER_POLICY"
        ),
    ):
        with pytest.raises(InvalidArgument) as caught:
            await command()
        assert (caught.value.code, caught.value.field) == (
            "project.private_labeling_invalid",
            "private_labeling_setting",
        )
    assert (await services.projects.find_project_by_name(owner, acme, "Shop")) is None
    assert (
        await services.projects.get_project(owner, project.id)
    ).private_labeling_setting is allow


async def test_deactivate_and_reactivate(services, owner, acme):
    project = await services.projects.create_project(owner, acme, "Portal")
    event = await _one_event(
        services, lambda: services.projects.deactivate_project(owner, project.id)
    )
    assert event.event_type == "project.deactivated"
    assert (await services.projects.get_project(owner, project.id)).state is State.INACTIVE
    await _no_event(
        services,
        lambda: services.projects.deactivate_project(owner, project.id),
        PreconditionFailed,
    )
    event = await _one_event(
        services, lambda: services.projects.reactivate_project(owner, project.id)
    )
    assert event.event_type == "project.reactivated"
    await _no_event(
        services,
        lambda: services.projects.reactivate_project(owner, project.id),
        PreconditionFailed,
    )


async def test_remove_project_cascades_in_one_event(services, admin, owner, acme, beta, settings):
    from zitui.core.apps import NewOidcApp
    from zitui.records import AppType, AuthMethod

    project = await services.projects.create_project(owner, acme, "Portal")
    await services.projects.add_project_roles(
        owner, project.id, [NewProjectRole("admin"), NewProjectRole("viewer")]
    )
    await services.apps.create_oidc_app(
        owner,
        project.id,
        NewOidcApp("Web", AppType.WEB, AuthMethod.BASIC, ["https://portal.example.com/cb"]),
    )
    grant = await services.grants.grant_project(owner, project.id, beta, ["viewer"])
    customer = await add_user(services, admin, beta, "carla")
    await services.grants.add_user_grant(
        admin, customer.id, project.id, ["viewer"], project_grant_id=grant.id
    )
    member = await add_user(services, admin, acme, "pete")
    await appoint(services, member, Scope.PROJECT, project.id, ["PROJECT_OWNER"])
    await appoint(services, customer, Scope.PROJECT_GRANT, grant.id, ["PROJECT_GRANT_OWNER"])
    keep = await services.projects.create_project(owner, acme, "Shop")

    event = await _one_event(services, lambda: services.projects.remove_project(owner, project.id))
    assert (event.event_type, event.payload) == ("project.removed", {"name": "Portal"})
    data = settings.data_dir
    for table in ("project_roles", "apps", "project_grants", "user_grants"):
        assert rows(data, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert rows(data, "SELECT id FROM projects") == [(keep.id,)]
    assert rows(
        data, "SELECT count(*) FROM memberships WHERE scope IN ('project', 'project_grant')"
    ) == [(0,)]
    with pytest.raises(NotFound):
        await services.projects.get_project(owner, project.id)


async def test_list_projects_shows_what_the_actor_may_read(services, admin, owner, acme, beta):
    portal = await services.projects.create_project(owner, acme, "Portal")
    shop = await services.projects.create_project(owner, acme, "Shop")
    other = await services.projects.create_project(admin, beta, "Beta App")

    mine = await services.projects.list_projects(owner)
    assert [p.name for p in mine.items] == ["Portal", "Shop"] and mine.total == 2
    assert (await services.projects.list_projects(owner, org_id=beta)).total == 0
    everything = await services.projects.list_projects(admin)
    assert [p.name for p in everything.items] == ["Beta App", "Portal", "Shop"]
    assert [p.id for p in (await services.projects.list_projects(admin, org_id=beta)).items] == [
        other.id
    ]
    searched = await services.projects.list_projects(owner, search="ho")
    assert [p.name for p in searched.items] == ["Shop"]
    assert (await services.projects.list_projects(owner, search="%")).total == 0
    paged = await services.projects.list_projects(owner, offset=1, limit=1)
    assert ([p.name for p in paged.items], paged.total) == (["Shop"], 2)

    project_owner = await manager(
        services, admin, acme, "pete", Scope.PROJECT, portal.id, ["PROJECT_OWNER"]
    )
    assert [p.id for p in (await services.projects.list_projects(project_owner)).items] == [
        portal.id
    ]
    await denied(
        services, lambda: services.projects.get_project(project_owner, shop.id), "project.read"
    )
    anonymous = Context(clock=services.clock)
    assert (await services.projects.list_projects(anonymous)).total == 0


async def test_find_project_by_name(services, admin, owner, acme, beta):
    project = await services.projects.create_project(owner, acme, "Portal")
    await services.projects.create_project(admin, beta, "Hidden")
    assert await services.projects.find_project_by_name(owner, acme, "portal") == project
    assert await services.projects.find_project_by_name(owner, acme, "nothing") is None
    with pytest.raises(PermissionDenied):
        await services.projects.find_project_by_name(owner, beta, "Hidden")
    with pytest.raises(PermissionDenied):
        await services.projects.find_project_by_name(owner, beta, "nothing")


async def test_project_owner_manages_only_their_project(services, admin, acme):
    org_owner = await manager(services, admin, acme, "olga", Scope.ORG, acme, ["ORG_OWNER"])
    portal = await services.projects.create_project(org_owner, acme, "Portal")
    shop = await services.projects.create_project(org_owner, acme, "Shop")
    pete = await manager(services, admin, acme, "pete", Scope.PROJECT, portal.id, ["PROJECT_OWNER"])

    await services.projects.rename_project(pete, portal.id, "Portal 2")
    await services.projects.add_project_role(pete, portal.id, "admin")
    await services.projects.update_project_settings(pete, portal.id, role_assertion=True)
    await denied(
        services, lambda: services.projects.rename_project(pete, shop.id, "X"), "project.write"
    )
    await denied(
        services, lambda: services.projects.create_project(pete, acme, "Own"), "project.create"
    )
    await denied(
        services,
        lambda: services.projects.add_project_role(pete, shop.id, "x"),
        "project.role.write",
    )


# --- roles -------------------------------------------------------------------------------


@pytest.fixture
async def portal(services: Services, owner: Context, acme: str) -> str:
    return (await services.projects.create_project(owner, acme, "Portal")).id


async def test_add_project_role_writes_one_event(services, owner, portal):
    event = await _one_event(
        services,
        lambda: services.projects.add_project_role(
            owner, portal, "portal:admin", " Administrator ", "Staff"
        ),
    )
    assert (event.event_type, event.aggregate_id) == ("project.role.added", portal)
    assert event.payload == {
        "key": "portal:admin",
        "display_name": "Administrator",
        "group": "Staff",
    }
    roles = await services.projects.list_project_roles(owner, portal)
    assert [(r.key, r.display_name, r.group) for r in roles.items] == [
        ("portal:admin", "Administrator", "Staff")
    ]


@pytest.mark.parametrize("key", ["", "has space", "ümlaut", "a/b", "x" * 201, "semi;colon"])
async def test_role_keys_are_checked(services, owner, portal, key):
    with pytest.raises(InvalidArgument) as caught:
        await services.projects.add_project_role(owner, portal, key)
    assert (caught.value.code, caught.value.field) == ("project.role.key.invalid", "key")


@pytest.mark.parametrize("key", ["a", "Admin_1", "org.member:read-only", "x" * 200])
async def test_role_keys_may_use_letters_digits_and_punctuation(services, owner, portal, key):
    assert (await services.projects.add_project_role(owner, portal, key)).key == key


async def test_duplicate_role_names_the_key(services, owner, portal):
    await services.projects.add_project_role(owner, portal, "admin")
    with pytest.raises(AlreadyExists) as caught:
        await services.projects.add_project_role(owner, portal, "admin")
    assert (caught.value.code, caught.value.field) == ("project.role.exists", "key")
    await _no_event(
        services, lambda: services.projects.add_project_role(owner, portal, "admin"), AlreadyExists
    )


async def test_bulk_roles_are_all_or_nothing_with_one_event(services, owner, portal):
    roles = [NewProjectRole("admin", "Admin"), NewProjectRole("editor"), NewProjectRole("viewer")]
    event = await _one_event(
        services, lambda: services.projects.add_project_roles(owner, portal, roles)
    )
    assert event.event_type == "project.roles.added"
    assert [r["key"] for r in event.payload["roles"]] == ["admin", "editor", "viewer"]

    await _no_event(
        services,
        lambda: services.projects.add_project_roles(
            owner, portal, [NewProjectRole("auditor"), NewProjectRole("admin")]
        ),
        AlreadyExists,
    )
    with pytest.raises(InvalidArgument) as repeated:
        await services.projects.add_project_roles(
            owner, portal, [NewProjectRole("x"), NewProjectRole("x")]
        )
    assert repeated.value.field == "key"
    with pytest.raises(InvalidArgument) as empty:
        await services.projects.add_project_roles(owner, portal, [])
    assert empty.value.field == "roles"
    keys = [r.key for r in (await services.projects.list_project_roles(owner, portal)).items]
    assert keys == ["admin", "editor", "viewer"]


async def test_change_project_role(services, owner, portal):
    await services.projects.add_project_role(owner, portal, "admin", "Admin")
    event = await _one_event(
        services,
        lambda: services.projects.change_project_role(
            owner, portal, "admin", display_name="Administrator"
        ),
    )
    assert (event.event_type, event.payload) == (
        "project.role.changed",
        {"key": "admin", "display_name": "Administrator", "group": ""},
    )
    before = len(await _events(services))
    same = await services.projects.change_project_role(
        owner, portal, "admin", display_name="Administrator"
    )
    assert same.display_name == "Administrator" and len(await _events(services)) == before
    with pytest.raises(NotFound) as caught:
        await services.projects.change_project_role(owner, portal, "ghost", group="g")
    assert caught.value.field == "key"


async def test_remove_role_cascades_to_grants_and_user_grants(
    services, admin, owner, portal, acme, beta
):
    await services.projects.add_project_roles(
        owner, portal, [NewProjectRole(k) for k in ("admin", "editor", "viewer")]
    )
    grant = await services.grants.grant_project(owner, portal, beta, ["editor", "viewer"])
    carla = await add_user(services, admin, beta, "carla")
    via_grant = await services.grants.add_user_grant(
        admin, carla.id, portal, ["editor", "viewer"], project_grant_id=grant.id
    )
    ann = await add_user(services, admin, acme, "ann")
    direct = await services.grants.add_user_grant(owner, ann.id, portal, ["admin", "editor"])
    other_project = await services.projects.create_project(owner, acme, "Shop")
    await services.projects.add_project_role(owner, other_project.id, "editor")
    untouched = await services.grants.add_user_grant(owner, ann.id, other_project.id, ["editor"])

    event = await _one_event(
        services, lambda: services.projects.remove_project_role(owner, portal, "editor")
    )
    assert (event.event_type, event.payload) == (
        "project.role.removed",
        {"key": "editor", "project_grants": 1, "user_grants": 2},
    )
    assert (await services.grants.get_project_grant(owner, grant.id)).role_keys == ("viewer",)
    assert (await services.grants.get_user_grant(admin, via_grant.id)).role_keys == ("viewer",)
    assert (await services.grants.get_user_grant(admin, direct.id)).role_keys == ("admin",)
    assert (await services.grants.get_user_grant(admin, untouched.id)).role_keys == ("editor",)
    keys = [r.key for r in (await services.projects.list_project_roles(owner, portal)).items]
    assert keys == ["admin", "viewer"]
    await _no_event(
        services,
        lambda: services.projects.remove_project_role(owner, portal, "editor"),
        NotFound,
    )


async def test_roles_of_another_orgs_project_are_out_of_reach(services, admin, owner, beta):
    hidden = await services.projects.create_project(admin, beta, "Hidden")
    await denied(
        services,
        lambda: services.projects.list_project_roles(owner, hidden.id),
        "project.role.read",
    )
    await denied(
        services,
        lambda: services.projects.remove_project_role(owner, hidden.id, "x"),
        "project.role.delete",
    )
