"""Policies at work: phone login, lockout per organisation, password age and the mail a
password change sends, each read at the next step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.test_core_audit import _events
from tests.test_core_sessions import PASSWORD, add_human
from zitui.core.context import Context, RequestMeta
from zitui.core.services import Services
from zitui.core.sessions import new_browser_cookie
from zitui.errors import Unauthenticated
from zitui.records import Organization, User, UserState

KIND = "password.changed"
META = RequestMeta(origin="test", ip="192.0.2.9", user_agent="pytest")
WRONG = "Wrong-Pass-1!"


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


async def sign_in(services: Services, login_name: str, password: str = PASSWORD) -> User:
    return (await services.login.sign_in_console(login_name, password, META)).user


async def _state(services: Services, user_id: str) -> UserState:
    async with services.store.reader() as tx:
        user = await tx.users.find(user_id)
    assert user is not None
    return user.state


async def _mails(services: Services, kind: str) -> list[str]:
    async with services.store.reader() as tx:
        entries = await tx.outbox.list_recent(limit=100)
    return [e.recipient for e in entries if e.kind == kind]


async def test_a_verified_phone_signs_in_unless_the_policy_says_no(services, admin, acme):
    carol = await add_human(
        services, admin, acme.id, "carol", phone="+41 44 123 45 67", phone_verified=True
    )
    await add_human(services, admin, acme.id, "dave", phone="+41 44 765 43 21")
    assert (await sign_in(services, "+41441234567")).id == carol.id
    with pytest.raises(Unauthenticated):  # not verified: no login name
        await sign_in(services, "+41447654321")
    await services.policies.set(admin, "login", {"disable_login_with_phone": True})
    with pytest.raises(Unauthenticated):
        await sign_in(services, "+41441234567")


async def test_max_password_attempts_is_the_users_organisations(services, admin, acme):
    beta = await services.orgs.create_org(admin, "Beta")
    await services.policies.set(admin, "lockout", {"max_password_attempts": 2}, acme.id)
    alice = await add_human(services, admin, acme.id, "alice")
    bob = await add_human(services, admin, beta.id, "bob")
    for name in (alice.login_name, bob.login_name):
        with pytest.raises(Unauthenticated) as first:
            await sign_in(services, name, WRONG)
        assert first.value.code == "auth.bad_credentials"
    with pytest.raises(Unauthenticated) as second:
        await sign_in(services, alice.login_name, WRONG)
    # The attempt that locks is told so (show_lockout_failures is on by default) ...
    assert second.value.code == "auth.locked_now"
    assert await _state(services, alice.id) is UserState.LOCKED
    # ... and every later one gets the answer any failure gets.
    with pytest.raises(Unauthenticated) as third:
        await sign_in(services, alice.login_name, WRONG)
    assert third.value.code == "auth.bad_credentials"
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await sign_in(services, bob.login_name, WRONG)
    assert await _state(services, bob.id) is UserState.ACTIVE


async def test_without_show_lockout_failures_the_lock_is_not_told(services, admin, acme):
    await services.policies.set(
        admin, "lockout", {"max_password_attempts": 1, "show_lockout_failures": False}, acme.id
    )
    alice = await add_human(services, admin, acme.id, "alice")
    with pytest.raises(Unauthenticated) as caught:
        await sign_in(services, alice.login_name, WRONG)
    assert caught.value.code == "auth.bad_credentials"
    assert await _state(services, alice.id) is UserState.LOCKED


async def test_an_expired_password_must_be_changed(services, admin, acme, clock):
    alice = await add_human(services, admin, acme.id, "alice")
    await services.policies.set(admin, "password_age", {"max_age_days": 30}, acme.id)
    assert not (await sign_in(services, alice.login_name)).password_change_required
    clock.advance(timedelta(days=30))
    user = await sign_in(services, alice.login_name)
    assert user.password_change_required
    checks = [e for e in await _events(services) if e.event_type.endswith("check.succeeded")]
    assert checks[0].payload["password_expired"] is True
    # A new password starts the age again.
    await services.users.set_password(admin, alice.id, "New-Pass-12!", change_required=False)
    assert not (await sign_in(services, alice.login_name, "New-Pass-12!")).password_change_required


async def test_the_instance_default_age_applies_to_organisations_without_their_own(
    services, admin, acme, clock
):
    alice = await add_human(services, admin, acme.id, "alice")
    await services.policies.set(admin, "password_age", {"max_age_days": 1})
    clock.advance(timedelta(days=2))
    assert (await sign_in(services, alice.login_name)).password_change_required


async def test_a_password_change_mails_the_user_when_the_policy_asks(services, admin, acme):
    alice = await add_human(
        services, admin, acme.id, "alice", email="alice@example.com", email_verified=True
    )
    await services.users.set_password(admin, alice.id, "New-Pass-12!")
    assert await _mails(services, "password.changed") == []
    await services.policies.set(admin, "notification", {"password_change": True}, acme.id)
    await services.users.set_password(admin, alice.id, "New-Pass-123!")
    assert await _mails(services, "password.changed") == ["alice@example.com"]
    async with services.store.reader() as tx:
        (entry,) = [e for e in await tx.outbox.list_recent(limit=100) if e.kind == KIND]
    assert "password was changed" in entry.subject
    owner_ctx = (await services.auth.login_operator("admin", ADMIN_PASSWORD, META)).context
    await services.users.change_own_password(owner_ctx, ADMIN_PASSWORD, "Admin-Pass-2!")
    # The admin's organisation has no such policy: no mail for them.
    assert await _mails(services, "password.changed") == ["alice@example.com"]


async def test_an_email_username_is_its_own_login_name_unless_the_domain_must_be_added(
    services, admin, acme
):
    bob = await add_human(services, admin, acme.id, "bob@example.com")
    plain = await add_human(services, admin, acme.id, "plain")
    assert bob.login_name == "bob@example.com"
    assert plain.login_name == f"plain@{acme.primary_domain}"
    cookie = new_browser_cookie()
    session = await services.sessions.check_password(cookie, "bob@example.com", PASSWORD, META)
    assert session.login_name == "bob@example.com"
    assert (await sign_in(services, "bob@example.com")).login_name == "bob@example.com"

    await services.policies.set(admin, "domain", {"user_login_must_be_domain": True}, acme.id)
    suffixed = f"bob@example.com@{acme.primary_domain}"
    assert (await services.users.get_user(admin, bob.id)).login_name == suffixed
    async with services.store.reader() as tx:
        again = await tx.sessions.find(session.id)
    assert again is not None and again.login_name == suffixed
    assert (await sign_in(services, suffixed)).id == bob.id
    # Another organisation still follows the instance default.
    beta = await services.orgs.create_org(admin, "Beta")
    carol = await add_human(services, admin, beta.id, "carol@example.com")
    assert carol.login_name == "carol@example.com"
