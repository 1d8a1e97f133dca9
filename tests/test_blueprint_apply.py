"""Applying blueprints to a store that already holds things: what changes, what never does."""

from __future__ import annotations

import ast
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.dbfile import rows
from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import parse
from zitui.blueprint.state import Outcome
from zitui.core.context import RequestMeta
from zitui.core.services import Services
from zitui.records import AuthMethod, PrivateLabeling, Scope

ACME = """
[[orgs]]
name = "Acme"

[[orgs.users]]
username = "alice"
first_name = "Alice"
last_name = "Anders"
password = "Alice-Pass-1!"
managers = ["ORG_USER_MANAGER"]

[[orgs.projects]]
name = "Portal"
roles = ["viewer"]
role_assertion = true
grants = [{ org = "Globex", roles = ["viewer"] }]

[[orgs.projects.apps]]
name = "web"
type = "web"
redirect_uris = ["https://portal.example.com/a"]
dev_mode = true

[[orgs.user_grants]]
user = "alice"
project = "Portal"
roles = ["viewer"]

[[orgs]]
name = "Globex"

[[orgs.users]]
username = "gina"
first_name = "Gina"
last_name = "Gold"
"""


async def apply(services: Services, text: str) -> Outcome:
    return await apply_blueprint(services, parse(tomllib.loads(text)))


async def refused(services: Services, text: str) -> str:
    with pytest.raises(BlueprintError) as caught:
        await apply(services, text)
    return caught.value.message


def state(services: Services) -> list[tuple[object, ...]]:
    """A fingerprint of the store: how many rows each administrative table holds."""
    data = services.settings.data_dir
    tables = ("orgs", "org_domains", "users", "memberships", "projects", "project_roles")
    tables += ("apps", "project_grants", "user_grants", "machine_keys", "personal_access_tokens")
    tables += ("smtp_configs", "sms_providers", "events")
    return [(t, rows(data, f"SELECT count(*) FROM {t}")[0][0]) for t in tables]


async def test_existing_objects_gain_what_the_file_adds_and_lose_nothing(services: Services):
    await apply(services, ACME)
    ctx = services.system_context()
    acme = await services.orgs.find_org_by_name(ctx, "Acme")
    assert acme
    portal = await services.projects.find_project_by_name(ctx, acme.id, "Portal")
    assert portal
    web = await services.apps.find_app_by_name(ctx, portal.id, "web")
    assert web

    grown = (
        ACME.replace('roles = ["viewer"]\nrole_assertion', 'roles = ["editor"]\nrole_assertion')
        .replace('roles = ["viewer"] }', 'roles = ["editor"] }')
        .replace('managers = ["ORG_USER_MANAGER"]', 'managers = ["ORG_OWNER"]')
        .replace('project = "Portal"\nroles = ["viewer"]', 'project = "Portal"\nroles = ["editor"]')
        .replace("https://portal.example.com/a", "https://portal.example.com/b")
    )
    outcome = await apply(services, grown)
    assert outcome.lines == [
        "created roles of project Acme/Portal: editor",
        "changed app Acme/Portal/web: redirect_uris",
        "changed project grant Acme/Portal to Globex: added editor",
        "changed manager Acme/alice: added ORG_OWNER",
        "changed user grant Acme/alice in Acme/Portal: added editor",
    ]
    assert outcome.credentials == {}

    roles = await services.projects.list_project_roles(ctx, portal.id)
    assert sorted(r.key for r in roles.items) == ["editor", "viewer"]
    (grant,) = (await services.grants.list_project_grants(ctx, portal.id)).items
    assert grant.role_keys == ("viewer", "editor")
    alice = await services.users.find_user_by_username(ctx, acme.id, "alice")
    assert alice
    (membership,) = await services.memberships.list_user_memberships(ctx, alice.id)
    assert (membership.scope, membership.roles) == (Scope.ORG, ("ORG_USER_MANAGER", "ORG_OWNER"))
    user_grant = await services.grants.find_user_grant(ctx, alice.id, portal.id)
    assert user_grant and user_grant.role_keys == ("viewer", "editor")
    changed = await services.apps.find_app_by_name(ctx, portal.id, "web")
    assert changed and changed.redirect_uris == ("https://portal.example.com/b",)
    assert (changed.client_id, changed.auth_method) == (web.client_id, AuthMethod.BASIC)

    before = state(services)
    assert (await apply(services, grown)).lines == []
    shouted = (
        grown.replace('"Acme', '"ACME').replace('"alice"', '"ALICE"').replace("Portal", "PORTAL")
    )
    assert (await apply(services, shouted)).lines == []
    assert state(services) == before


