"""Policies in blueprints: the instance defaults at the top, an organisation's overrides under
`[[orgs]]`, checked when read, applied once."""

from __future__ import annotations

import tomllib

import pytest

from tests.test_blueprint_apply import apply
from tests.test_core_audit import _events
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import parse
from zitui.core.context import Context
from zitui.core.services import Services

POLICIES = """
[login_policy]
allow_register = false
password_check_lifetime = "18h"
second_factors = ["otp", "otp_email"]

[password_policy]
min_length = 10

[legal]
tos_link = "https://example.com/tos"
support_email = "help@example.com"

[[orgs]]
name = "Acme"

[orgs.lockout_policy]
max_password_attempts = 5

[orgs.password_age_policy]
max_age_days = 90

[orgs.notification_policy]
password_change = true

[orgs.domain_policy]
validate_org_domains = false
"""


def error(text: str) -> str:
    with pytest.raises(BlueprintError) as caught:
        parse(tomllib.loads(text))
    return caught.value.message


def test_policies_are_read_with_the_services_rules():
    blueprint = parse(tomllib.loads(POLICIES))
    login = blueprint.policies[0]
    assert (login.table, login.kind, login.path) == ("login_policy", "login", "login_policy")
    assert login.values == {
        "allow_register": False,
        "password_check_lifetime_s": 18 * 3600,
        "second_factors": ("otp", "otp_email"),
    }
    assert [p.kind for p in blueprint.policies] == ["login", "password_complexity", "privacy"]
    assert [p.kind for p in blueprint.orgs[0].policies] == [
        "password_age",
        "lockout",
        "domain",
        "notification",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[login_policy]\nallow_register = 1\n", "login_policy.allow_register: 1: "),
        ("[login_policy]\nallow_registration = true\n", "login_policy.allow_registration: unknown"),
        (
            '[login_policy]\npassword_check_lifetime_s = "1h"\n',
            "login_policy.password_check_lifetime_s: unknown",
        ),
        (
            '[login_policy]\nmfa_init_skip_lifetime = "soon"\n',
            'login_policy.mfa_init_skip_lifetime: "soon": ',
        ),
        ('[login_policy]\nsecond_factors = ["sms"]\n', "login_policy.second_factors: "),
        ("[password_policy]\nmin_length = 100\n", "password_policy.min_length: 100: "),
        ('[legal]\nhelp_link = "javascript:x"\n', 'legal.help_link: "javascript:x": '),
        (
            '[[orgs]]\nname = "A"\n[orgs.lockout_policy]\nmax_password_attempts = -1\n',
            "orgs[0].lockout_policy.max_password_attempts: -1: ",
        ),
        ("[branding_policy]\nx = 1\n", "branding_policy: unknown key"),
    ],
)
def test_bad_values_are_refused_at_their_place(text: str, expected: str):
    assert error(text).startswith(expected)


async def test_applying_twice_changes_the_policies_once(services: Services, admin: Context):
    first = await apply(services, POLICIES)
    assert [line for line in first.lines if "polic" in line or "legal" in line] == [
        "changed login policy of the instance: allow_register, password_check_lifetime,"
        " second_factors",
        "changed password policy of the instance: min_length",
        "changed legal of the instance: support_email, tos_link",
        "changed password age policy of Acme: max_age_days",
        "changed lockout policy of Acme: max_password_attempts",
        "changed notification policy of Acme: password_change",
    ]
    acme = await services.orgs.find_org_by_name(admin, "Acme")
    assert acme is not None
    lockout = await services.policies.get(admin, "lockout", acme.id)
    assert not lockout.inherited and lockout.effective.max_password_attempts == 5
    # The domain policy's value is the default's: Acme keeps inheriting it.
    assert (await services.policies.get(admin, "domain", acme.id)).inherited
    login = (await services.policies.get(admin, "login", acme.id)).effective
    assert login.password_check_lifetime_s == 18 * 3600 and not login.allow_register
    events = len(await _events(services))
    second = await apply(services, POLICIES)
    assert second.lines == [] and second.changed == 0
    assert len(await _events(services)) == events


async def test_a_changed_value_in_the_file_changes_only_that_field(services, admin):
    await apply(services, POLICIES)
    outcome = await apply(services, POLICIES.replace("min_length = 10", "min_length = 12"))
    assert outcome.lines == ["changed password policy of the instance: min_length"]
    policy = (await services.policies.get(admin, "password_complexity")).effective
    assert policy.min_length == 12
