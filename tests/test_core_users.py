"""Human users: profile, username, email, phone, lifecycle, init codes, and search at scale."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.dbfile import rows
from tests.test_core_audit import _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from tests.test_core_permissions import _sign_in, _user_in
from zitui.core.access import AccessEnded
from zitui.core.context import Context, RequestMeta
from zitui.core.ids import new_id
from zitui.core.services import Services
from zitui.core.user_codes import Purpose
from zitui.core.users import NewHumanUser, ProfileChange
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    Unauthenticated,
)
from zitui.records import Organization, Scope, User, UserKind, UserState

NOTHING_ENDED = AccessEnded().payload()  # the user had no sessions or tokens


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


@pytest.fixture
async def bob(services: Services, admin: Context, acme: Organization) -> User:
    return await services.users.get_user(admin, await _user_in(services, admin, acme.id, "bob"))


@pytest.fixture
async def outsider(services: Services, admin: Context) -> Context:
    return await sign_in_org_owner(services, admin, "Other")


async def _invite(services: Services, admin: Context, org_id: str, username: str) -> User:
    new = NewHumanUser(username=username, first_name="New", last_name="Comer")
    return await services.users.create_human_user(admin, org_id, new)


async def test_user_without_password_is_initial_and_gets_an_init_code(
    services, admin, acme, settings
):
    """Without an email address the code is handed to the manager; the store keeps a keyed
    digest (not a plain SHA-256, which six characters would not survive)."""
    dora = await _invite(services, admin, acme.id, "dora")
    assert dora.state is UserState.INITIAL
    issued = []

    async def issue() -> None:
        issued.append(await services.users.issue_init_code(admin, dora.id))

    event = await _one_event(services, issue)
    code = issued[0].code
    assert len(code) == 6 and code.isalnum() and code.upper() == code
    assert issued[0].mailed_to == "" and f"userID={dora.id}" in issued[0].link
    assert event.event_type == "user.human.initialization.code.added"
    assert code not in str(event.payload)
    stored = rows(
        settings.data_dir,
        "SELECT digest, expires_at, target FROM user_codes WHERE user_id = ? AND purpose = ?",
        dora.id,
        "init",
    )
    assert stored[0][0] != hashlib.sha256(code.encode()).hexdigest()
    assert stored[0][0] == services.users._mailer().digest(dora.id, Purpose.INIT, code)
    expires = services.clock.now() + timedelta(hours=72)
    assert stored[0][1].startswith(expires.strftime("%Y-%m-%d %H:%M:%S"))
    assert event.payload == {"expires_at": expires.isoformat(), "mailed": False}


async def test_a_user_with_an_email_gets_the_init_code_by_mail_only(
    services, admin, acme, settings
):
    new = NewHumanUser(username="erin", first_name="Erin", last_name="Mail", email="erin@x.test")
    erin = await services.users.create_human_user(admin, acme.id, new)
    sql = "SELECT kind, recipient FROM outbox WHERE user_id = ?"
    queued = rows(settings.data_dir, sql, erin.id)
    assert queued == [("user.init", "erin@x.test")]
    issued = await services.users.issue_init_code(admin, erin.id)
    assert issued.mailed_to == "erin@x.test" and issued.code == "" and issued.link == ""
    queued = rows(settings.data_dir, "SELECT kind FROM outbox WHERE user_id = ?", erin.id)
    assert queued == [("user.init",), ("user.init",)]
    assert len(rows(settings.data_dir, "SELECT 1 FROM user_codes WHERE user_id = ?", erin.id)) == 1


async def test_init_code_only_for_initial_users(services, admin, bob):
    await _no_event(
        services, lambda: services.users.issue_init_code(admin, bob.id), PreconditionFailed
    )
    await _no_event(services, lambda: services.users.issue_init_code(admin, "nope"), NotFound)


async def test_update_profile_records_what_changed(services, admin, bob):
    change = ProfileChange(nickname="Bobby", gender="Male", preferred_language="de-CH")
    event = await _one_event(services, lambda: services.users.update_profile(admin, bob.id, change))
    assert event.event_type == "user.human.profile.changed"
    assert event.payload == {"nickname": "Bobby", "gender": "male", "preferred_language": "de-CH"}
    user = await services.users.get_user(admin, bob.id)
    assert (user.nickname, user.gender, user.first_name) == ("Bobby", "male", "Bob")

    renamed = await services.users.update_profile(
        admin, bob.id, ProfileChange(first_name="Robert", display_name="")
    )
    assert renamed.display_name == "Robert Test"
    await _no_event(
        services,
        lambda: services.users.update_profile(admin, bob.id, ProfileChange(nickname="Bobby")),
        PreconditionFailed,
    )
    for change, field in (
        (ProfileChange(gender="robot"), "gender"),
        (ProfileChange(first_name="  "), "first_name"),
        (ProfileChange(preferred_language="english please"), "preferred_language"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            await services.users.update_profile(admin, bob.id, change)
        assert caught.value.field == field


async def test_machine_users_have_no_human_profile(services, admin, acme):
    robot = await services.machines.create_machine_user(admin, acme.id, "robot", "Robot")
    for command in (
        lambda: services.users.update_profile(admin, robot.id, ProfileChange(nickname="R2")),
        lambda: services.users.change_email(admin, robot.id, "r@example.com", verified=True),
        lambda: services.users.change_phone(admin, robot.id, "+41441234567", verified=False),
        lambda: services.users.set_password(admin, robot.id, "Robot-Pass-1"),
    ):
        await _no_event(services, command, PreconditionFailed)


async def test_change_username(services, admin, acme, bob):
    event = await _one_event(services, lambda: services.users.change_username(admin, bob.id, "rob"))
    assert (event.event_type, event.payload) == (
        "user.username.changed",
        {"username": "rob", "old_username": "bob"},
    )
    rob = await services.users.get_user(admin, bob.id)
    assert rob.login_name == f"rob@{acme.primary_domain}"
    await services.users.change_username(admin, bob.id, "Rob")  # only the case changes

    await _user_in(services, admin, acme.id, "carol")
    with pytest.raises(AlreadyExists) as caught:
        await services.users.change_username(admin, bob.id, "CAROL")
    assert (caught.value.code, caught.value.field) == ("user.username.taken", "username")
    with pytest.raises(InvalidArgument) as caught:
        await services.users.change_username(admin, bob.id, "no spaces")
    assert caught.value.field == "username"
    await _no_event(
        services, lambda: services.users.change_username(admin, bob.id, "Rob"), PreconditionFailed
    )


async def test_change_email(services, admin, bob):
    event = await _one_event(
        services,
        lambda: services.users.change_email(admin, bob.id, "rob@example.com", verified=True),
    )
    assert (event.event_type, event.payload) == (
        "user.human.email.changed",
        {"email": "rob@example.com", "verified": True},
    )
    user = await services.users.get_user(admin, bob.id)
    assert (user.email, user.email_verified) == ("rob@example.com", True)
    unverified = await services.users.change_email(admin, bob.id, "rob@example.com", verified=False)
    assert not unverified.email_verified
    with pytest.raises(InvalidArgument) as caught:
        await services.users.change_email(admin, bob.id, "not-an-address", verified=False)
    assert caught.value.field == "email"
    await _no_event(
        services,
        lambda: services.users.change_email(admin, bob.id, "rob@example.com", verified=False),
        PreconditionFailed,
    )


async def test_change_phone(services, admin, bob):
    event = await _one_event(
        services,
        lambda: services.users.change_phone(admin, bob.id, "+41 (44) 123-45-67", verified=True),
    )
    assert (event.event_type, event.payload) == (
        "user.human.phone.changed",
        {"phone": "+41441234567", "verified": True},
    )
    with pytest.raises(InvalidArgument) as caught:
        await services.users.change_phone(admin, bob.id, "call me", verified=False)
    assert caught.value.field == "phone"
    removed = await services.users.change_phone(admin, bob.id, "", verified=True)
    assert (removed.phone, removed.phone_verified) == ("", False)


async def test_lock_and_unlock_resets_failed_attempts(services, admin, acme, bob, settings):
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await services.auth.login_operator(f"bob@{acme.primary_domain}", "wrong", RequestMeta())
    event = await _one_event(services, lambda: services.users.lock_user(admin, bob.id))
    assert (event.event_type, event.aggregate_id) == ("user.locked", bob.id)
    assert (await services.users.get_user(admin, bob.id)).state is UserState.LOCKED
    await _no_event(services, lambda: services.users.lock_user(admin, bob.id), PreconditionFailed)

    event = await _one_event(services, lambda: services.users.unlock_user(admin, bob.id))
    assert event.event_type == "user.unlocked"
    query = "SELECT state, failed_password_attempts FROM users WHERE id = ?"
    assert rows(settings.data_dir, query, bob.id) == [("active", 0)]
    await _no_event(services, lambda: services.users.unlock_user(admin, bob.id), PreconditionFailed)


async def test_unlocked_user_without_password_stays_initial(services, admin, acme):
    dora = await _invite(services, admin, acme.id, "dora")
    await services.users.lock_user(admin, dora.id)
    assert (await services.users.unlock_user(admin, dora.id)).state is UserState.INITIAL


async def test_deactivate_and_reactivate(services, admin, acme, bob):
    event = await _one_event(services, lambda: services.users.deactivate_user(admin, bob.id))
    assert event.event_type == "user.deactivated"
    assert (await services.users.get_user(admin, bob.id)).state is UserState.INACTIVE
    await _no_event(
        services, lambda: services.users.deactivate_user(admin, bob.id), PreconditionFailed
    )
    event = await _one_event(services, lambda: services.users.reactivate_user(admin, bob.id))
    assert event.event_type == "user.reactivated"
    assert (await services.users.get_user(admin, bob.id)).state is UserState.ACTIVE
    await _no_event(
        services, lambda: services.users.reactivate_user(admin, bob.id), PreconditionFailed
    )
    dora = await _invite(services, admin, acme.id, "dora")
    with pytest.raises(PreconditionFailed) as caught:
        await services.users.deactivate_user(admin, dora.id)
    assert caught.value.code == "user.deactivate.state"


async def test_remove_user(services, admin, acme, bob, settings):
    await services.memberships.add_member(admin, bob.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    event = await _one_event(services, lambda: services.users.remove_user(admin, bob.id))
    assert (event.event_type, event.payload) == (
        "user.removed",
        {"username": "bob", "access_ended": NOTHING_ENDED},
    )
    with pytest.raises(NotFound):
        await services.users.get_user(admin, bob.id)
    assert rows(settings.data_dir, "SELECT id FROM memberships WHERE user_id = ?", bob.id) == []
    assert await services.users.find_user_by_username(admin, acme.id, "bob") is None
    await _no_event(services, lambda: services.users.remove_user(admin, bob.id), NotFound)


async def test_nobody_removes_themselves(services, admin, acme, bob):
    await services.memberships.add_member(admin, bob.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    bob_ctx = await _sign_in(services, f"bob@{acme.primary_domain}")
    with pytest.raises(PreconditionFailed) as caught:
        await services.users.remove_user(bob_ctx, bob.id)
    assert caught.value.code == "user.remove.self"


async def test_last_iam_owner_cannot_be_locked_deactivated_or_removed(services, admin, bob):
    system = services.system_context("test")
    admin_id = admin.actor.user_id
    for command in (
        lambda: services.users.lock_user(system, admin_id),
        lambda: services.users.deactivate_user(system, admin_id),
        lambda: services.users.remove_user(system, admin_id),
    ):
        with pytest.raises(PreconditionFailed) as caught:
            await command()
        assert caught.value.code == "membership.last_iam_owner"
    # Unrelated users are not held back by the rule.
    await services.users.lock_user(system, bob.id)

    instance = await services.instance.get_instance(admin)
    await services.users.unlock_user(system, bob.id)
    await services.memberships.add_member(admin, bob.id, Scope.INSTANCE, instance.id, ["IAM_OWNER"])
    await services.users.lock_user(system, admin_id)
    # Now bob is the last active one.
    with pytest.raises(PreconditionFailed):
        await services.users.deactivate_user(system, bob.id)


async def test_find_user_by_username(services, admin, acme, bob, outsider):
    assert (await services.users.find_user_by_username(admin, acme.id, "BOB")).id == bob.id
    assert await services.users.find_user_by_username(admin, acme.id, "nobody") is None
    assert await services.users.find_user_by_username(outsider, acme.id, "bob") is None


async def test_list_users_searches_login_name_email_and_names(services, admin, acme, bob):
    await services.users.create_human_user(
        admin,
        acme.id,
        NewHumanUser(
            username="ann",
            first_name="Ann",
            last_name="Lee",
            display_name="Captain Ann",
            email="ann@mail.example",
        ),
    )

    async def found(search: str, **kw: object) -> list[str]:
        page = await services.users.list_users(admin, search=search, **kw)
        return [u.username for u in page.items]

    assert await found(f"bob@{acme.primary_domain}") == ["bob"]
    assert await found("@acme.") == ["ann", "bob"]
    assert await found("MAIL.EXAMPLE") == ["ann"]
    assert await found("lee") == ["ann"]
    assert await found("captain") == ["ann"]
    assert await found("bob") == ["bob"]
    assert await found("100%") == []
    page = await services.users.list_users(admin, org_id=acme.id, offset=1, limit=1)
    assert (page.total, [u.username for u in page.items]) == (2, ["bob"])


async def test_org_owner_of_another_org_is_refused(services, admin, acme, bob, outsider):
    users = services.users
    dora = await _invite(services, admin, acme.id, "dora")
    for command in (
        lambda: users.issue_init_code(outsider, dora.id),
        lambda: users.update_profile(outsider, bob.id, ProfileChange(nickname="x")),
        lambda: users.change_username(outsider, bob.id, "x"),
        lambda: users.change_email(outsider, bob.id, "x@example.com", verified=True),
        lambda: users.change_phone(outsider, bob.id, "+41441234567", verified=True),
        lambda: users.lock_user(outsider, bob.id),
        lambda: users.unlock_user(outsider, bob.id),
        lambda: users.deactivate_user(outsider, bob.id),
        lambda: users.reactivate_user(outsider, bob.id),
        lambda: users.remove_user(outsider, bob.id),
        lambda: users.get_user(outsider, bob.id),
    ):
        await assert_denied(services, command)
    assert (await users.list_users(outsider, org_id=acme.id)).total == 0


async def test_search_stays_fast_with_100_000_users(services, admin, acme):
    """Bulk-inserted through the repository (no argon2); each page well under a second."""
    beta = await services.orgs.create_org(admin, "Beta")
    now = services.clock.now()
    users = [
        User(
            id=new_id(),
            org_id=(acme.id, beta.id)[i % 2],
            kind=UserKind.HUMAN,
            username=f"user{i:06d}",
            login_name="",
            state=UserState.ACTIVE,
            first_name=f"First{i}",
            last_name=f"Last{i}",
            nickname="",
            display_name=f"First{i} Last{i}",
            gender="",
            preferred_language="",
            email=f"person{i}@mail.example",
            email_verified=True,
            phone="",
            phone_verified=False,
            password_change_required=False,
            created_at=now,
            updated_at=now,
        )
        for i in range(100_000)
    ]
    async with services.store.transaction() as tx:
        await tx.users.insert_many(users)

    searches = [
        {},
        {"search": "last4711"},
        {"search": f"user004711@{beta.primary_domain}"},
        {"search": "person99"},
        {"search": "mail.example", "offset": 40_000},
        {"org_id": acme.id},
        {"org_id": beta.id, "search": "first12"},
    ]
    for search in searches:
        started = time.perf_counter()
        page = await services.users.list_users(admin, **search)
        elapsed = time.perf_counter() - started
        print(f"list_users({search}): {page.total} found, page in {elapsed * 1000:.0f} ms")
        assert page.items and elapsed < 2.0
    found = await services.users.list_users(admin, search=f"user004711@{beta.primary_domain}")
    assert [u.login_name for u in found.items] == [f"user004711@{beta.primary_domain}"]


async def test_user_listing_uses_indexes(services, admin, acme):
    """An organisation's users are found by index, and so is the primary-domain join."""
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM users" in statement and "count(" not in statement:
            statements.append((statement, parameters))

    sa.event.listen(services.store.sync_engine, "before_cursor_execute", capture)
    try:
        await services.users.list_users(admin, org_id=acme.id, search="x")
        await services.users.list_users(admin, org_id=acme.id)
    finally:
        sa.event.remove(services.store.sync_engine, "before_cursor_execute", capture)
    assert statements

    def plans(conn):
        return [
            [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
            for sql, params in statements
        ]

    for details in await services.store.run_sync(plans):
        assert any(d.startswith("SEARCH users USING INDEX") for d in details), details
        assert any(d.startswith("SEARCH org_domains USING INDEX") for d in details), details


async def test_anonymous_callers_are_unauthenticated(services, bob):
    anonymous = Context(clock=services.clock)
    await _no_event(services, lambda: services.users.lock_user(anonymous, bob.id), Unauthenticated)
    assert await services.users.find_user_by_username(anonymous, bob.org_id, "bob") is None