async def test_settings_the_file_leaves_out_keep_their_values(services: Services):
    await apply(services, ACME)
    sparse = ACME.replace("role_assertion = true\n", "").replace("dev_mode = true\n", "")
    assert (await apply(services, sparse)).lines == []
    ctx = services.system_context()
    acme = await services.orgs.find_org_by_name(ctx, "Acme")
    assert acme
    portal = await services.projects.find_project_by_name(ctx, acme.id, "Portal")
    assert portal and portal.role_assertion
    web = await services.apps.find_app_by_name(ctx, portal.id, "web")
    assert web and web.dev_mode
    outcome = await apply(services, ACME.replace("role_assertion = true", "role_check = true"))
    assert outcome.lines == ["changed project Acme/Portal: role_check"]


async def test_a_projects_login_branding_is_set_and_kept_when_left_out(services: Services):
    setting = 'private_labeling_setting = "enforce_project_resource_owner_policy"\n'
    enforced = ACME.replace("role_assertion = true\n", f"role_assertion = true\n{setting}")
    await apply(services, enforced)
    ctx = services.system_context()
    acme = await services.orgs.find_org_by_name(ctx, "Acme")
    assert acme
    portal = await services.projects.find_project_by_name(ctx, acme.id, "Portal")
    assert portal
    assert portal.private_labeling_setting is PrivateLabeling.ENFORCE_PROJECT_RESOURCE_OWNER_POLICY
    assert (await apply(services, enforced)).lines == []
    assert (await apply(services, ACME)).lines == [], "a file without the key keeps the setting"

    allowed = enforced.replace(
        "enforce_project_resource_owner_policy", "allow_login_user_resource_owner_policy"
    )
    assert (await apply(services, allowed)).lines == [
        "changed project Acme/Portal: private_labeling_setting"
    ]
    changed = await services.projects.get_project(ctx, portal.id)
    assert (
        changed.private_labeling_setting is PrivateLabeling.ALLOW_LOGIN_USER_RESOURCE_OWNER_POLICY
    )

    message = await refused(services, enforced.replace("enforce_project", "enforce_the_project"))
    assert message.startswith("orgs[0].projects[0].private_labeling_setting: expected one of ")
    assert '"enforce_the_project_resource_owner_policy"' in message


async def test_an_existing_user_keeps_profile_and_password(services: Services):
    await apply(services, ACME)
    edited = ACME.replace('first_name = "Alice"', 'first_name = "Alicia"').replace(
        "Alice-Pass-1!", "Other-Pass-2!"
    )
    assert (await apply(services, edited)).lines == []
    ctx = services.system_context()
    acme = await services.orgs.find_org_by_name(ctx, "Acme")
    assert acme
    alice = await services.users.find_user_by_username(ctx, acme.id, "alice")
    assert alice and alice.first_name == "Alice"
    login = await services.auth.login_operator(
        alice.login_name, "Alice-Pass-1!", RequestMeta(origin="test")
    )
    assert login.user.id == alice.id


MACHINE = """
[[orgs]]
name = "Ops"
[[orgs.machines]]
username = "deployer"
pat = true
"""


