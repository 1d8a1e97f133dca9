"""Audit: every command appends exactly one event in its transaction; failures append none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD
from zitui.core.access import AccessEnded
from zitui.core.context import Context, RequestMeta
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, ZituiError
from zitui.records import Event, Scope
from zitui.store import EventFilter

NOTHING_ENDED = AccessEnded().payload()  # the user had no sessions or tokens


async def _events(services: Services) -> list[Event]:
    async with services.store.reader() as tx:
        events, _ = await tx.events.list(EventFilter(), offset=0, limit=500)
    return events


async def _one_event(services: Services, command: Callable[[], Awaitable[Any]]) -> Event:
    before = {e.id for e in await _events(services)}
    await command()
    new = [e for e in await _events(services) if e.id not in before]
    assert len(new) == 1, [e.event_type for e in new]
    return new[0]


async def _no_event(
    services: Services, command: Callable[[], Awaitable[Any]], error: type[ZituiError]
) -> None:
    before = len(await _events(services))
    with pytest.raises(error):
        await command()
    assert len(await _events(services)) == before


@pytest.fixture
async def org_id(services: Services, admin: Context) -> str:
    return (await services.orgs.create_org(admin, "Acme")).id


def _bob(**changes: Any) -> NewHumanUser:
    values = {
        "username": "bob",
        "first_name": "Bob",
        "last_name": "Builder",
        "email": "bob@example.com",
        "password": "Bob-Pass-123",
    }
    values.update(changes)
    return NewHumanUser(**values)


async def test_each_command_writes_exactly_one_event(services, admin, org_id):
    created = await _one_event(services, lambda: services.orgs.create_org(admin, "Beta"))
    assert (created.event_type, created.actor_id) == ("org.added", admin.actor.user_id)
    assert created.payload["name"] == "Beta"

    renamed = await _one_event(services, lambda: services.orgs.rename_org(admin, org_id, "Acme 2"))
    assert (renamed.event_type, renamed.org_id) == ("org.changed", org_id)

    bob = None

    async def create_bob() -> None:
        nonlocal bob
        bob = await services.users.create_human_user(admin, org_id, _bob())

    # Bob's address is unverified: the command also mails him a code, which is its own event
    # (as ZITADEL writes `user.human.added` and `…email.code.added` apart).
    before = {e.id for e in await _events(services)}
    await create_bob()
    new = [e for e in await _events(services) if e.id not in before]
    assert sorted(e.event_type for e in new) == ["user.human.added", "user.human.email.code.added"]
    assert all(e.aggregate_id == bob.id and "Bob-Pass-123" not in str(e.payload) for e in new)

    changed = await _one_event(
        services, lambda: services.users.set_password(admin, bob.id, "New-Pass-456")
    )
    assert changed.event_type == "user.human.password.changed"
    assert changed.payload == {"change_required": True, "access_ended": NOTHING_ENDED}

    member = await _one_event(
        services,
        lambda: services.memberships.add_member(admin, bob.id, Scope.ORG, org_id, ["ORG_OWNER"]),
    )
    assert member.event_type == "org.member.added"
    assert member.payload == {"user_id": bob.id, "roles": ["ORG_OWNER"]}

    bob_ctx = None

    async def bob_signs_in() -> None:
        nonlocal bob_ctx
        bob_ctx = (
            await services.auth.login_operator(
                "bob@acme.127.0.0.1", "New-Pass-456", RequestMeta(origin="test", ip="10.1.2.3")
            )
        ).context

    login = await _one_event(services, bob_signs_in)
    assert login.event_type == "user.human.password.check.succeeded"

    own = await _one_event(
        services,
        lambda: services.users.change_own_password(bob_ctx, "New-Pass-456", "Own-Pass-789"),
    )
    assert (own.event_type, own.actor_id) == ("user.human.password.changed", bob.id)


async def test_failing_commands_write_no_event(services, admin, org_id):
    await services.users.create_human_user(admin, org_id, _bob())
    cases: list[tuple[Callable[[], Awaitable[Any]], type[ZituiError]]] = [
        (lambda: services.orgs.create_org(admin, "acme"), AlreadyExists),
        (lambda: services.orgs.create_org(admin, "   "), InvalidArgument),
        (lambda: services.orgs.rename_org(admin, "no-such-org", "X"), NotFound),
        (lambda: services.users.create_human_user(admin, org_id, _bob()), AlreadyExists),
        (
            lambda: services.users.create_human_user(
                admin, org_id, _bob(username="c", password="weak")
            ),
            InvalidArgument,
        ),
        (
            lambda: services.users.create_human_user(
                admin, org_id, _bob(username="d", email="nope")
            ),
            InvalidArgument,
        ),
        (
            lambda: services.memberships.add_member(
                admin, "no-such-user", Scope.ORG, org_id, ["ORG_OWNER"]
            ),
            NotFound,
        ),
        (
            lambda: services.orgs.create_org(Context(clock=services.clock, actor=None), "Z"),
            ZituiError,
        ),
    ]
    for command, error in cases:
        await _no_event(services, command, error)


async def test_duplicate_names_name_the_field(services, admin, org_id):
    with pytest.raises(AlreadyExists) as caught:
        await services.orgs.create_org(admin, "ACME")
    assert (caught.value.code, caught.value.field) == ("org.name.taken", "name")
    await services.users.create_human_user(admin, org_id, _bob())
    with pytest.raises(AlreadyExists) as caught:
        await services.users.create_human_user(admin, org_id, _bob(username="BOB"))
    assert (caught.value.code, caught.value.field) == ("user.username.taken", "username")


async def test_failed_login_is_audited_and_counts_attempts(services, admin):
    from zitui.errors import Unauthenticated

    before = {e.id for e in await _events(services)}
    with pytest.raises(Unauthenticated):
        await services.auth.login_operator("admin", "wrong", RequestMeta(origin="test"))
    new = [e for e in await _events(services) if e.id not in before]
    assert [e.event_type for e in new] == ["user.human.password.check.failed"]
    assert new[0].payload["failures"] == 1
    # The right password afterwards still works and resets the counter.
    await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())


async def test_unknown_user_writes_no_event_and_reads_like_a_wrong_password(services):
    from zitui.errors import Unauthenticated

    before = len(await _events(services))
    with pytest.raises(Unauthenticated) as unknown:
        await services.auth.login_operator("ghost", "whatever", RequestMeta())
    with pytest.raises(Unauthenticated) as wrong:
        await services.auth.login_operator("admin", "whatever", RequestMeta())
    assert unknown.value.message == wrong.value.message
    assert unknown.value.code == wrong.value.code
    assert len(await _events(services)) == before + 1


async def test_permission_denied_changes_nothing_and_is_audited(services, admin, org_id):
    from zitui.core.context import Actor

    outsider = Context(
        clock=services.clock,
        actor=Actor(user_id="someone", org_id=org_id, login_name="someone"),
        request=RequestMeta(origin="test", ip="192.0.2.7"),
    )
    before = {e.id for e in await _events(services)}
    with pytest.raises(PermissionDenied):
        await services.orgs.rename_org(outsider, org_id, "X")
    new = [e for e in await _events(services) if e.id not in before]
    assert [(e.event_type, e.actor_id) for e in new] == [("permission.denied", "someone")]
    assert new[0].payload == {"permission": "org.write", "origin": "test", "org_id": org_id}
    assert (await services.orgs.get_org(admin, org_id)).name == "Acme"
