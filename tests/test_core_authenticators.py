"""Managers and a user's second factors: what they see (no secrets, no pending set-ups), who
may remove a factor or void the recovery codes, the audit trail, and forced MFA afterwards."""

from __future__ import annotations

from dataclasses import fields

import pytest

from tests import test_core_sessions as session_tests
from tests.self_service import events_of
from tests.test_core_factors import ready_totp, start
from tests.test_core_login_flow import password_sign_in
from tests.test_core_projects import add_user, denied, manager
from zitui.core.context import Actor, Context
from zitui.core.factors import Authenticator, FactorKind
from zitui.core.login.steps import SetUpFactor, VerifyFactor
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.errors import NotFound, PermissionDenied, PreconditionFailed
from zitui.records import Organization, Scope, User

acme, alice = session_tests.acme, session_tests.alice


@pytest.fixture
async def owner(services: Services, admin: Context, acme: Organization) -> Context:
    """ORG_OWNER of Acme."""
    return await manager(services, admin, acme.id, "owner", Scope.ORG, acme.id, ["ORG_OWNER"])


@pytest.fixture
async def stranger(services: Services, admin: Context) -> Context:
    """ORG_OWNER of another organisation."""
    beta = await services.orgs.create_org(admin, "Beta")
    return await manager(services, admin, beta.id, "stranger", Scope.ORG, beta.id, ["ORG_OWNER"])


async def recovery_codes(services: Services, admin: Context, user: User) -> list[str]:
    async with services.store.transaction() as tx:
        return await services.factors.new_recovery_codes(tx, admin, user)


async def factor_ids(services: Services, admin: Context, user: User) -> list[str]:
    listed = await services.factors.authenticators(admin, user.id)
    return [factor.id for factor in listed.factors]


async def test_a_manager_sees_ready_factors_and_codes_left_but_no_secret(
    services: Services, admin: Context, owner: Context, alice: User
) -> None:
    totp = await ready_totp(services, admin, alice)
    codes = await recovery_codes(services, admin, alice)
    async with services.store.transaction() as tx:
        assert await services.factors.use_recovery_code(tx, admin, alice, codes[0])
    pending = await start(services, admin, alice)  # a second app, never confirmed

    listed = await services.factors.authenticators(owner, alice.id)

    assert listed.user_id == alice.id and listed.recovery_codes_left == 9
    [factor] = listed.factors
    assert (factor.id, factor.kind, factor.name) == (
        totp.factor_id,
        FactorKind.TOTP,
        "Authenticator app",
    )
    assert factor.created_at == services.clock.now() and factor.last_used_at is None
    assert pending.factor_id not in {f.id for f in listed.factors}
    assert {f.name for f in fields(Authenticator)} == {
        "id",
        "kind",
        "name",
        "created_at",
        "last_used_at",
    }
    shown = repr(listed)
    assert totp.secret not in shown and not any(code in shown for code in codes)


async def test_removing_a_factor_is_one_audited_change_and_a_second_try_finds_nothing(
    services: Services, admin: Context, owner: Context, alice: User
) -> None:
    totp = await ready_totp(services, admin, alice)

    await services.factors.remove_authenticator(owner, alice.id, totp.factor_id)

    assert await factor_ids(services, owner, alice) == []
    [event] = await events_of(services, "user.human.mfa.otp.removed", alice.id)
    assert owner.actor is not None and event.actor_id == owner.actor.user_id
    assert event.payload["factor_id"] == totp.factor_id
    with pytest.raises(NotFound) as raised:
        await services.factors.remove_authenticator(owner, alice.id, totp.factor_id)
    assert raised.value.code == "factor.not_found"


async def test_another_users_factor_is_not_found_through_this_user(
    services: Services, admin: Context, owner: Context, acme: Organization, alice: User
) -> None:
    bob = await add_user(services, admin, acme.id, "bob")
    bobs = await ready_totp(services, admin, bob)

    with pytest.raises(NotFound):
        await services.factors.remove_authenticator(owner, alice.id, bobs.factor_id)

    assert await factor_ids(services, owner, bob) == [bobs.factor_id]
    assert await events_of(services, "user.human.mfa.otp.removed", bob.id) == []