async def test_missing_credentials_are_added_and_none_is_rotated(services: Services):
    first = await apply(services, MACHINE)
    user_id = first.credentials["Ops/deployer"]["user_id"]
    assert sorted(first.credentials["Ops/deployer"]) == ["pat", "user_id"]

    everything = MACHINE + "secret = true\nkey = true\n"
    second = await apply(services, everything)
    creds = second.credentials["Ops/deployer"]
    assert sorted(creds) == ["client_id", "client_secret", "key", "user_id"]
    assert (creds["user_id"], creds["key"]["userId"]) == (user_id, user_id)
    assert second.lines == ["created credentials of Ops/deployer: client_id, client_secret, key"]

    before = state(services)
    third = await apply(services, everything)
    assert (third.lines, third.credentials) == ([], {})
    assert state(services) == before
    ctx = services.system_context()
    assert len(await services.machines.list_personal_access_tokens(ctx, user_id)) == 1


async def test_credentials_get_the_declared_expiry_once(services: Services):
    # The suite's clock stands at 2026-11-26 09:00 UTC.
    expiring = MACHINE.replace(
        "pat = true",
        "pat = { expires = 2027-06-30 }\nkey = { expires = 2027-01-31T12:00:00+01:00 }",
    )
    first = await apply(services, expiring)
    assert first.lines[-1] == "created credentials of Ops/deployer: key, pat"
    user_id = first.credentials["Ops/deployer"]["user_id"]
    ctx = services.system_context()
    (pat,) = await services.machines.list_personal_access_tokens(ctx, user_id)
    (key,) = await services.machines.list_machine_keys(ctx, user_id)
    assert pat.expires_at == datetime(2027, 6, 30, tzinfo=UTC)
    assert key.expires_at == datetime(2027, 1, 31, 11, tzinfo=UTC)

    before = state(services)
    later = expiring.replace("2027-06-30", "2028-06-30").replace("2027-01-31", "2028-01-31")
    for text in (expiring, later, MACHINE + "key = true\n"):
        assert (await apply(services, text)).lines == [], "nothing is rotated"
    assert state(services) == before
    assert await services.machines.list_personal_access_tokens(ctx, user_id) == [pat]


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        ("pat = { expires = 2026-11-26T09:00:00Z }", "orgs[0].machines[0].pat.expires"),
        ("key = { expires = 2025-01-01 }", "orgs[0].machines[0].key.expires"),
    ],
)
async def test_an_expiry_in_the_past_is_refused(services: Services, credential: str, expected: str):
    before = state(services)
    message = await refused(services, MACHINE.replace("pat = true", credential))
    assert message == f"{expected}: the expiry must lie in the future"
    assert state(services) == before


FLOWS = """
[[orgs]]
name = "Acme"
[[orgs.projects]]
name = "Portal"
[[orgs.projects.apps]]
name = "web"
type = "web"
redirect_uris = ["https://portal.example.com/cb"]
grant_types = ["authorization_code", "refresh_token"]
response_types = ["code"]
[[orgs.projects.apps]]
name = "plain"
type = "native"
redirect_uris = ["http://127.0.0.1/cb"]
"""


async def test_apps_get_the_declared_flows_and_keep_them(services: Services):
    first = await apply(services, FLOWS)
    assert first.lines == [
        "created organisation Acme",
        "created project Acme/Portal",
        "created app Acme/Portal/web",
        "created app Acme/Portal/plain",
    ]
    ctx = services.system_context()
    acme = await services.orgs.find_org_by_name(ctx, "Acme")
    assert acme
    portal = await services.projects.find_project_by_name(ctx, acme.id, "Portal")
    assert portal
    apps = {a.name: a for a in (await services.apps.list_apps(ctx, portal.id)).items}
    assert apps["web"].grant_types == ("authorization_code", "refresh_token")
    assert (apps["plain"].response_types, apps["plain"].grant_types) == (
        ("code",),
        ("authorization_code",),
    )

    before = state(services)
    reordered = FLOWS.replace(
        '"authorization_code", "refresh_token"', '"refresh_token", "authorization_code"'
    )
    for text in (FLOWS, reordered):
        assert (await apply(services, text)).lines == []
    assert state(services) == before

    narrowed = FLOWS.replace('["authorization_code", "refresh_token"]', '["authorization_code"]')
    assert (await apply(services, narrowed)).lines == ["changed app Acme/Portal/web: grant_types"]
    web = await services.apps.find_app_by_name(ctx, portal.id, "web")
    assert web and web.grant_types == ("authorization_code",)
    assert (await apply(services, narrowed)).lines == []


