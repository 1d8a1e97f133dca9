"""Blueprint files: parsing, and every refusal naming its place, before any store is opened."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import load, parse
from zitui.records import AppType, AuthMethod, TokenType

EXAMPLE = Path(__file__).parent / "blueprints" / "b2b.toml"

PROJECT = """
[[orgs]]
name = "Acme"

[[orgs.users]]
username = "alice"
first_name = "Alice"
last_name = "Anders"

[[orgs.projects]]
name = "Portal"
roles = ["admin", "editor", "viewer"]
grants = [{ org = "Globex", roles = ["editor", "viewer"] }]

[[orgs]]
name = "Globex"

[[orgs.users]]
username = "gina"
first_name = "Gina"
last_name = "Gold"
"""


def error(text: str) -> str:
    with pytest.raises(BlueprintError) as caught:
        parse(tomllib.loads(text))
    return caught.value.message


def test_the_example_parses_with_its_values_and_defaults():
    blueprint = load(EXAMPLE)
    assert blueprint.smtp is not None
    assert (blueprint.smtp.host, blueprint.smtp.port, blueprint.smtp.sender) == (
        "smtp.example.com",
        587,
        "zitui@example.com",
    )
    acme, globex = blueprint.orgs
    assert (acme.name, acme.domain, globex.name) == ("Acme", "acme.example.com", "Globex")
    assert acme.machines[0].pat and acme.machines[0].secret and acme.machines[0].key
    web, api, spa = acme.projects[0].apps
    assert (web.type, web.auth_method, web.access_token_type) == (
        AppType.WEB,
        AuthMethod.BASIC,
        TokenType.JWT,
    )
    assert (api.access_token_type, spa.auth_method, spa.dev_mode) == (
        TokenType.BEARER,
        AuthMethod.NONE,
        True,
    )
    assert web.grant_types == ("authorization_code", "refresh_token")
    (grant,) = acme.projects[0].grants
    assert [(m.user, m.roles) for m in grant.managers] == [("gus", ("PROJECT_GRANT_OWNER",))]
    assert [(g.user, g.owner, g.project) for g in globex.user_grants] == [
        ("gina", "Acme", "Portal"),
        ("gus", "Acme", "Portal"),
    ]
    assert "Alice-Pass" not in repr(acme.users[0]) and "smtp-secret" not in repr(blueprint.smtp)


def test_defaults_fill_what_a_file_leaves_out():
    blueprint = parse(
        tomllib.loads(
            '[smtp]\nhost = "mail"\nfrom = "a@example.com"\ntls = "tls"\n'
            '[[orgs]]\nname = "  Acme   Corp "\n'
            '[[orgs.machines]]\nusername = "bot"\n'
            '[[orgs.projects]]\nname = "P"\n'
            '[[orgs.projects.apps]]\nname = "cli"\ntype = "native"\n'
            'redirect_uris = ["http://127.0.0.1/cb"]\n'
            '[[orgs.projects.apps]]\nname = "api"\ntype = "api"\n'
        )
    )
    assert blueprint.smtp is not None and blueprint.smtp.port == 465
    org = blueprint.orgs[0]
    assert org.name == "Acme Corp"
    machine = org.machines[0]
    assert (machine.name, machine.pat, machine.secret, machine.key) == ("bot", False, False, False)
    native, api = org.projects[0].apps
    assert (native.auth_method, api.auth_method) == (AuthMethod.NONE, AuthMethod.BASIC)
    assert (native.response_types, native.grant_types) == (("code",), ("authorization_code",))
    assert (api.response_types, api.grant_types) == ((), ())
    assert (machine.pat_expires, machine.key_expires) == (None, None)
    assert parse({}).orgs == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour = 1", "colour: unknown key; expected one of smtp, sms, orgs"),
        (
            '[sms]\nkind = "http"\nurl = "https://sms.example.com"\nbearer = "x"',
            "sms.bearer: unknown key; expected one of kind, url, token, account_sid",
        ),
        (
            '[smtp]\nhost = "h"\nfrom = "a@b.ch"\nsender = "x"',
            "smtp.sender: unknown key; expected one of host, port, from, tls, user, password",
        ),
        ('[[orgs]]\nname = "A"\ndomains = ["a.ch"]', "orgs[0].domains: unknown key (did you mean"),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\nemial = "u@a.ch"',
            "orgs[0].users[0].emial: unknown key (did you mean email?)",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.machines]]\nusername = "m"\npats = true',
            "(did you mean pat?)",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\nrole = ["a"]',
            "orgs[0].projects[0].role: unknown key (did you mean roles?)",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n'
            'grants = [{ org = "B", role = [] }]',
            "orgs[0].projects[0].grants[0].role: unknown key",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n'
            '[[orgs.projects.apps]]\nname = "a"\ntype = "web"\nredirect_uri = []',
            "orgs[0].projects[0].apps[0].redirect_uri: unknown key (did you mean redirect_uris?)",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.user_grants]]\nuser = "u"\nproject = "P"\nrole = []',
            "orgs[0].user_grants[0].role: unknown key",
        ),
        ('[[orgs]]\nname = "A"\n"odd key" = 1', 'orgs[0]."odd key": unknown key'),
    ],
)
def test_unknown_keys_are_refused_at_every_level(text: str, expected: str):
    assert expected in error(text)


def test_a_bad_app_type_names_its_place_and_the_choices():
    apps = "".join(
        f'[[orgs.projects.apps]]\nname = "a{i}"\ntype = "{t}"\n'
        for i, t in enumerate(["api", "api", "spa"])
    )
    text = PROJECT + '[[orgs.projects]]\nname = "Shop"\n' + apps
    assert error(text) == (
        'orgs[1].projects[0].apps[2].type: expected one of web, native, user_agent, api, got "spa"'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[orgs]]\nname = 7", "orgs[0].name: expected a string, got 7"),
        ("[[orgs]]", "orgs[0].name: required key is missing"),
        ('[[orgs]]\nname = "  "', "orgs[0].name: must not be empty"),
        ('orgs = "Acme"', 'orgs: expected an array of tables, got "Acme"'),
        ('[orgs]\nname = "A"', "orgs: expected an array of tables, got a table"),
        ("orgs = [1]", "orgs[0]: expected a table, got 1"),
        ('smtp = "x"', 'smtp: expected a table, got "x"'),
        (
            '[smtp]\nhost = "h"\nfrom = "a@b.ch"\nport = "25"',
            'smtp.port: expected a whole number, got "25"',
        ),
        (
            '[smtp]\nhost = "h"\nfrom = "a@b.ch"\nport = true',
            "smtp.port: expected a whole number, got true",
        ),
        (
            '[smtp]\nhost = "h"\nfrom = "a@b.ch"\nport = 70000',
            "smtp.port: expected 1 to 65535, got 70000",
        ),
        (
            '[smtp]\nhost = "h"\nfrom = "a@b.ch"\ntls = "ssl"',
            'smtp.tls: expected one of none, starttls, tls, got "ssl"',
        ),
        ('[smtp]\nfrom = "a@b.ch"', "smtp.host: required key is missing"),
        (
            '[smtp]\nhost = "h"\nfrom = "nobody"',
            'smtp.from: "nobody": this is not an email address',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\nfirst_name = "F"\n'
            'last_name = "L"\nemail_verified = "yes"',
            'orgs[0].users[0].email_verified: expected true or false, got "yes"',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\nfirst_name = "F"\n'
            'last_name = "L"\nmanagers = "ORG_OWNER"',
            'orgs[0].users[0].managers: expected an array of strings, got "ORG_OWNER"',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\nfirst_name = "F"\n'
            'last_name = "L"\nmanagers = ["ORG_OWNER", 3]',
            "orgs[0].users[0].managers[1]: expected a string, got 3",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\nfirst_name = "F"\n'
            'last_name = "L"\nmanagers = ["IAM_OWNER"]',
            "orgs[0].users[0].managers[0]: expected organisation roles (ORG_OWNER,",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u s"\nfirst_name = "F"\n'
            'last_name = "L"',
            'orgs[0].users[0].username: "u s": usernames use letters',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\nfirst_name = "F"\n'
            'last_name = "L"\nemail = "u-at-a"',
            'orgs[0].users[0].email: "u-at-a": this is not an email address',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.users]]\nusername = "u"\nlast_name = "L"',
            "orgs[0].users[0].first_name: required key is missing",
        ),
        (
            '[[orgs]]\nname = "A"\ndomain = "not a domain"',
            'orgs[0].domain: "not a domain": use a DNS name',
        ),
        ('[[orgs]]\nname = "A/B"', 'orgs[0].name: "A/B" contains a slash'),
        (
            '[[orgs]]\nname = "A"\n[[orgs.machines]]\nusername = "m"\nkey = 1',
            "orgs[0].machines[0].key: expected true, false or a table with expires, got 1",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\nroles = ["a", "b", "a"]',
            'orgs[0].projects[0].roles[2]: "a" is listed twice',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\nroles = [""]',
            "orgs[0].projects[0].roles[0]: must not be empty",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\ngrants = [{ roles = [] }]',
            "orgs[0].projects[0].grants[0].org: required key is missing",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n[[orgs.projects.apps]]\n'
            'name = "a"\ntype = "web"\naccess_token_type = "bearer"',
            "orgs[0].projects[0].apps[0].access_token_type: "
            'expected one of jwt, opaque, got "bearer"',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n[[orgs.projects.apps]]\n'
            'name = "a"\ntype = "web"\nauth_method = "secret"',
            "orgs[0].projects[0].apps[0].auth_method: expected one of basic, post, "
            'private_key_jwt, none, got "secret"',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n[[orgs.projects.apps]]\n'
            'name = "a"\ntype = "user_agent"\nauth_method = "basic"',
            'orgs[0].projects[0].apps[0].auth_method: user_agent apps use none, got "basic"',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n[[orgs.projects.apps]]\n'
            'name = "a"\ntype = "api"\nauth_method = "none"',
            "orgs[0].projects[0].apps[0].auth_method: "
            'api apps use basic, private_key_jwt, got "none"',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n[[orgs.projects.apps]]\n'
            'name = "a"\ntype = "web"\nredirect_uris = "https://a.ch/cb"',
            "orgs[0].projects[0].apps[0].redirect_uris: expected an array of strings",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.user_grants]]\nuser = "u"\nproject = "A/"',
            'orgs[0].user_grants[0].project: expected "Project" or "Org/Project", got "A/"',
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.user_grants]]\nuser = "u"\nproject = "B/P/Q"',
            'expected "Project" or "Org/Project", got "B/P/Q"',
        ),
    ],
)
def test_wrong_types_values_and_missing_keys_name_their_place(text: str, expected: str):
    assert expected in error(text)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '[[orgs]]\nname = "Acme"',
            'orgs[2].name: "Acme" is declared twice (first at orgs[0].name)',
        ),
        (
            '[[orgs]]\nname = "Initech"\n[[orgs.users]]\nusername = "i"\nfirst_name = "I"\n'
            'last_name = "I"\n[[orgs.machines]]\nusername = "i"',
            'orgs[2].machines[0].username: "i" is declared twice '
            "(first at orgs[2].users[0].username)",
        ),
        (
            '[[orgs]]\nname = "Initech"\n'
            '[[orgs.projects]]\nname = "X"\n[[orgs.projects]]\nname = "X"',
            'orgs[2].projects[1].name: "X" is declared twice',
        ),
        (
            '[[orgs]]\nname = "Initech"\n[[orgs.projects]]\nname = "X"\n'
            '[[orgs.projects.apps]]\nname = "a"\ntype = "api"\n'
            '[[orgs.projects.apps]]\nname = "A"\ntype = "api"',
            'orgs[2].projects[0].apps[1].name: "A" is declared twice',
        ),
        (
            '[[orgs]]\nname = "Initech"\n[[orgs.projects]]\nname = "X"\n'
            'grants = [{ org = "Acme" }, { org = "Acme" }]',
            'orgs[2].projects[0].grants[1].org: "Acme" is declared twice',
        ),
    ],
)
def test_duplicates_in_the_file_are_refused(extra: str, expected: str):
    assert error(PROJECT + extra).startswith(expected)


def test_domains_are_unique_across_the_file():
    text = (
        '[[orgs]]\nname = "A"\ndomain = "a.example.com"\n'
        '[[orgs]]\nname = "B"\ndomain = "A.example.com."'
    )
    assert error(text) == (
        'orgs[1].domain: "a.example.com" is declared twice (first at orgs[0].domain)'
    )


APP = '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\n[[orgs.projects.apps]]\nname = "a"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            APP + 'type = "web"',
            "orgs[0].projects[0].apps[0].redirect_uris: add at least one redirect URI",
        ),
        (
            APP + 'type = "web"\nredirect_uris = ["http://app.example.com/cb"]',
            "orgs[0].projects[0].apps[0].redirect_uris: http://app.example.com/cb: use https "
            "(http only in dev mode, or to loopback for native apps)",
        ),
        (
            APP + 'type = "api"\nredirect_uris = ["https://app.example.com/cb"]',
            "orgs[0].projects[0].apps[0].redirect_uris: API apps have no redirects or origins",
        ),
        (
            APP + 'type = "web"\nredirect_uris = ["https://a.example.com/cb"]\n'
            'post_logout_redirect_uris = ["https://a.example.com/#x"]',
            "orgs[0].projects[0].apps[0].post_logout_redirect_uris: https://a.example.com/#x: "
            "URIs cannot have a fragment",
        ),
        (
            '[[orgs]]\nname = "A"\n[[orgs.projects]]\nname = "P"\nroles = ["ok", "not ok"]',
            "orgs[0].projects[0].roles[1]: role keys use letters, digits and . _ : -",
        ),
    ],
)
def test_the_services_input_rules_run_on_the_file(text: str, expected: str):
    assert error(text).startswith(expected)


def test_apps_given_in_the_file_are_remembered():
    text = APP + 'type = "web"\nredirect_uris = ["http://localhost:3000/cb"]\ndev_mode = true'
    (app,) = parse(tomllib.loads(text)).orgs[0].projects[0].apps
    assert app.given == {"name", "type", "redirect_uris", "dev_mode"}
    assert app.redirect_uris == ("http://localhost:3000/cb",)


def test_a_project_is_not_granted_to_its_own_org():
    own = PROJECT.replace('org = "Globex"', 'org = "acme"')
    assert error(own) == (
        "orgs[0].projects[0].grants[0].org: a project is not granted to its own organisation"
    )


def test_a_user_is_granted_a_project_once():
    twice = PROJECT + (
        '[[orgs.user_grants]]\nuser = "gina"\nproject = "Acme/Portal"\nroles = ["viewer"]\n'
        '[[orgs.user_grants]]\nuser = "GINA"\nproject = "acme/portal"\nroles = ["editor"]\n'
    )
    assert error(twice) == (
        "orgs[1].user_grants[1]: GINA already has a grant for this project at "
        "orgs[1].user_grants[0]"
    )
    own = PROJECT.replace(
        '\n[[orgs]]\nname = "Globex"',
        '[[orgs.user_grants]]\nuser = "alice"\nproject = "Portal"\n'
        '[[orgs.user_grants]]\nuser = "alice"\nproject = "Acme/Portal"\n'
        '\n[[orgs]]\nname = "Globex"',
    )
    assert error(own).startswith("orgs[0].user_grants[1]: alice already has a grant")


def test_references_are_left_for_the_apply_step():
    """Roles, projects, users and grants may exist in the store; applying checks them."""
    text = PROJECT + (
        '[[orgs.user_grants]]\nuser = "gina"\nproject = "Acme/Portal"\nroles = ["admin"]\n'
        '[[orgs.user_grants]]\nuser = "someone"\nproject = "Initech/Shop"\nroles = ["any"]\n'
        '[[orgs.user_grants]]\nuser = "gina"\nproject = "Elsewhere"\nroles = ["any"]\n'
        '[[orgs.user_grants]]\nuser = "gina"\nproject = "Acme/Legacy"\nroles = ["any"]\n'
    )
    grants = parse(tomllib.loads(text)).orgs[1].user_grants
    assert [(g.owner, g.project) for g in grants] == [
        ("Acme", "Portal"),
        ("Initech", "Shop"),
        ("", "Elsewhere"),
        ("Acme", "Legacy"),
    ]


def test_files_that_are_not_toml_or_not_readable(tmp_path: Path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[[orgs]]\nname = "A\n')
    with pytest.raises(BlueprintError, match=r"^not valid TOML: .*line 2"):
        load(broken)
    with pytest.raises(BlueprintError, match="^cannot read the file: No such file"):
        load(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(BlueprintError, match="^cannot read the file"):
        load(binary)


def test_the_documented_example_is_the_tested_one():
    docs = (Path(__file__).parents[1] / "docs" / "blueprint.md").read_text()
    documented = docs.split("```toml\n")[-1].split("```")[0]
    assert documented == EXAMPLE.read_text()


MACHINE = '[[orgs]]\nname = "A"\n[[orgs.machines]]\nusername = "m"\n'
WEB_APP = APP + 'type = "web"\nredirect_uris = ["https://a.example.com/cb"]\n'


def test_apps_declare_the_served_response_and_grant_types():
    text = WEB_APP + (
        'grant_types = ["refresh_token", "authorization_code"]\nresponse_types = ["code"]'
    )
    (app,) = parse(tomllib.loads(text)).orgs[0].projects[0].apps
    assert (app.response_types, app.grant_types) == (
        ("code",),
        ("authorization_code", "refresh_token"),
    )
    assert {"grant_types", "response_types"} <= app.given


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            WEB_APP + 'grant_types = ["authorization_code", "device_code"]',
            'orgs[0].projects[0].apps[0].grant_types[1]: "device_code" is not served by zitui; '
            "expected one of authorization_code, refresh_token",
        ),
        (
            WEB_APP + 'grant_types = ["token_exchange"]',
            'apps[0].grant_types[0]: "token_exchange" is not served by zitui',
        ),
        (
            WEB_APP + 'grant_types = ["authorization_code", "implicit"]',
            'apps[0].grant_types[1]: "implicit" is not served by zitui',
        ),
        (
            WEB_APP + 'grant_types = ["password"]',
            "apps[0].grant_types[0]: expected one of authorization_code, refresh_token, "
            'got "password"',
        ),
        (
            WEB_APP + 'response_types = ["code", "id_token token"]',
            'apps[0].response_types[1]: "id_token token" is not served by zitui; '
            "expected one of code",
        ),
        (
            WEB_APP + 'response_types = ["token"]',
            'apps[0].response_types[0]: expected one of code, got "token"',
        ),
        (
            WEB_APP + 'grant_types = ["refresh_token"]',
            "apps[0].grant_types: refresh tokens come with the authorization_code grant",
        ),
        (WEB_APP + "grant_types = []", "apps[0].grant_types: the code response type needs"),
        (WEB_APP + "response_types = []", "apps[0].response_types: choose a response type"),
        (
            WEB_APP + 'grant_types = "authorization_code"',
            'apps[0].grant_types: expected an array of strings, got "authorization_code"',
        ),
        (
            APP + 'type = "api"\ngrant_types = ["authorization_code", "refresh_token"]',
            "apps[0].grant_types: API apps use no grant types",
        ),
    ],
)
def test_unserved_or_unfitting_flows_are_refused_at_their_place(text: str, expected: str):
    assert expected in error(text)


GRANT_MANAGERS = PROJECT.replace(
    'grants = [{ org = "Globex", roles = ["editor", "viewer"] }]',
    'grants = [{ org = "Globex", roles = ["viewer"], managers = MANAGERS }]',
)


def managed(managers: str) -> str:
    return GRANT_MANAGERS.replace("MANAGERS", managers)


def test_project_grants_declare_their_managers():
    text = managed('[{ user = "gina", roles = ["PROJECT_GRANT_OWNER"] }]')
    (grant,) = parse(tomllib.loads(text)).orgs[0].projects[0].grants
    (manager,) = grant.managers
    assert (manager.path, manager.user, manager.roles) == (
        "orgs[0].projects[0].grants[0].managers[0]",
        "gina",
        ("PROJECT_GRANT_OWNER",),
    )


@pytest.mark.parametrize(
    ("managers", "expected"),
    [
        (
            '[{ user = "gina", roles = ["ORG_OWNER"] }]',
            "orgs[0].projects[0].grants[0].managers[0].roles[0]: expected project grant roles "
            '(PROJECT_GRANT_OWNER, PROJECT_GRANT_OWNER_VIEWER), got "ORG_OWNER"',
        ),
        ('[{ roles = ["PROJECT_GRANT_OWNER"] }]', "managers[0].user: required key is missing"),
        ('[{ user = "gina" }]', "managers[0].roles: required key is missing"),
        ('[{ user = "gina", roles = [] }]', "managers[0].roles: list at least one role"),
        ('[{ user = "gina", role = [] }]', "managers[0].role: unknown key (did you mean roles?)"),
        ('["PROJECT_GRANT_OWNER"]', 'managers[0]: expected a table, got "PROJECT_GRANT_OWNER"'),
        (
            '[{ user = "gina", roles = ["PROJECT_GRANT_OWNER"] }, '
            '{ user = "GINA", roles = ["PROJECT_GRANT_OWNER_VIEWER"] }]',
            'grants[0].managers[1].user: "GINA" is declared twice '
            "(first at orgs[0].projects[0].grants[0].managers[0].user)",
        ),
    ],
)
def test_bad_grant_managers_are_refused_at_their_place(managers: str, expected: str):
    assert expected in error(managed(managers))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2027-01-31T12:30:00", datetime(2027, 1, 31, 12, 30, tzinfo=UTC)),
        ("2027-01-31T12:30:00+02:00", datetime(2027, 1, 31, 10, 30, tzinfo=UTC)),
        ("2027-01-31 12:30:00Z", datetime(2027, 1, 31, 12, 30, tzinfo=UTC)),
        ('"2027-01-31"', datetime(2027, 1, 31, tzinfo=UTC)),
        ('"2027-01-31T12:30:00"', datetime(2027, 1, 31, 12, 30, tzinfo=UTC)),
        ('"2027-01-31T12:30:00-05:00"', datetime(2027, 1, 31, 17, 30, tzinfo=UTC)),
    ],
)
def test_credentials_expire_at_a_date_or_time_in_utc(value: str, expected: datetime):
    text = MACHINE + f"pat = {{ expires = {value} }}\nkey = {{ expires = {value} }}"
    (machine,) = parse(tomllib.loads(text)).orgs[0].machines
    assert (machine.pat, machine.key) == (True, True)
    assert machine.pat_expires == machine.key_expires == expected
    assert machine.pat_expires is not None and machine.pat_expires.tzinfo is UTC


def test_a_credential_table_without_expires_never_expires():
    (machine,) = parse(tomllib.loads(MACHINE + "pat = {}\nkey = false")).orgs[0].machines
    assert (machine.pat, machine.pat_expires, machine.key) == (True, None, False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '{ expires = "next year" }',
            "orgs[0].machines[0].pat.expires: expected a date (2027-01-31) or a date and time "
            '(2027-01-31T12:00:00Z), got "next year"',
        ),
        ("{ expires = 12:00:00 }", "pat.expires: expected a date (2027-01-31) or a date and"),
        ("{ expires = 2027 }", "pat.expires: expected a date (2027-01-31) or a date and"),
        ("{ expire = 2027-01-31 }", "pat.expire: unknown key (did you mean expires?)"),
        ('"2027-01-31"', 'pat: expected true, false or a table with expires, got "2027-01-31"'),
    ],
)
def test_bad_expiries_are_refused_at_their_place(value: str, expected: str):
    assert expected in error(MACHINE + f"pat = {value}")


def test_an_sms_provider_of_either_kind_is_read_and_normalised():
    http = parse(
        tomllib.loads('[sms]\nkind = "http"\nurl = " https://sms.example.com/send "\ntoken = "t-1"')
    ).sms
    assert http is not None
    assert (http.kind, http.url, http.token, http.account_sid) == (
        "http",
        "https://sms.example.com/send",
        "t-1",
        "",
    )
    assert "t-1" not in repr(http)
    twilio = parse(
        tomllib.loads(
            '[sms]\nkind = "twilio"\naccount_sid = "AC1"\nauth_token = "a-2"\n'
            'sender = "+1 500 555-0006"\n'
        )
    ).sms
    assert twilio is not None
    assert (twilio.sender, twilio.base_url, twilio.token, twilio.token_key) == (
        "+15005550006",
        "https://api.twilio.com",
        "a-2",
        "auth_token",
    )
    assert parse({}).sms is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[sms]\nurl = "https://h.example"', "sms.kind: required key is missing"),
        ('[sms]\nkind = "pigeon"', 'sms.kind: expected one of http, twilio, got "pigeon"'),
        ('[sms]\nkind = "http"', "sms.url: url is required"),
        (
            '[sms]\nkind = "http"\nurl = "ftp://h.example"',
            'sms.url: "ftp://h.example": use an http:// or https:// URL with a host',
        ),
        (
            '[sms]\nkind = "http"\nurl = "https://h.example"\nauth_token = "x"',
            "sms.auth_token: not a key of http providers; expected one of kind, url, token",
        ),
        (
            '[sms]\nkind = "twilio"\naccount_sid = "AC1"\ntoken = "x"\nsender = "+15005550006"',
            "sms.token: not a key of twilio providers; expected one of kind, account_sid, "
            "auth_token, sender, messaging_service_sid, base_url",
        ),
        (
            '[sms]\nkind = "twilio"\naccount_sid = "AC1"',
            "sms.sender: give a sender number or a messaging service sid",
        ),
        (
            '[sms]\nkind = "twilio"\naccount_sid = "AC1"\nsender = "+15005550006"\n'
            'messaging_service_sid = "MG1"',
            'sms.messaging_service_sid: "MG1": give a sender number or a messaging service sid, '
            "not both",
        ),
        (
            '[sms]\nkind = "twilio"\naccount_sid = "AC-1"\nsender = "+15005550006"',
            'sms.account_sid: "AC-1": use letters and digits only (up to 64)',
        ),
        (
            '[sms]\nkind = "twilio"\naccount_sid = "AC1"\nsender = "+15005550006"\nauth_token = 7',
            "sms.auth_token: expected a string, got 7",
        ),
    ],
)
def test_a_bad_sms_provider_names_its_key(text: str, expected: str):
    assert error(text) == expected
