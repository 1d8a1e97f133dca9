"""Identity providers in blueprints: `[[idps]]` for the instance, `[[orgs.idps]]` for an
organisation, checked when read, created once, changed where the file differs, their secrets
kept or compared but never read back."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.dbfile import rows
from tests.processes import run, zitui_env
from tests.test_blueprint_apply import apply, refused
from tests.test_core_audit import _events
from zitui.blueprint.idps import IDP_KEYS, current_settings
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import load, parse
from zitui.core.context import Context, RequestMeta
from zitui.core.services import Services
from zitui.errors import PermissionDenied
from zitui.records import AutoLinking, IdentityProvider, IdpType

EXAMPLE = Path(__file__).parent / "blueprints" / "idps.toml"
DOCS = Path(__file__).parents[1] / "docs" / "blueprint.md"
APPLE_KEY_LINE = 'key_id = "KEY1234567"\n'


def apple_key() -> str:
    """A fresh P-256 signing key as Apple hands it out (PKCS#8 PEM, a .p8 file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode()


def with_apple_key(pem: str) -> str:
    return EXAMPLE.read_text().replace(
        APPLE_KEY_LINE, f'{APPLE_KEY_LINE}client_secret = """{pem}"""\n'
    )


def error(text: str) -> str:
    with pytest.raises(BlueprintError) as caught:
        parse(tomllib.loads(text))
    return caught.value.message


async def owned(services: Services, org_name: str | None = None) -> dict[str, IdentityProvider]:
    ctx = services.system_context()
    org_id = ""
    if org_name is not None:
        org = await services.orgs.find_org_by_name(ctx, org_name)
        assert org is not None
        org_id = org.id
    return {idp.name: idp for idp in await services.idps.owned(ctx, org_id)}


async def secret_of(services: Services, idp: IdentityProvider) -> str:
    async with services.store.reader() as tx:
        stored = await services.idps.stored(tx, idp.id)
    assert stored is not None
    return services.idps.secret_of(stored)


def fingerprint(services: Services) -> list[tuple[object, ...]]:
    """Every provider row as stored (secrets' ciphertexts included) and the event count."""
    data = services.settings.data_dir
    return rows(data, "SELECT * FROM identity_providers ORDER BY id") + rows(
        data, "SELECT count(*) FROM events"
    )


# --- reading --------------------------------------------------------------------------------


def test_the_example_is_read_with_each_kinds_fields():
    blueprint = load(EXAMPLE)
    sso, github = blueprint.idps
    assert (sso.path, sso.name, sso.type) == ("idps[0]", "Company SSO", IdpType.OIDC)
    assert sso.options == {"auto_linking": AutoLinking.EMAIL, "auto_update": True}
    assert (github.type, github.extra) == (IdpType.GITHUB, {})
    entra, enterprise, apple, intranet = blueprint.orgs[0].idps
    assert entra.path == "orgs[0].idps[0]"
    assert entra.extra == {
        "tenant": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "email_verified": "true",
    }
    assert enterprise.extra == {"base_url": "https://github.acme.example.com"}
    assert (apple.extra, apple.client_secret) == (
        {"team_id": "ABCDE12345", "key_id": "KEY1234567"},
        "",
    )
    assert intranet.values["scopes"] == ("profile", "email")
    assert intranet.values["use_pkce"] is False
    assert "sso-client-secret" not in repr(blueprint)


def test_the_documented_example_is_the_tested_one():
    docs = DOCS.read_text()
    documented = docs.split("```toml\n# Sign-in through external identity providers")[1]
    assert "# Sign-in through external identity providers" + documented.split("```")[0] == (
        EXAMPLE.read_text()
    )


def test_the_reference_lists_every_key():
    section = DOCS.read_text().split("### `[[idps]]`")[1].split("\n### ")[0]
    for key in IDP_KEYS:
        assert f"`{key}`" in section, key


OIDC = (
    '[[idps]]\nname = "SSO"\ntype = "oidc"\nissuer = "https://sso.example.com"\nclient_id = "z"\n'
)
ORG = '[[orgs]]\nname = "Acme"\n[[orgs.idps]]\nname = "GH"\ntype = "github"\nclient_id = "z"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            OIDC + 'clientid = "x"\n',
            "idps[0].clientid: unknown key (did you mean client_id?); expected one of name, type, ",
        ),
        (
            '[[idps]]\nname = "X"\ntype = "saml"\nclient_id = "z"\n',
            "idps[0].type: expected one of oidc, oauth, google, github, gitlab, azure, apple, "
            'got "saml"',
        ),
        ('[[idps]]\nname = "X"\nclient_id = "z"\n', "idps[0].type: required key is missing"),
        ('[[idps]]\ntype = "google"\nclient_id = "z"\n', "idps[0].name: required key is missing"),
        ('[[idps]]\nname = "X"\ntype = "google"\n', "idps[0].client_id: required key is missing"),
        (OIDC + "use_pkce = 1\n", "idps[0].use_pkce: expected true or false, got 1"),
        (
            OIDC + 'auto_creation = "yes"\n',
            'idps[0].auto_creation: expected true or false, got "yes"',
        ),
        (
            OIDC + 'auto_linking = "phone"\n',
            'idps[0].auto_linking: expected one of none, username, email, got "phone"',
        ),
        (
            OIDC + 'scopes = "openid"\n',
            'idps[0].scopes: expected an array of strings, got "openid"',
        ),
        (OIDC + 'scopes = ["openid", "openid"]\n', 'idps[0].scopes[1]: "openid" is listed twice'),
        (OIDC + "client_secret = 42\n", "idps[0].client_secret: expected a string, got 42"),
        (ORG + "base_url = 1\n", "orgs[0].idps[0].base_url: expected a string, got 1"),
        (
            '[[idps]]\nname = "X"\ntype = "azure"\nclient_id = "z"\nemail_verified = "yes"\n',
            'idps[0].email_verified: expected true or false, got "yes"',
        ),
        (
            '[[orgs]]\nname = "A"\nidps = { name = "X" }\n',
            "orgs[0].idps: expected an array of tables, got a table",
        ),
    ],
)
def test_bad_keys_types_and_values_name_their_place(text: str, expected: str):
    assert error(text).startswith(expected)