async def test_a_manager_of_another_organisation_is_refused_and_it_is_recorded(
    services: Services, admin: Context, stranger: Context, alice: User
) -> None:
    totp = await ready_totp(services, admin, alice)
    await recovery_codes(services, admin, alice)
    factors = services.factors

    await denied(services, lambda: factors.authenticators(stranger, alice.id), "user.read")
    await denied(
        services,
        lambda: factors.remove_authenticator(stranger, alice.id, totp.factor_id),
        "user.credential.write",
    )
    await denied(
        services,
        lambda: factors.remove_recovery_codes(stranger, alice.id),
        "user.credential.write",
    )

    listed = await factors.authenticators(admin, alice.id)
    assert [f.id for f in listed.factors] == [totp.factor_id]
    assert listed.recovery_codes_left == 10


async def test_a_user_without_manager_roles_is_refused(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    totp = await ready_totp(services, admin, alice)
    bob = await add_user(services, admin, acme.id, "bob")
    plain = Context(
        clock=services.clock,
        actor=Actor(user_id=bob.id, org_id=acme.id, login_name=bob.login_name),
    )

    with pytest.raises(PermissionDenied):
        await services.factors.authenticators(plain, alice.id)
    with pytest.raises(PermissionDenied):
        await services.factors.remove_authenticator(plain, alice.id, totp.factor_id)
    assert await factor_ids(services, admin, alice) == [totp.factor_id]


async def test_reading_the_user_is_not_enough_to_remove_a_factor(
    services: Services, admin: Context, acme: Organization, alice: User
) -> None:
    totp = await ready_totp(services, admin, alice)
    roles = ["ORG_USER_PERMISSION_EDITOR"]
    editor = await manager(services, admin, acme.id, "editor", Scope.ORG, acme.id, roles)

    assert await factor_ids(services, editor, alice) == [totp.factor_id]
    await denied(
        services,
        lambda: services.factors.remove_authenticator(editor, alice.id, totp.factor_id),
        "user.credential.write",
    )


async def test_a_manager_voids_the_recovery_codes_and_none_works_any_more(
    services: Services, admin: Context, owner: Context, alice: User
) -> None:
    codes = await recovery_codes(services, admin, alice)
    async with services.store.transaction() as tx:
        assert await services.factors.use_recovery_code(tx, admin, alice, codes[0])

    assert await services.factors.remove_recovery_codes(owner, alice.id) == 9

    assert (await services.factors.authenticators(owner, alice.id)).recovery_codes_left == 0
    [event] = await events_of(services, "user.human.recovery_codes.removed", alice.id)
    assert owner.actor is not None and event.actor_id == owner.actor.user_id
    assert event.payload["count"] == 9
    async with services.store.transaction() as tx:
        assert not await services.factors.use_recovery_code(tx, admin, alice, codes[1])
    # Nothing left to void: no change, no second event.
    assert await services.factors.remove_recovery_codes(owner, alice.id) == 0
    assert len(await events_of(services, "user.human.recovery_codes.removed", alice.id)) == 1


async def test_a_machine_user_has_no_authenticators(
    services: Services, admin: Context, acme: Organization
) -> None:
    robot = await services.machines.create_machine_user(admin, acme.id, "robot", "Robot")

    with pytest.raises(PreconditionFailed) as raised:
        await services.factors.authenticators(admin, robot.id)
    assert raised.value.code == "user.not_human"


async def test_an_unknown_user_is_not_found(services: Services, owner: Context) -> None:
    with pytest.raises(NotFound) as raised:
        await services.factors.authenticators(owner, "no-such-user")
    assert raised.value.code == "user.not_found"


async def test_with_forced_mfa_a_user_whose_last_factor_went_sets_one_up_at_next_sign_in(
    services: Services, admin: Context, owner: Context, acme: Organization, alice: User
) -> None:
    await services.policies.set(admin, "login", {"force_mfa": True}, acme.id)
    totp = await ready_totp(services, admin, alice)
    asked = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(asked.step, VerifyFactor) and "totp" in asked.step.kinds

    await services.factors.remove_authenticator(owner, alice.id, totp.factor_id)

    prompted = await password_sign_in(services.login, new_browser_cookie(), "alice")
    assert isinstance(prompted.step, SetUpFactor)
    assert prompted.step.forced and "totp" in prompted.step.kinds