async def test_unserved_flows_are_refused_before_anything_is_applied(services: Services):
    before = state(services)
    device = FLOWS.replace('"refresh_token"]', '"device_code"]')
    assert await refused(services, device) == (
        'orgs[0].projects[0].apps[0].grant_types[1]: "device_code" is not served by zitui; '
        "expected one of authorization_code, refresh_token"
    )
    assert state(services) == before


GRANT_MANAGERS = """
[[orgs]]
name = "Acme"
[[orgs.users]]
username = "alice"
first_name = "Alice"
last_name = "Anders"
[[orgs.projects]]
name = "Portal"
roles = ["viewer"]
grants = [
  { org = "Globex", roles = ["viewer"], managers = [
    { user = "gina", roles = ["PROJECT_GRANT_OWNER_VIEWER"] },
  ] },
]

[[orgs]]
name = "Globex"
[[orgs.users]]
username = "gina"
first_name = "Gina"
last_name = "Gold"
"""


async def test_project_grants_get_their_declared_managers(services: Services):
    first = await apply(services, GRANT_MANAGERS)
    line = "manager Globex/gina of project grant Acme/Portal to Globex"
    assert first.lines[-1] == f"created {line}: PROJECT_GRANT_OWNER_VIEWER"
    ctx = services.system_context()
    globex = await services.orgs.find_org_by_name(ctx, "Globex")
    acme = await services.orgs.find_org_by_name(ctx, "Acme")
    assert globex and acme
    portal = await services.projects.find_project_by_name(ctx, acme.id, "Portal")
    assert portal
    (grant,) = (await services.grants.list_project_grants(ctx, portal.id)).items
    gina = await services.users.find_user_by_username(ctx, globex.id, "gina")
    assert gina
    (membership,) = await services.memberships.list_members(ctx, Scope.PROJECT_GRANT, grant.id)
    assert (membership.user_id, membership.org_id, membership.roles) == (
        gina.id,
        globex.id,
        ("PROJECT_GRANT_OWNER_VIEWER",),
    )

    before = state(services)
    assert (await apply(services, GRANT_MANAGERS)).lines == []
    assert state(services) == before

    owner = GRANT_MANAGERS.replace('"PROJECT_GRANT_OWNER_VIEWER"', '"PROJECT_GRANT_OWNER"')
    assert (await apply(services, owner)).lines == [f"changed {line}: added PROJECT_GRANT_OWNER"]
    (membership,) = await services.memberships.list_members(ctx, Scope.PROJECT_GRANT, grant.id)
    assert membership.roles == ("PROJECT_GRANT_OWNER_VIEWER", "PROJECT_GRANT_OWNER")


async def test_grant_managers_are_users_of_the_granted_org(services: Services):
    before = state(services)
    outsider = GRANT_MANAGERS.replace('{ user = "gina"', '{ user = "alice"')
    assert await refused(services, outsider) == (
        'orgs[0].projects[0].grants[0].managers[0].user: no user "alice" in Globex '
        "(in this file or in the store)"
    )
    assert state(services) == before

    await apply(services, GRANT_MANAGERS)
    partial = """
[[orgs]]
name = "Acme"
[[orgs.projects]]
name = "Portal"
grants = [{ org = "Globex", managers = [{ user = "GINA", roles = ["PROJECT_GRANT_OWNER"] }] }]
"""
    outcome = await apply(services, partial)
    assert outcome.lines == [
        "changed manager Globex/GINA of project grant Acme/Portal to Globex: "
        "added PROJECT_GRANT_OWNER"
    ]