@pytest.mark.parametrize(
    ("kind", "key", "expected"),
    [
        (
            "github",
            'tenant = "common"',
            "idps[0].tenant: not a key of github providers; they take base_url",
        ),
        (
            "azure",
            'base_url = "https://x.example.com"',
            "idps[0].base_url: not a key of azure providers; they take tenant, email_verified",
        ),
        ("google", 'team_id = "T"', "idps[0].team_id: not a key of google providers"),
        ("oidc", "email_verified = true", "idps[0].email_verified: not a key of oidc providers"),
        (
            "gitlab",
            'key_id = "K"',
            "idps[0].key_id: not a key of gitlab providers; they take base_url",
        ),
    ],
)
def test_a_template_field_is_taken_only_by_its_kinds(kind: str, key: str, expected: str):
    text = f'[[idps]]\nname = "X"\ntype = "{kind}"\nclient_id = "z"\nissuer = "https://i.example.com"\n{key}\n'
    assert error(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[idps]]\nname = "SSO"\ntype = "oidc"\nclient_id = "z"\n',
            "idps[0].issuer: an OpenID provider needs its issuer",
        ),
        (
            OIDC.replace("https://sso", "http://sso"),
            'idps[0].issuer: "http://sso.example.com": '
            "issuer must be an https URL (http only on localhost)",
        ),
        (
            OIDC + 'scopes = ["profile"]\n',
            "idps[0].scopes: an OpenID provider needs the openid scope",
        ),
        (
            '[[idps]]\nname = "O"\ntype = "oauth"\nclient_id = "z"\n'
            'authorization_endpoint = "https://o.example.com/a"\n'
            'userinfo_endpoint = "https://o.example.com/u"\nid_attribute = "id"\n',
            "idps[0].token_endpoint: an OAuth provider needs its token endpoint",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.idps]]\nname = "Apple"\ntype = "apple"\n'
            'client_id = "com.a"\nteam_id = "T1"\n',
            "orgs[0].idps[0].key_id: Apple needs its team id and key id",
        ),
        (
            '[[idps]]\nname = "E"\ntype = "azure"\nclient_id = "z"\ntenant = "a/b"\n',
            'idps[0].tenant: "a/b": tenant is not valid',
        ),
        (
            ORG + 'base_url = "ftp://ghe.example.com"\n',
            'orgs[0].idps[0].base_url: "ftp://ghe.example.com": base url must be an https URL',
        ),
        (OIDC.replace('"z"', '"  "'), 'idps[0].client_id: "  ": client id is required'),
    ],
)
def test_the_idp_services_rules_run_when_the_file_is_read(text: str, expected: str):
    assert error(text).startswith(expected)


