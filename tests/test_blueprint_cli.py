"""`zitui apply` as an operator runs it: the example applied, re-applied, and refused files."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.conftest import make_settings
from tests.dbfile import rows
from tests.processes import run, zitui_env
from zitui.blueprint.specs import ORG_KEYS
from zitui.core.context import Context
from zitui.core.services import Services, open_services
from zitui.records import AuthMethod, Organization, Scope, TokenType

EXAMPLE = Path(__file__).parent / "blueprints" / "b2b.toml"
EXTERNAL_URL = "https://id.example.com"


def snapshot(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, so "unchanged" means unchanged, secrets' digests included."""
    tables = [r[0] for r in rows(data_dir, "SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: sorted(rows(data_dir, f'SELECT * FROM "{t}"'), key=repr) for t in tables}


def apply(data_dir: Path, *args: str | Path) -> Any:
    return run(["apply", *map(str, args), "--data", str(data_dir)], zitui_env(data_dir))


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """The example applied once to a fresh data directory: (data dir, credentials, stdout)."""
    base = tmp_path_factory.mktemp("applied")
    data, out = base / "data", base / "creds.json"
    result = apply(data, EXAMPLE, "--out", out, "--external-url", EXTERNAL_URL)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    return data, json.loads(out.read_text()), result.stdout


def test_the_example_reports_what_it_created(applied: tuple[Path, dict[str, Any], str]):
    _, _, stdout = applied
    lines = stdout.strip().splitlines()
    assert "created mail server smtp.example.com:587" in lines
    assert "created domain acme.example.com of Acme (verified, primary)" in lines
    assert "created user grant Globex/gina in Acme/Portal: editor" in lines
    assert (
        "created manager Globex/gus of project grant Acme/Portal to Globex: PROJECT_GRANT_OWNER"
        in lines
    )
    assert lines[-1].startswith(f"zitui: applied {EXAMPLE}: 24 created, 0 changed;")


def test_the_credentials_file_holds_what_was_asked_for(applied: tuple[Path, dict[str, Any], str]):
    _, creds, _ = applied
    assert sorted(creds) == [
        "Acme/Portal/portal-api",
        "Acme/Portal/portal-spa",
        "Acme/Portal/portal-web",
        "Acme/portal-ci",
    ]
    for name in ("Acme/Portal/portal-web", "Acme/Portal/portal-api"):
        assert sorted(creds[name]) == ["client_id", "client_secret"]
        assert len(creds[name]["client_secret"]) == 64
    assert list(creds["Acme/Portal/portal-spa"]) == ["client_id"]
    machine = creds["Acme/portal-ci"]
    assert sorted(machine) == ["client_id", "client_secret", "key", "pat", "user_id"]
    assert machine["client_id"] == "portal-ci"
    key = machine["key"]
    assert sorted(key) == ["key", "keyId", "type", "userId"]
    assert (key["type"], key["userId"]) == ("serviceaccount", machine["user_id"])
    assert key["key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert load_pem_private_key(key["key"].encode(), password=None).key_size == 2048


Opened = tuple[Services, Context, Organization, Organization]


@pytest.fixture
async def opened(applied: tuple[Path, dict[str, Any], str]) -> AsyncIterator[Opened]:
    """Services on the applied data directory, acting as the instance, with Acme and Globex."""
    services, _ = await open_services(make_settings(applied[0]))
    ctx = services.system_context()
    try:
        acme = await services.orgs.find_org_by_name(ctx, "Acme")
        globex = await services.orgs.find_org_by_name(ctx, "Globex")
        assert acme and globex
        yield services, ctx, acme, globex
    finally:
        await services.close()


async def test_the_instance_and_orgs_have_the_declared_domains(opened: Opened):
    services, ctx, acme, globex = opened
    assert (await services.instance.get_instance(ctx)).domain == "id.example.com"
    assert (acme.primary_domain, globex.primary_domain) == (
        "acme.example.com",
        "globex.example.com",
    )
    domains = await services.orgs.list_domains(ctx, acme.id)
    assert [(d.domain, d.is_verified) for d in domains if d.is_primary] == [
        ("acme.example.com", True)
    ]


async def test_users_machines_and_managers_are_as_declared(
    opened: Opened, applied: tuple[Path, dict[str, Any], str]
):
    services, ctx, acme, globex = opened
    alice = await services.users.find_user_by_username(ctx, acme.id, "alice")
    assert alice and alice.email_verified and alice.password_change_required
    assert alice.login_name == "alice@acme.example.com"
    gus = await services.users.find_user_by_username(ctx, globex.id, "gus")
    assert gus and not gus.email_verified
    bot = await services.users.find_user_by_username(ctx, acme.id, "portal-ci")
    assert bot and bot.id == applied[1]["Acme/portal-ci"]["user_id"] and bot.has_secret
    assert bot.display_name == "Portal CI"
    assert len(await services.machines.list_machine_keys(ctx, bot.id)) == 1
    assert len(await services.machines.list_personal_access_tokens(ctx, bot.id)) == 1
    gina = await services.users.find_user_by_username(ctx, globex.id, "gina")
    assert gina
    managers = [(alice, acme), (bot, acme), (gina, globex)]
    held = [
        [
            (m.scope, m.scope_id, m.roles)
            for m in await services.memberships.list_user_memberships(ctx, user.id)
        ]
        for user, _ in managers
    ]
    assert held == [
        [(Scope.ORG, acme.id, ("ORG_OWNER",))],
        [(Scope.ORG, acme.id, ("ORG_USER_MANAGER",))],
        [(Scope.ORG, globex.id, ("ORG_OWNER",))],
    ]


async def test_the_project_and_its_apps_are_as_declared(
    opened: Opened, applied: tuple[Path, dict[str, Any], str]
):
    services, ctx, acme, _ = opened
    portal = await services.projects.find_project_by_name(ctx, acme.id, "Portal")
    assert portal and portal.role_assertion and portal.role_check
    roles = await services.projects.list_project_roles(ctx, portal.id)
    assert sorted(r.key for r in roles.items) == ["admin", "editor", "viewer"]
    web = await services.apps.find_app_by_name(ctx, portal.id, "portal-web")
    assert web and web.client_id == applied[1]["Acme/Portal/portal-web"]["client_id"]
    assert web.redirect_uris == ("https://portal.acme.example.com/auth/callback",)
    assert web.post_logout_redirect_uris == ("https://portal.acme.example.com/",)
    assert (web.access_token_type, web.id_token_role_assertion) == (TokenType.JWT, True)
    assert web.grant_types == ("authorization_code", "refresh_token")
    api = await services.apps.find_app_by_name(ctx, portal.id, "portal-api")
    assert api and (api.auth_method, api.access_token_type) == (
        AuthMethod.BASIC,
        TokenType.BEARER,
    )
    spa = await services.apps.find_app_by_name(ctx, portal.id, "portal-spa")
    assert spa and spa.dev_mode and not spa.has_secret


async def test_grants_and_mail_server_are_as_declared(
    opened: Opened, applied: tuple[Path, dict[str, Any], str]
):
    services, ctx, acme, globex = opened
    portal = await services.projects.find_project_by_name(ctx, acme.id, "Portal")
    alice = await services.users.find_user_by_username(ctx, acme.id, "alice")
    gina = await services.users.find_user_by_username(ctx, globex.id, "gina")
    assert portal and alice and gina
    (grant,) = (await services.grants.list_project_grants(ctx, portal.id)).items
    assert (grant.granted_org_id, grant.role_keys) == (globex.id, ("editor", "viewer"))
    gus = await services.users.find_user_by_username(ctx, globex.id, "gus")
    (manager,) = await services.memberships.list_members(ctx, Scope.PROJECT_GRANT, grant.id)
    assert gus and (manager.user_id, manager.roles) == (gus.id, ("PROJECT_GRANT_OWNER",))
    own = await services.grants.find_user_grant(ctx, alice.id, portal.id)
    assert own and (own.role_keys, own.project_grant_id) == (("admin",), None)
    through = await services.grants.find_user_grant(ctx, gina.id, portal.id)
    assert through and (through.role_keys, through.project_grant_id, through.org_id) == (
        ("editor",),
        grant.id,
        globex.id,
    )
    smtp = await services.smtp.smtp_credentials()
    assert smtp and (smtp.config.host, smtp.config.port, smtp.password) == (
        "smtp.example.com",
        587,
        "smtp-secret",
    )
    actors = rows(
        applied[0], "SELECT DISTINCT actor_id FROM events WHERE event_type != ?", "instance.set_up"
    )
    assert actors == [("system",)]


def test_reapplying_creates_nothing_and_rotates_nothing(
    applied: tuple[Path, dict[str, Any], str], tmp_path: Path
):
    data, _, _ = applied
    before = snapshot(data)
    out = tmp_path / "again.json"
    out.write_text("the first run's credentials, kept elsewhere by now")
    out.chmod(0o644)
    result = apply(data, EXAMPLE, "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        f"zitui: applied {EXAMPLE}: 0 created, 0 changed; credentials of this run in {out}"
    ]
    assert json.loads(out.read_text()) == {}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert snapshot(data) == before


ACME = '[[orgs]]\nname = "Acme"\n'
PORTAL = ACME + '[[orgs.projects]]\nname = "Portal"\n'
PETER = '[[orgs.users]]\nusername = "peter"\nfirst_name = "Peter"\nlast_name = "Gibbons"\n'
INITRODE = '[[orgs]]\nname = "Initrode"\n'


def user_grant(org: str, user: str, project: str, roles: str) -> str:
    return (
        f'[[orgs]]\nname = "{org}"\n[[orgs.user_grants]]\n'
        f'user = "{user}"\nproject = "{project}"\nroles = [{roles}]\n'
    )


REFUSED = [
    (
        "unknown_key",
        ACME + 'domian = "x.ch"\n',
        "orgs[0].domian: unknown key (did you mean domain?); "
        f"expected one of {', '.join(ORG_KEYS)}",
    ),
    (
        "wrong_type",
        PORTAL + 'role_check = "yes"\n',
        'orgs[0].projects[0].role_check: expected true or false, got "yes"',
    ),
    (
        "bad_enum",
        PORTAL + '[[orgs.projects.apps]]\nname = "x"\ntype = "spa"\n',
        'orgs[0].projects[0].apps[0].type: expected one of web, native, user_agent, api, got "spa"',
    ),
    (
        "missing_org",
        PORTAL + 'grants = [{ org = "Initech", roles = ["viewer"] }]\n',
        'orgs[0].projects[0].grants[0].org: no organisation "Initech" in this file or in the store',
    ),
    (
        "missing_project",
        user_grant("Globex", "gus", "Acme/Intranet", '"viewer"'),
        'orgs[0].user_grants[0].project: no project "Intranet" in Acme '
        "(in this file or in the store)",
    ),
    (
        "missing_user",
        user_grant("Globex", "guy", "Acme/Portal", '"viewer"'),
        'orgs[0].user_grants[0].user: no user "guy" in Globex (in this file or in the store)',
    ),
    (
        "role_not_granted",
        user_grant("Globex", "gus", "Acme/Portal", '"admin"'),
        'orgs[0].user_grants[0].roles[0]: "admin" is not a role of project Acme/Portal '
        "as granted to Globex (its roles: editor, viewer)",
    ),
    (
        "role_not_in_project",
        user_grant("Acme", "alice", "Portal", '"owner"'),
        'orgs[0].user_grants[0].roles[0]: "owner" is not a role of project Portal '
        "(its roles: admin, editor, viewer)",
    ),
    (
        "grant_role_not_in_project",
        PORTAL + 'roles = ["admin"]\ngrants = [{ org = "Globex", roles = ["owner"] }]\n',
        'orgs[0].projects[0].grants[0].roles[0]: "owner" is not a role of project Portal '
        "(its roles: admin, editor, viewer)",
    ),
    (
        "not_granted",
        INITRODE
        + PETER
        + '[[orgs.user_grants]]\nuser = "peter"\nproject = "Acme/Portal"\nroles = ["viewer"]\n',
        "orgs[0].user_grants[0].project: project Acme/Portal is not granted to Initrode",
    ),
    (
        "late_service_refusal",
        INITRODE + PETER + 'password = "short"\n',
        "orgs[0].users[0].password: password too weak: use at least 8 characters",
    ),
    (
        "domain_of_another_org",
        INITRODE + 'domain = "acme.example.com"\n',
        "orgs[0].domain: this domain belongs to an organisation",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused_files_change_nothing(
    applied: tuple[Path, dict[str, Any], str], tmp_path: Path, text: str, expected: str
):
    data, _, _ = applied
    before = snapshot(data)
    blueprint, out = tmp_path / "bad.toml", tmp_path / "creds.json"
    blueprint.write_text(text)
    result = apply(data, blueprint, "--out", out)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"zitui: {blueprint}: {expected}"]
    assert result.stdout == ""
    assert snapshot(data) == before
    assert os.listdir(tmp_path) == ["bad.toml"]


def test_a_refused_file_on_a_fresh_directory_creates_no_store(tmp_path: Path):
    blueprint = tmp_path / "bad.toml"
    blueprint.write_text('[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\n')
    result = apply(tmp_path / "data", blueprint)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"zitui: {blueprint}: orgs[0].users[0].first_name: required key is missing"
    ]
    assert not (tmp_path / "data" / "zitui.db").exists()
    missing = apply(tmp_path / "data", tmp_path / "none.toml")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"zitui: {tmp_path / 'none.toml'}: cannot read the file: No such file or directory"
    ]
    unwritable = apply(tmp_path / "data", EXAMPLE, "--out", tmp_path / "no" / "creds.json")
    assert unwritable.returncode == 1
    assert "cannot write the credentials file" in unwritable.stderr
    assert not (tmp_path / "data" / "zitui.db").exists()


def test_usage_errors_exit_2(tmp_path: Path):
    env = zitui_env(tmp_path / "data")
    assert run(["apply"], env).returncode == 2
    listen = run(["apply", str(EXAMPLE), "--listen", "127.0.0.1:1"], env)
    assert listen.returncode == 2 and "usage: zitui" in listen.stderr


def test_without_out_the_credentials_go_to_stdout(tmp_path: Path):
    blueprint = tmp_path / "bot.toml"
    blueprint.write_text(
        '[[orgs]]\nname = "Ops"\n[[orgs.machines]]\nusername = "deployer"\npat = true\n'
    )
    data = tmp_path / "data"
    first = run(["apply", str(blueprint)], zitui_env(data, ZITUI_ADMIN_PASSWORD=""))
    assert first.returncode == 0, first.stderr
    creds = json.loads(first.stdout)
    assert sorted(creds["Ops/deployer"]) == ["pat", "user_id"]
    err = first.stderr.splitlines()
    assert err[0].startswith("zitui: first run: administrator admin@zitui.localhost, password ")
    assert err[1:] == [
        "created organisation Ops",
        "created machine user Ops/deployer",
        "created credentials of Ops/deployer: pat",
        f"zitui: applied {blueprint}: 3 created, 0 changed",
    ]
    again = run(["apply", str(blueprint)], zitui_env(data))
    assert (again.returncode, json.loads(again.stdout)) == (0, {})
