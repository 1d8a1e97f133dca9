"""The signed-in user's own account (services.account): profile, email and phone with codes,
password, sessions, applications' tokens, deletion, and the re-authentication rule; the self
side of the permission table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import test_core_sessions as session_tests
from tests import test_core_sms as sms_tests
from tests.account_support import login_policy, mailed_codes, own, signed_in, texted_codes
from tests.dbfile import rows
from tests.self_service import events_of
from tests.test_core_sessions import PASSWORD, add_human
from tests.test_core_sms import SmsProvider, http_settings
from zitui.core.apps import NewOidcApp
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.crypto import tokens
from zitui.core.ids import new_id
from zitui.core.permissions import SELF_PERMISSIONS, Resource
from zitui.core.services import Services
from zitui.core.user_profile import ProfileChange
from zitui.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    ReauthRequired,
    Unauthenticated,
)
from zitui.records import AppType, AuthMethod, Organization, RefreshTokenInfo, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests
provider = sms_tests.provider  # a real HTTP server on 127.0.0.1 standing in for the provider
NEW_PASSWORD = "Alice-New-Pass-2?"
PHONE, PHONE_E164 = "+41 79 123 45 67", "+41791234567"


@pytest.fixture
async def bob(services: Services, admin: Context, acme: Organization) -> User:
    return await add_human(services, admin, acme.id, "bob", email="bob@example.com")


# --- the self side of the permission table ---------------------------------------------------


def test_self_permissions_hold_on_ones_own_user_only(services: Services, alice: User):
    ctx = own(services, alice)
    mine = Resource(org_id=alice.org_id, user_id=alice.id)
    theirs = Resource(org_id=alice.org_id, user_id="someone-else")
    for permission in SELF_PERMISSIONS:
        assert ctx.can(permission, mine), permission
        assert not ctx.can(permission, theirs), permission
        assert not ctx.can(permission, Resource(org_id=alice.org_id)), permission
    for managerial in ("user.delete", "org.read", "user.grant.write", "session.write"):
        assert not ctx.can(managerial, mine), managerial


async def test_a_user_changes_themselves_but_nobody_else(
    services: Services, alice: User, bob: User
):
    ctx = own(services, alice)
    changed = await services.users.update_profile(ctx, alice.id, ProfileChange(nickname="Al"))
    assert changed.nickname == "Al"
    assert (await services.users.get_user(ctx, alice.id)).id == alice.id
    assert (await services.factors.authenticators(ctx, alice.id)).factors == ()
    for attempt in (
        lambda: services.users.update_profile(ctx, bob.id, ProfileChange(nickname="B")),
        lambda: services.users.change_username(ctx, bob.id, "robert"),
        lambda: services.users.change_email(ctx, bob.id, "x@example.com", verified=True),
        lambda: services.users.get_user(ctx, bob.id),
        lambda: services.factors.authenticators(ctx, bob.id),
        lambda: services.users.remove_user(ctx, bob.id),
        # Lifecycle changes and a manager's password reset are not self services.
        lambda: services.users.lock_user(ctx, alice.id),
        lambda: services.users.set_password(ctx, alice.id, NEW_PASSWORD),
    ):
        with pytest.raises(PermissionDenied):
            await attempt()


async def test_managers_keep_their_permissions(services: Services, admin: Context, bob: User):
    changed = await services.users.update_profile(admin, bob.id, ProfileChange(nickname="Rob"))
    assert changed.nickname == "Rob"
    locked = await services.users.lock_user(admin, bob.id)
    assert locked.state.value == "locked"


async def test_only_a_signed_in_user_has_an_account(services: Services, alice: User):
    with pytest.raises(Unauthenticated):
        await services.account.me(Context(clock=services.clock))
    with pytest.raises(Unauthenticated):
        await services.account.me(services.system_context())


# --- me and the profile ----------------------------------------------------------------------


async def test_me_shows_the_user_and_what_the_policy_allows(services: Services, alice: User):
    me = await services.account.me(own(services, alice))
    assert (me.user.id, me.user.email, me.user.email_verified) == (alice.id, alice.email, True)
    assert (me.factors, me.recovery_codes_left) == ((), 0)
    assert (me.may_delete, me.mfa_forced) == (False, False)
    assert me.addable_kinds == ("totp", "u2f", "passkey")
    assert (me.email_code_pending, me.phone_code_pending) == (False, False)


async def test_profile_and_username_changes_are_the_managers_events(
    services: Services, alice: User
):
    ctx = own(services, alice)
    user = await services.account.update_profile(ctx, ProfileChange(first_name="Alicia"))
    assert user.first_name == "Alicia"
    [event] = await events_of(services, "user.human.profile.changed", alice.id)
    assert (event.actor_id, event.payload) == (alice.id, {"first_name": "Alicia"})
    renamed = await services.account.change_username(ctx, "ali")
    assert renamed.username == "ali"
    assert await events_of(services, "user.username.changed", alice.id)
    with pytest.raises(InvalidArgument) as bad:
        await services.account.update_profile(ctx, ProfileChange(gender="robot"))
    assert bad.value.field == "gender"


# --- email -----------------------------------------------------------------------------------


async def test_an_email_change_is_verified_with_the_mailed_code(services: Services, alice: User):
    ctx = own(services, alice)
    changed = await services.account.change_email(ctx, "alice@example.org")
    assert (changed.email, changed.email_verified) == ("alice@example.org", False)
    assert (await services.account.me(ctx)).email_code_pending
    [code] = await mailed_codes(services, "alice@example.org")

    with pytest.raises(InvalidArgument) as wrong:
        await services.account.verify_email(ctx, "AAAAAA" if code != "AAAAAA" else "BBBBBB")
    assert wrong.value.code == "code.invalid"
    assert rows(
        services.settings.data_dir, "SELECT failed_code_attempts FROM users WHERE id = ?", alice.id
    ) == [(1,)]

    verified = await services.account.verify_email(ctx, code.lower())
    assert verified.email_verified
    [event] = await events_of(services, "user.human.email.verified", alice.id)
    assert event.payload == {"email": "alice@example.org"}
    me = await services.account.me(ctx)
    assert not me.email_code_pending
    with pytest.raises(PreconditionFailed) as done:
        await services.account.verify_email(ctx, code)
    assert done.value.code == "user.email.nothing_to_verify"


async def test_a_resent_email_code_replaces_the_first(services: Services, alice: User):
    ctx = own(services, alice)
    await services.account.change_email(ctx, "alice@example.org")
    await services.account.resend_email_code(ctx)
    first, second = await mailed_codes(services, "alice@example.org")
    assert first != second  # 36^6 codes: equal ones would be a broken generator
    with pytest.raises(InvalidArgument):
        await services.account.verify_email(ctx, first)
    assert (await services.account.verify_email(ctx, second)).email_verified
    with pytest.raises(PreconditionFailed):
        await services.account.resend_email_code(ctx)  # verified: nothing to resend


async def test_resending_is_throttled_per_user(services: Services, alice: User):
    ctx = own(services, alice)
    await services.account.change_email(ctx, "alice@example.org")
    for _ in range(5):
        await services.account.resend_email_code(ctx)
    with pytest.raises(RateLimited) as throttled:
        await services.account.resend_email_code(ctx)
    assert throttled.value.code == "auth.throttled"
    assert len(await mailed_codes(services, "alice@example.org")) == 6


# --- phone -----------------------------------------------------------------------------------


async def test_a_phone_is_verified_with_a_texted_code_and_removed_with_its_factor(
    services: Services, admin: Context, alice: User, acme: Organization, provider: SmsProvider
):
    await services.sms.set_sms(admin, http_settings(provider))
    await login_policy(services, acme.id, second_factors=("otp", "otp_sms"))
    ctx = own(services, alice)
    changed = await services.account.change_phone(ctx, PHONE)
    assert (changed.phone, changed.phone_verified) == (PHONE_E164, False)
    assert (await services.account.me(ctx)).phone_code_pending
    [code] = await texted_codes(services, provider.received, PHONE_E164)
    assert len(code) == 6
    [sent] = await events_of(services, "user.human.phone.code.added", alice.id)
    assert code not in str(sent.payload)

    verified = await services.account.verify_phone(ctx, code)
    assert verified.phone_verified
    assert await events_of(services, "user.human.phone.verified", alice.id)
    assert await services.account.add_otp(ctx, "otp_sms")  # the first factor: recovery codes

    removed = await services.account.remove_phone(ctx)
    assert (removed.phone, removed.phone_verified) == ("", False)
    assert await events_of(services, "user.human.phone.removed", alice.id)
    assert await events_of(services, "user.human.otp.sms.removed", alice.id)
    assert (await services.account.me(ctx)).factors == ()


async def test_a_phone_code_expires_after_an_hour(
    services: Services, admin: Context, alice: User, provider: SmsProvider, clock: FixedClock
):
    await services.sms.set_sms(admin, http_settings(provider))
    ctx = own(services, alice)
    await services.account.change_phone(ctx, PHONE)
    [code] = await texted_codes(services, provider.received, PHONE_E164)
    clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(InvalidArgument):
        await services.account.verify_phone(own(services, alice), code)
    await services.account.resend_phone_code(own(services, alice))
    _, fresh = await texted_codes(services, provider.received, PHONE_E164)
    assert (await services.account.verify_phone(own(services, alice), fresh)).phone_verified


# --- the re-authentication rule --------------------------------------------------------------


async def test_sensitive_changes_ask_for_a_recent_sign_in(
    services: Services, alice: User, clock: FixedClock
):
    stale = own(services, alice, auth_time=clock.now() - timedelta(minutes=11))
    never = own(services, alice, recent=False)
    account = services.account
    for ctx in (stale, never):
        for attempt in (
            lambda c: account.change_email(c, "alice@example.org"),
            lambda c: account.change_phone(c, PHONE),
            lambda c: account.remove_phone(c),
            lambda c: account.start_totp(c),
            lambda c: account.add_otp(c, "otp_email"),
            lambda c: account.start_key_registration(c, passkey=False),
            lambda c: account.remove_factor(c, "any"),
            lambda c: account.regenerate_recovery_codes(c),
        ):
            with pytest.raises(ReauthRequired) as asked:
                await attempt(ctx)
            assert asked.value.code == "session.reauth_required"
    recent = own(services, alice, auth_time=clock.now() - timedelta(minutes=9))
    assert (await account.change_email(recent, "alice@example.org")).email == "alice@example.org"
    # The current password is proof enough for a password change.
    await account.change_password(never, PASSWORD, NEW_PASSWORD)


async def test_the_window_comes_from_the_settings(services: Services):
    assert services.account.reauth_window == timedelta(seconds=600)


# --- password --------------------------------------------------------------------------------


async def test_a_password_change_keeps_this_session_and_ends_the_others(
    services: Services, alice: User
):
    here = await signed_in(services, alice, user_agent="Firefox")
    there = await signed_in(services, alice, user_agent="Safari")
    ctx = own(services, alice, session_id=here.id)
    with pytest.raises(InvalidArgument) as wrong:
        await services.account.change_password(ctx, "not-it", NEW_PASSWORD)
    assert wrong.value.code == "password.current_wrong"
    with pytest.raises(InvalidArgument) as weak:
        await services.account.change_password(ctx, PASSWORD, "short")
    assert weak.value.code == "password.too_short"
    with pytest.raises(InvalidArgument) as differ:
        await services.account.change_password(ctx, PASSWORD, NEW_PASSWORD, repeat="other")
    assert (differ.value.code, differ.value.field) == ("password.mismatch", "new_password_repeat")

    await services.account.change_password(ctx, PASSWORD, NEW_PASSWORD, repeat=NEW_PASSWORD)
    assert await services.sessions.find_session(here.id) is not None
    assert await services.sessions.find_session(there.id) is None
    [event] = await events_of(services, "user.human.password.changed", alice.id)
    assert event.payload["access_ended"]["sessions"] == 1


# --- sessions and applications ---------------------------------------------------------------


async def test_the_user_lists_and_ends_their_sessions(services: Services, alice: User, bob: User):
    here = await signed_in(services, alice, user_agent="Firefox")
    await signed_in(services, alice, user_agent="Safari")
    await signed_in(services, alice, user_agent="Chromium")
    bobs = await signed_in(services, bob)
    ctx = own(services, alice, session_id=here.id)

    listed = await services.account.list_sessions(ctx)
    assert sorted(s.user_agent for s in listed) == ["Chromium", "Firefox", "Safari"]
    assert {s.client_ip for s in listed} == {"192.0.2.1"}
    assert [s.id for s in listed if s.current] == [here.id]

    with pytest.raises(NotFound):
        await services.account.end_session(ctx, bobs.id)
    assert await services.sessions.find_session(bobs.id) is not None
    chromium = next(s for s in listed if s.user_agent == "Chromium")
    await services.account.end_session(ctx, chromium.id)
    assert len(await services.account.list_sessions(ctx)) == 2
    assert await services.account.end_other_sessions(ctx) == 1
    assert [s.id for s in await services.account.list_sessions(ctx)] == [here.id]
    assert await services.sessions.find_session(bobs.id) is not None
    assert len(await events_of(services, "user.session.terminated", alice.id)) == 2


async def test_idle_sessions_are_not_listed(services: Services, alice: User, clock: FixedClock):
    await signed_in(services, alice)
    clock.advance(timedelta(hours=24, seconds=1))
    assert await services.account.list_sessions(own(services, alice)) == []


async def _refresh_token(services: Services, app_id: str, user: User) -> str:
    now = services.clock.now()
    token_id = new_id()
    info = RefreshTokenInfo(
        id=token_id,
        family_id=new_id(),
        app_id=app_id,
        user_id=user.id,
        session_id=None,
        scopes=("openid", "offline_access"),
        audience=(),
        auth_time=now,
        amr=("pwd",),
        created_at=now,
        idle_expires_at=now + timedelta(days=30),
        absolute_expires_at=now + timedelta(days=90),
        rotated_at=None,
        revoked_at=None,
    )
    async with services.store.transaction() as tx:
        await tx.refresh_tokens.insert(info, digest=tokens.digest(token_id))
    return token_id


async def test_the_user_sees_and_revokes_applications_holding_their_tokens(
    services: Services, admin: Context, acme: Organization, alice: User, bob: User
):
    project = await services.projects.create_project(admin, acme.id, "Portal")
    app, _ = await services.apps.create_oidc_app(
        admin,
        project.id,
        NewOidcApp(
            name="Portal Web",
            app_type=AppType.WEB,
            auth_method=AuthMethod.BASIC,
            redirect_uris=["https://portal.example.com/cb"],
        ),
    )
    mine = await _refresh_token(services, app.id, alice)
    theirs = await _refresh_token(services, app.id, bob)
    ctx = own(services, alice)

    [access] = await services.account.list_app_access(ctx)
    assert (access.token_id, access.app_name, access.client_id) == (
        mine,
        "Portal Web",
        app.client_id,
    )
    with pytest.raises(NotFound):
        await services.account.revoke_app_access(ctx, theirs)
    await services.account.revoke_app_access(ctx, mine)
    assert await services.account.list_app_access(ctx) == []
    assert len(await services.account.list_app_access(own(services, bob))) == 1
    [event] = await events_of(services, "user.token.removed", alice.id)
    assert event.payload == {"token_id": mine, "client_id": app.client_id}


# --- deletion --------------------------------------------------------------------------------


async def test_deleting_oneself_needs_the_policy_and_the_password(
    services: Services, alice: User, acme: Organization
):
    session = await signed_in(services, alice)
    ctx = own(services, alice, session_id=session.id)
    assert not (await services.account.me(ctx)).may_delete
    with pytest.raises(PreconditionFailed) as off:
        await services.account.delete_me(ctx, PASSWORD)
    assert off.value.code == "user.self_delete.not_allowed"

    await login_policy(services, acme.id, allow_self_delete=True)
    assert (await services.account.me(ctx)).may_delete
    with pytest.raises(InvalidArgument) as wrong:
        await services.account.delete_me(ctx, "not-it")
    assert (wrong.value.code, wrong.value.field) == ("password.current_wrong", "password")

    await services.account.delete_me(ctx, PASSWORD)
    assert rows(
        services.settings.data_dir, "SELECT count(*) FROM users WHERE id = ?", alice.id
    ) == [(0,)]
    assert await services.sessions.find_session(session.id) is None
    [event] = await events_of(services, "user.removed", alice.id)
    assert event.actor_id == alice.id
    assert event.payload["by_self"] is True
    assert event.payload["access_ended"]["sessions"] == 1


async def test_a_manager_still_cannot_remove_themselves(services: Services, admin: Context):
    assert admin.actor is not None
    with pytest.raises(PreconditionFailed) as refused:
        await services.users.remove_user(admin, admin.actor.user_id)
    assert refused.value.code == "user.remove.self"