def test_a_name_is_declared_once_per_owner():
    twice = OIDC + OIDC.replace('"SSO"', '"sso"')
    assert error(twice) == 'idps[1].name: "sso" is declared twice (first at idps[0].name)'
    in_org = ORG + '[[orgs.idps]]\nname = "GH"\ntype = "google"\nclient_id = "y"\n'
    assert (
        error(in_org)
        == 'orgs[0].idps[1].name: "GH" is declared twice (first at orgs[0].idps[0].name)'
    )
    both = OIDC + ORG.replace('"GH"', '"SSO"')
    assert [i.name for i in parse(tomllib.loads(both)).orgs[0].idps] == ["SSO"]


# --- applying -------------------------------------------------------------------------------


async def test_providers_of_every_kind_are_created_and_read_back(services: Services):
    pem = apple_key()
    outcome = await apply(services, with_apple_key(pem))
    assert outcome.lines == [
        "created identity provider Company SSO of the instance",
        "created identity provider GitHub of the instance",
        "created organisation Acme",
        "created identity provider Acme Entra ID of Acme",
        "created identity provider Acme GitHub Enterprise of Acme",
        "created identity provider Sign in with Apple of Acme",
        "created identity provider Acme Intranet of Acme",
    ]
    assert outcome.credentials == {}, "the credentials file is unchanged by providers"

    instance = await owned(services)
    assert sorted(instance) == ["Company SSO", "GitHub"]
    sso = instance["Company SSO"]
    assert (sso.org_id, sso.type, sso.issuer, sso.client_id) == (
        "",
        IdpType.OIDC,
        "https://sso.example.com",
        "zitui",
    )
    assert sso.scopes == ("openid", "profile", "email"), "the template's scopes by default"
    assert (sso.options.auto_linking, sso.options.auto_update) == (AutoLinking.EMAIL, True)
    assert (sso.options.creation_allowed, sso.options.auto_creation) == (True, False)
    github = instance["GitHub"]
    assert (github.scopes, github.extra) == (
        ("read:user", "user:email"),
        {"base_url": "https://github.com"},
    )

    acme = await owned(services, "Acme")
    entra = acme["Acme Entra ID"]
    assert entra.extra == {
        "tenant": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "email_verified": "true",
    }
    assert (entra.options.creation_allowed, entra.options.auto_linking) == (
        False,
        AutoLinking.USERNAME,
    )
    assert acme["Acme GitHub Enterprise"].extra == {"base_url": "https://github.acme.example.com"}
    apple = acme["Sign in with Apple"]
    assert apple.extra == {"team_id": "ABCDE12345", "key_id": "KEY1234567"}
    assert apple.has_secret and await secret_of(services, apple) == pem
    intranet = acme["Acme Intranet"]
    assert (intranet.type, intranet.id_attribute, intranet.scopes, intranet.use_pkce) == (
        IdpType.OAUTH,
        "uid",
        ("profile", "email"),
        False,
    )
    assert intranet.token_endpoint == "https://intranet.acme.example.com/oauth/token"
    ctx = services.system_context()
    assert (await services.idps.get(ctx, intranet.id)).name == "Acme Intranet"
    assert await secret_of(services, sso) == "sso-client-secret"

    stored = json.dumps(rows(services.settings.data_dir, "SELECT * FROM identity_providers"))
    assert "sso-client-secret" not in stored and "PRIVATE KEY" not in stored
    events = [e for e in await _events(services) if ".idp." in e.event_type]
    assert (
        sorted(e.event_type for e in events) == ["instance.idp.added"] * 2 + ["org.idp.added"] * 4
    )
    assert all(e.actor_id == "system" for e in events)
    logged = json.dumps([e.payload for e in events])
    assert "sso-client-secret" not in logged and "PRIVATE KEY" not in logged


