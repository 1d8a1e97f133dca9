"""Policies: the instance default, an organisation's override, validation, audit and access."""

from __future__ import annotations

import pytest

from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from zitui.core.context import Context
from zitui.core.policies import LoginPolicy, NotificationPolicy, PasswordAgePolicy
from zitui.core.policy_rules import format_duration, parse_duration
from zitui.core.services import Services
from zitui.errors import InvalidArgument, NotFound, PreconditionFailed
from zitui.records import Organization


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


async def test_an_organisation_inherits_the_instance_default(services, admin, acme):
    state = await services.policies.get(admin, "login", acme.id)
    assert state.inherited and state.effective == LoginPolicy() == state.default
    instance = await services.policies.get(admin, "login")
    assert not instance.inherited and instance.org_id is None


async def test_new_kinds_have_their_defaults(services, admin):
    assert (await services.policies.get(admin, "password_age")).effective == PasswordAgePolicy()
    notification = await services.policies.get(admin, "notification")
    assert notification.effective == NotificationPolicy(password_change=False)


async def test_an_org_change_copies_the_default_then_applies_the_change(services, admin, acme):
    await services.policies.set(admin, "login", {"allow_register": False})
    event = await _one_event(
        services,
        lambda: services.policies.set(admin, "login", {"password_check_lifetime": "30m"}, acme.id),
    )
    assert event.event_type == "org.policy.login.changed"
    assert event.org_id == acme.id
    assert event.payload == {"kind": "login", "changes": {"password_check_lifetime_s": 1800}}
    state = await services.policies.get(admin, "login", acme.id)
    assert not state.inherited
    assert state.effective.allow_register is False  # copied from the default at that moment
    assert state.effective.password_check_lifetime_s == 1800
    assert state.overridden_fields() == ["password_check_lifetime_s"]


async def test_instance_change_is_audited_and_reaches_inheriting_orgs(services, admin, acme):
    event = await _one_event(
        services, lambda: services.policies.set(admin, "lockout", {"max_password_attempts": 3})
    )
    assert event.event_type == "instance.policy.lockout.changed"
    assert event.aggregate_type == "instance"
    assert event.payload["changes"] == {"max_password_attempts": 3}
    state = await services.policies.get(admin, "lockout", acme.id)
    assert state.inherited and state.effective.max_password_attempts == 3


async def test_unchanged_values_are_refused_without_an_event(services, admin, acme):
    await _no_event(
        services,
        lambda: services.policies.set(admin, "login", {"allow_register": True}),
        PreconditionFailed,
    )
    await _no_event(
        services,
        lambda: services.policies.set(admin, "login", {"allow_register": True}, acme.id),
        PreconditionFailed,
    )


async def test_reset_removes_the_override(services, admin, acme):
    await services.policies.set(admin, "password_complexity", {"min_length": 12}, acme.id)
    event = await _one_event(
        services, lambda: services.policies.reset(admin, "password_complexity", acme.id)
    )
    assert event.event_type == "org.policy.password_complexity.reset"
    state = await services.policies.get(admin, "password_complexity", acme.id)
    assert state.inherited and state.effective.min_length == 8
    with pytest.raises(PreconditionFailed) as raised:
        await services.policies.reset(admin, "password_complexity", acme.id)
    assert raised.value.code == "policy.not_overridden"


async def test_legal_is_the_privacy_policy(services, admin, acme):
    await services.policies.set(
        admin, "legal", {"tos_link": "https://acme.test/tos", "support_email": "help@acme.test"}
    )
    state = await services.policies.get(admin, "privacy", acme.id)
    assert state.kind == "privacy" and state.effective.tos_link == "https://acme.test/tos"
    assert state.effective.support_email == "help@acme.test"


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("login", {"allow_register": "no"}, "allow_register"),
        ("login", {"colour": "red"}, "colour"),
        ("login", {"password_check_lifetime": "ten hours"}, "password_check_lifetime"),
        ("login", {"password_check_lifetime_s": -1}, "password_check_lifetime_s"),
        ("login", {"second_factors": ["otp", "sms"]}, "second_factors"),
        ("login", {"multi_factors": ["otp"]}, "multi_factors"),
        ("login", {"default_redirect_uri": "javascript:alert(1)"}, "default_redirect_uri"),
        ("password_complexity", {"min_length": 0}, "min_length"),
        ("password_complexity", {"min_length": 73}, "min_length"),
        ("password_complexity", {"min_length": True}, "min_length"),
        ("lockout", {"max_password_attempts": -2}, "max_password_attempts"),
        ("password_age", {"max_age_days": "30"}, "max_age_days"),
        ("privacy", {"help_link": "ftp://acme.test"}, "help_link"),
        ("legal", {"support_email": "not-an-address"}, "support_email"),
        ("notification", {"password_change": 1}, "password_change"),
    ],
)
async def test_invalid_values_are_refused_naming_the_field(services, admin, kind, changes, field):
    with pytest.raises(InvalidArgument) as raised:
        await services.policies.set(admin, kind, changes)
    assert raised.value.field == field


async def test_an_unknown_kind_is_refused(services, admin):
    with pytest.raises(InvalidArgument) as raised:
        await services.policies.get(admin, "branding-ish")
    assert raised.value.field == "kind"


async def test_factor_lists_are_normalised(services, admin):
    state = await services.policies.set(
        admin, "login", {"second_factors": ["OTP", "otp_email", "otp"]}
    )
    assert state.effective.second_factors == ("otp", "otp_email")


def test_durations():
    assert parse_duration("240h", field="f") == 240 * 3600
    assert parse_duration("1h30m", field="f") == 5400
    assert parse_duration(90, field="f") == 90
    assert parse_duration("45", field="f") == 45
    assert format_duration(240 * 3600) == "240h"
    assert format_duration(1800) == "30m"
    assert format_duration(0) == "0s"
    for bad in ("", "h", "5x", "1.5h", True):
        with pytest.raises(InvalidArgument):
            parse_duration(bad, field="f")


async def test_org_owner_changes_their_org_only(services, admin, acme):
    owner = await sign_in_org_owner(services, admin, "Customer")
    customer = await services.orgs.find_org_by_name(admin, "Customer")
    assert customer is not None
    state = await services.policies.set(owner, "lockout", {"max_password_attempts": 5}, customer.id)
    assert state.effective.max_password_attempts == 5
    assert (await services.policies.get(owner, "lockout", customer.id)).effective == (
        state.effective
    )
    await assert_denied(
        services,
        lambda: services.policies.set(owner, "lockout", {"max_password_attempts": 1}, acme.id),
    )
    await assert_denied(
        services, lambda: services.policies.set(owner, "lockout", {"max_password_attempts": 1})
    )
    await services.policies.set(admin, "lockout", {"max_password_attempts": 9}, acme.id)
    await assert_denied(services, lambda: services.policies.reset(owner, "lockout", acme.id))
    assert (await services.policies.get(admin, "lockout")).effective.max_password_attempts == 0


async def test_a_missing_organisation_is_not_found(services, admin):
    with pytest.raises(NotFound):
        await services.policies.set(admin, "login", {"allow_register": False}, "no-such-org")
    assert not [e for e in await _events(services) if e.event_type.startswith("org.policy")]