async def test_an_app_moving_to_a_secret_method_gets_its_first_secret(services: Services):
    pkce = ACME.replace('type = "web"\n', 'type = "web"\nauth_method = "none"\n')
    first = await apply(services, pkce)
    client_id = first.credentials["Acme/Portal/web"]["client_id"]
    assert first.credentials["Acme/Portal/web"] == {"client_id": client_id}
    second = await apply(
        services, ACME.replace('type = "web"\n', 'type = "web"\nauth_method = "post"\n')
    )
    assert second.lines == ["changed app Acme/Portal/web: auth_method"]
    assert second.credentials["Acme/Portal/web"]["client_id"] == client_id
    assert len(second.credentials["Acme/Portal/web"]["client_secret"]) == 64
    assert (
        await apply(
            services, ACME.replace('type = "web"\n', 'type = "web"\nauth_method = "post"\n')
        )
    ).credentials == {}


async def test_an_app_cannot_change_between_api_and_oidc(services: Services):
    await apply(services, ACME)
    api = ACME.replace('type = "web"', 'type = "api"').replace(
        'redirect_uris = ["https://portal.example.com/a"]\ndev_mode = true\n', ""
    )
    assert await refused(services, api) == (
        "orgs[0].projects[0].apps[0].type: an API app cannot become an OIDC app, "
        "nor the other way round"
    )


SMTP = '[smtp]\nhost = "mail.example.com"\nfrom = "id@example.com"\nuser = "id"\n'


async def test_the_mail_server_is_set_when_it_differs(services: Services):
    first = await apply(services, SMTP + 'password = "first-secret"\n')
    assert first.lines == ["created mail server mail.example.com:587"]
    before = state(services)
    assert (await apply(services, SMTP)).lines == []
    assert (await apply(services, SMTP + 'password = "first-secret"\n')).lines == []
    assert state(services) == before
    moved = await apply(services, SMTP.replace("mail.example.com", "smtp.example.com"))
    assert moved.lines == ["changed mail server smtp.example.com:587"]
    stored = await services.smtp.smtp_credentials()
    assert stored and stored.password == "first-secret"
    await apply(services, SMTP.replace("mail.example.com", "smtp.example.com") + 'password = "two"')
    stored = await services.smtp.smtp_credentials()
    assert stored and stored.password == "two"


SMS = '[sms]\nkind = "http"\nurl = "https://sms.example.com/send"\n'
TWILIO = '[sms]\nkind = "twilio"\naccount_sid = "AC1"\nsender = "+15005550006"\n'


async def test_the_sms_provider_is_set_when_it_differs(services: Services):
    first = await apply(services, SMS + 'token = "first-token"\n')
    assert first.lines == ["created SMS provider http sms.example.com"]
    before = state(services)
    assert (await apply(services, SMS)).lines == []
    assert (await apply(services, SMS + 'token = "first-token"\n')).lines == []
    assert state(services) == before  # no second change event either
    assert "first-token" not in str(rows(services.settings.data_dir, "SELECT * FROM sms_providers"))

    moved = await apply(services, SMS.replace("/send", "/v2/send"))
    assert moved.lines == ["changed SMS provider http sms.example.com"]
    stored = await services.sms.sms_credentials()
    assert stored and (stored.config.url, stored.token) == (
        "https://sms.example.com/v2/send",
        "first-token",
    )
    await apply(services, SMS + 'token = "two"\n')
    stored = await services.sms.sms_credentials()
    assert stored and stored.token == "two"


async def test_a_twilio_provider_needs_its_auth_token_once(services: Services):
    await apply(services, SMS + 'token = "bearer"\n')
    # The stored bearer token is no Twilio auth token: the service refuses, at the file's key.
    assert await refused(services, TWILIO) == (
        "sms.auth_token: a Twilio-compatible provider needs its auth token"
    )
    changed = await apply(services, TWILIO + 'auth_token = "auth"\n')
    assert changed.lines == ["changed SMS provider twilio api.twilio.com"]
    assert (await apply(services, TWILIO)).lines == []
    stored = await services.sms.sms_credentials()
    assert stored and (stored.config.kind, stored.config.sender, stored.token) == (
        "twilio",
        "+15005550006",
        "auth",
    )