async def test_a_second_run_changes_nothing(services: Services):
    text = with_apple_key(apple_key())
    await apply(services, text)
    before = fingerprint(services)
    outcome = await apply(services, text)
    assert (outcome.lines, outcome.created, outcome.changed) == ([], 0, 0)
    assert fingerprint(services) == before


async def test_a_changed_setting_is_changed_and_named(services: Services):
    await apply(services, EXAMPLE.read_text())
    intranet = (await owned(services, "Acme"))["Acme Intranet"]
    wider = EXAMPLE.read_text().replace(
        'scopes = ["profile", "email"]', 'scopes = ["profile", "email", "groups"]'
    )
    outcome = await apply(services, wider)
    assert outcome.lines == ["changed identity provider Acme Intranet of Acme: scopes"]
    changed = (await owned(services, "Acme"))["Acme Intranet"]
    assert (changed.id, changed.scopes) == (intranet.id, ("profile", "email", "groups"))
    assert await secret_of(services, changed) == "intranet-client-secret"
    (event,) = [e for e in await _events(services) if e.event_type == "org.idp.changed"]
    assert (event.payload["idp_id"], event.payload["secret_changed"]) == (intranet.id, False)

    reordered = wider.replace('["profile", "email", "groups"]', '["groups", "profile", "email"]')
    assert (await apply(services, reordered)).lines == [], "the order of scopes is no change"

    several = wider.replace("auto_update = true", "auto_update = false").replace(
        'issuer = "https://sso.example.com"', 'issuer = "https://login.example.com"'
    )
    assert (await apply(services, several)).lines == [
        "changed identity provider Company SSO of the instance: issuer, auto_update"
    ]


async def test_settings_the_file_leaves_out_keep_their_stored_values(services: Services):
    await apply(services, EXAMPLE.read_text())
    ctx = services.system_context()
    sso = (await owned(services))["Company SSO"]
    # An operator turns on automatic creation in the console; the file does not name it.
    edited = current_settings(sso)
    await services.idps.change(
        ctx, sso.id, replace(edited, options=replace(edited.options, auto_creation=True))
    )
    assert (await apply(services, EXAMPLE.read_text())).lines == []
    kept = (await owned(services))["Company SSO"]
    assert kept.options.auto_creation is True
    assert await secret_of(services, kept) == "sso-client-secret"

    named = EXAMPLE.read_text().replace(
        "auto_update = true", "auto_update = true\nauto_creation = false"
    )
    assert (await apply(services, named)).lines == [
        "changed identity provider Company SSO of the instance: auto_creation"
    ]


async def test_an_absent_secret_keeps_the_one_set_in_the_console(services: Services):
    await apply(services, EXAMPLE.read_text())
    apple = (await owned(services, "Acme"))["Sign in with Apple"]
    assert not apple.has_secret
    pem = apple_key()
    ctx = services.system_context()
    await services.idps.change(ctx, apple.id, replace(current_settings(apple), client_secret=pem))

    assert (await apply(services, EXAMPLE.read_text())).lines == []
    assert await secret_of(services, (await owned(services, "Acme"))["Sign in with Apple"]) == pem
    assert (await apply(services, with_apple_key(pem))).lines == [], "the same key is no change"

    other = apple_key()
    outcome = await apply(services, with_apple_key(other))
    assert outcome.lines == ["changed identity provider Sign in with Apple of Acme: client_secret"]
    assert await secret_of(services, (await owned(services, "Acme"))["Sign in with Apple"]) == other
    changes = [e for e in await _events(services) if e.event_type == "org.idp.changed"]
    assert changes[-1].payload["secret_changed"] is True


async def test_a_new_type_starts_from_its_templates_defaults(services: Services):
    await apply(services, EXAMPLE.read_text())
    github = (await owned(services))["GitHub"]
    moved = EXAMPLE.read_text().replace(
        'type = "github"\nclient_id = "Iv1', 'type = "gitlab"\nclient_id = "Iv1'
    )
    outcome = await apply(services, moved)
    assert outcome.lines == [
        "changed identity provider GitHub of the instance: type, scopes, base_url"
    ]
    gitlab = (await owned(services))["GitHub"]
    assert (gitlab.id, gitlab.type, gitlab.scopes, gitlab.extra) == (
        github.id,
        IdpType.GITLAB,
        ("openid", "profile", "email"),
        {"base_url": "https://gitlab.com"},
    )
    assert await secret_of(services, gitlab) == "github-client-secret"


async def test_a_refusal_while_applying_names_its_place_and_applies_nothing(services: Services):
    before = fingerprint(services)
    too_long = EXAMPLE.read_text().replace('"ghe-client-secret"', '"' + "x" * 9000 + '"')
    message = await refused(services, too_long)
    assert message == "orgs[0].idps[1].client_secret: the client secret is too long"
    assert fingerprint(services) == before
    assert await services.orgs.find_org_by_name(services.system_context(), "Acme") is None

    later = EXAMPLE.read_text() + '\n[[orgs.user_grants]]\nuser = "nobody"\nproject = "Portal"\n'
    with pytest.raises(BlueprintError, match=r"^orgs\[0\]\.user_grants\[0\]"):
        await apply(services, later)
    assert fingerprint(services) == before, "the providers made before the refusal are gone"


MANAGED = """
[[orgs]]
name = "Acme"

[[orgs.users]]
username = "olga"
first_name = "Olga"
last_name = "Owner"
password = "Olga-Pass-1!"
managers = ["ORG_OWNER"]

[[orgs.idps]]
name = "Acme SSO"
type = "oidc"
issuer = "https://sso.acme.example.com"
client_id = "zitui"
client_secret = "acme-secret"
"""


async def owner_of_acme(services: Services) -> Context:
    ctx = services.system_context()
    acme = await services.orgs.find_org_by_name(ctx, "Acme")
    assert acme is not None
    olga = await services.users.find_user_by_username(ctx, acme.id, "olga")
    assert olga is not None
    login = await services.auth.login_operator(
        olga.login_name, "Olga-Pass-1!", RequestMeta(origin="test")
    )
    return login.context


async def test_a_secret_is_compared_only_for_managers_of_its_owner(services: Services):
    await apply(
        services,
        OIDC.replace('client_id = "z"', 'client_id = "z"\nclient_secret = "instance-secret"')
        + MANAGED,
    )
    owner = await owner_of_acme(services)
    acme_sso = (await owned(services, "Acme"))["Acme SSO"]
    assert await services.idps.secret_matches(owner, acme_sso.id, "acme-secret")
    assert not await services.idps.secret_matches(owner, acme_sso.id, "acme-secreT")
    instance_sso = (await owned(services))["SSO"]
    with pytest.raises(PermissionDenied):
        await services.idps.secret_matches(owner, instance_sso.id, "instance-secret")
    assert await services.idps.secret_matches(
        services.system_context(), instance_sso.id, "instance-secret"
    )


def test_zitui_apply_reports_the_providers_and_writes_no_credentials(tmp_path: Path):
    data, out = tmp_path / "data", tmp_path / "creds.json"
    command = ["apply", str(EXAMPLE), "--out", str(out), "--data", str(data)]
    result = run(command, zitui_env(data))
    assert result.returncode == 0, result.stderr
    assert "created identity provider Acme Intranet of Acme" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].startswith(f"zitui: applied {EXAMPLE}: 7 created,")
    assert json.loads(out.read_text()) == {}
    owners = rows(data, "SELECT name, org_id = '' FROM identity_providers ORDER BY name")
    assert owners == [
        ("Acme Entra ID", 0),
        ("Acme GitHub Enterprise", 0),
        ("Acme Intranet", 0),
        ("Company SSO", 1),
        ("GitHub", 1),
        ("Sign in with Apple", 0),
    ]

    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text().replace(
            'tenant = "3f2504e0', 'base_url = "https://x.example.com"\ntenant = "3f2504e0'
        )
    )
    refused_run = run(["apply", str(bad), "--data", str(data)], zitui_env(data))
    assert refused_run.returncode == 1
    assert refused_run.stderr.splitlines() == [
        f"zitui: {bad}: orgs[0].idps[0].base_url: not a key of azure providers; "
        "they take tenant, email_verified"
    ]