async def test_a_declared_domain_is_verified_and_made_primary(services: Services):
    ctx = services.system_context()
    org = await services.orgs.create_org(ctx, "Acme")
    await services.orgs.add_domain(ctx, org.id, "acme.example.com")
    outcome = await apply(services, '[[orgs]]\nname = "acme"\ndomain = "acme.example.com"\n')
    assert outcome.lines == ["changed domain acme.example.com of acme: verified and made primary"]
    found = await services.orgs.get_org(ctx, org.id)
    assert found.primary_domain == "acme.example.com"
    assert (
        await apply(services, '[[orgs]]\nname = "Acme"\ndomain = "acme.example.com"\n')
    ).lines == []


async def test_a_partial_file_refers_to_what_the_store_holds(services: Services):
    await apply(
        services,
        ACME.replace(
            'roles = ["viewer"]\nrole_assertion', 'roles = ["viewer", "editor"]\nrole_assertion'
        ),
    )
    partial = """
[[orgs]]
name = "Acme"
[[orgs.projects]]
name = "Portal"
grants = [{ org = "Initech", roles = ["editor"] }]

[[orgs]]
name = "Initech"
[[orgs.users]]
username = "peter"
first_name = "Peter"
last_name = "Gibbons"
[[orgs.user_grants]]
user = "peter"
project = "Acme/Portal"
roles = ["editor"]
[[orgs.user_grants]]
user = "peter"
project = "Initech/Tickets"
"""
    assert await refused(services, partial) == (
        'orgs[1].user_grants[1].project: no project "Tickets" in Initech '
        "(in this file or in the store)"
    )
    outcome = await apply(services, partial.rsplit("[[orgs.user_grants]]", 1)[0])
    assert outcome.lines[-1] == "created user grant Initech/peter in Acme/Portal: editor"


async def test_a_refusal_late_in_the_run_leaves_nothing_behind(services: Services):
    before = state(services)
    late = (
        ACME + '[[orgs.user_grants]]\nuser = "gina"\nproject = "Acme/Portal"\nroles = ["admin"]\n'
    )
    assert await refused(services, late) == (
        'orgs[1].user_grants[0].roles[0]: "admin" is not a role of project Acme/Portal as '
        "granted to Globex (its roles: viewer)"
    )
    assert state(services) == before
    ctx = services.system_context()
    assert await services.orgs.find_org_by_name(ctx, "Acme") is None


async def test_a_name_taken_by_the_other_kind_of_user_is_refused(services: Services):
    await apply(services, ACME)
    machine = '[[orgs]]\nname = "Acme"\n[[orgs.machines]]\nusername = "Alice"\n'
    assert await refused(services, machine) == (
        'orgs[0].machines[0].username: Acme has a human user "alice" already'
    )


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        (
            'user = "alice"\nproject = "Portal"\nroles = ["viewer", "owner"]',
            'orgs[0].user_grants[0].roles[1]: "owner" is not a role of project Portal '
            "(its roles: viewer)",
        ),
        (
            'user = "nobody"\nproject = "Portal"',
            'orgs[0].user_grants[0].user: no user "nobody" in Acme (in this file or in the store)',
        ),
        (
            'user = "alice"\nproject = "Globex/Portal"',
            'orgs[0].user_grants[0].project: no project "Portal" in Globex '
            "(in this file or in the store)",
        ),
        (
            'user = "alice"\nproject = "Initech/Portal"',
            "orgs[0].user_grants[0].project: "
            'no organisation "Initech" in this file or in the store',
        ),
    ],
)
async def test_user_grants_are_checked_against_the_store(
    services: Services, grant: str, expected: str
):
    text = ACME.replace('user = "alice"\nproject = "Portal"\nroles = ["viewer"]', grant)
    assert await refused(services, text) == expected


def test_the_blueprint_uses_the_core_services_only():
    """No SQL and no repositories: every change goes through a permission-checked service."""
    forbidden = ("sqlalchemy", "sqlmodel", "aiosqlite", "asyncpg", "zitui.store", "zitui.server")
    forbidden += ("zitui.screens", "textual", "starlette")
    package = Path(__file__).resolve().parents[1] / "zitui" / "blueprint"
    found = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.startswith(forbidden)]
    assert found == []
