"""Delegated administration of the login (issue #10, "Done when"): the owner organisation
shares its Portal project with a customer organisation, whose ORG_OWNER brands the customer's
login, sets stricter password and lockout rules and forced MFA, from the core services (as the
console and the API call them) and from a blueprint; the customer's users see all of it, the
owner organisation's users none of it, and the owner's and the instance's settings stay out of
the customer owner's reach."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from starlette.testclient import TestClient

from tests import tui_fixtures as tui
from tests.branding_assets import png
from tests.test_login_auth_requests import REDIRECT_URI, real_auth_request, start
from tests.test_login_branding_pages import brand_sheets, branded
from tests.test_login_pages import _admin, login_client, read, run, submit, the_form
from tests.test_login_registration_pages import REGISTRATION, register_link
from tests.tui_fixtures import SIZE, opened_store
from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.schema import parse
from zitui.config import Settings
from zitui.core.apps import NewOidcApp
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import PermissionDenied
from zitui.records import AppType, AuthMethod, Scope, User
from zitui.screens import make_app
from zitui.screens.form import FormModal
from zitui.screens.policies import PoliciesScreen
from zitui.server import paths

PASSWORD = "Their-Pass-1!"
WRONG = "Wrong-Pass-1!"
# Meets the instance's default rules (8 characters and every class), not the customer's 12.
TEN_CHARACTERS = "Zeta-Pass9"
CUSTOMER_PRIMARY = "#c2185b"
LOGO = png((194, 24, 91))
STRICTER = {"min_length": 12}
LOCKOUT = {"max_password_attempts": 2}


@dataclass(frozen=True)
class B2B:
    """Ids and login names of the scenario."""

    owner_org: str
    customer: str
    client_id: str
    owner_user: str  # login name of a user of the owner organisation
    customer_user: str  # login name of a user of the customer organisation
    customer_owner: str  # login name of the customer's ORG_OWNER
    # Her recovery codes: she forces MFA on her organisation, so the console asks her for a
    # second factor (a fresh code for each sign-in of the scenario).
    customer_owner_codes: list[str]


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


async def add_user(services: Services, admin: Context, org_id: str, username: str) -> User:
    new = NewHumanUser(username=username, first_name="A", last_name="B", password=PASSWORD)
    return await services.users.create_human_user(admin, org_id, new)


@pytest.fixture
def b2b(client: TestClient) -> B2B:
    async def create(services: Services) -> B2B:
        admin = await _admin(services)
        owner_org = (await services.orgs.create_org(admin, "Acme")).id
        portal = await services.projects.create_project(admin, owner_org, "Portal")
        new_app = NewOidcApp(
            name="Portal",
            app_type=AppType.WEB,
            auth_method=AuthMethod.NONE,
            redirect_uris=[REDIRECT_URI],
            dev_mode=True,
        )
        app, _ = await services.apps.create_oidc_app(admin, portal.id, new_app)
        customer = (await services.orgs.create_org(admin, "Customer")).id
        await services.grants.grant_project(admin, portal.id, customer, [])
        boss = await add_user(services, admin, customer, "cora")
        await services.memberships.add_member(admin, boss.id, Scope.ORG, customer, ["ORG_OWNER"])
        return B2B(
            owner_org=owner_org,
            customer=customer,
            client_id=app.client_id,
            owner_user=(await add_user(services, admin, owner_org, "oscar")).login_name,
            customer_user=(await add_user(services, admin, customer, "carla")).login_name,
            customer_owner=boss.login_name,
            customer_owner_codes=await with_totp(services, boss),
        )

    return run(client, create)


async def as_customer_owner(services: Services, b2b: B2B) -> Context:
    """The customer's ORG_OWNER, signed in as the console signs in."""
    code = b2b.customer_owner_codes.pop()
    login = await services.auth.login_operator(
        b2b.customer_owner, PASSWORD, RequestMeta(), code=code
    )
    return login.context


async def with_totp(services: Services, user: User) -> list[str]:
    """A ready authenticator app for `user`, as the hosted login sets it up; her recovery
    codes."""
    system = services.system_context()
    async with services.store.transaction() as tx:
        setup = await services.factors.start_totp(tx, system, user, issuer="zitui")
    async with services.store.transaction() as tx:
        code = pyotp.TOTP(setup.secret).at(services.clock.now())
        assert await services.factors.confirm_totp(tx, system, user, setup.factor_id, code)
        return await services.factors.new_recovery_codes(tx, system, user)


def customer_sets_everything(client: TestClient, b2b: B2B) -> None:
    async def change(services: Services) -> None:
        cora = await as_customer_owner(services, b2b)
        colours = {"primary_color": CUSTOMER_PRIMARY, "background_color_dark": "#101820"}
        await services.branding.set(cora, colours, b2b.customer)
        await services.branding.upload_asset(cora, "logo_light", LOGO, b2b.customer)
        await services.policies.set(cora, "password_complexity", STRICTER, b2b.customer)
        await services.policies.set(cora, "lockout", LOCKOUT, b2b.customer)
        await services.policies.set(cora, "login", {"force_mfa": True}, b2b.customer)

    run(client, change)


BLUEPRINT = f"""
[[orgs]]
name = "Customer"

[orgs.branding]
primary_color = "{CUSTOMER_PRIMARY}"
background_color_dark = "#101820"
logo_light = "logo.png"

[orgs.password_policy]
min_length = 12

[orgs.lockout_policy]
max_password_attempts = 2

[orgs.login_policy]
force_mfa = true
"""


def customer_blueprint(client: TestClient, folder: Path) -> None:
    """The customer's overrides from a blueprint. Blueprints are applied as the instance
    (`zitui apply` runs on the data directory, with no signed-in manager), so the file holds
    the customer organisation's `[[orgs]]` tables only."""
    (folder / "logo.png").write_bytes(LOGO)
    blueprint = parse(tomllib.loads(BLUEPRINT), base_dir=folder)

    async def apply(services: Services) -> None:
        await apply_blueprint(services, blueprint)

    run(client, apply)


# --- what the pages show --------------------------------------------------------------------


def entry(client: TestClient, b2b: B2B, org_id: str) -> Any:
    scope = f"openid urn:zitadel:iam:org:id:{org_id}"
    page = start(client, real_auth_request(client, client_id=b2b.client_id, scope=scope))
    assert page.status_code == 200, page.text
    return page


def sign_in(client: TestClient, b2b: B2B, org_id: str, login_name: str, password: str) -> Any:
    client.cookies.clear()
    page = entry(client, b2b, org_id)
    named = submit(client, the_form(page.text, paths.LOGIN_NAME), login_name=login_name)
    assert named.status_code == 200, named.text
    return submit(client, the_form(named.text, paths.LOGIN_PASSWORD), password=password)


def register_weak(client: TestClient, b2b: B2B, org_id: str) -> Any:
    client.cookies.clear()
    form_page = client.get(register_link(entry(client, b2b, org_id).text))
    assert form_page.status_code == 200, form_page.text
    values = REGISTRATION | {"email": f"new-{org_id[:8]}@example.org"}
    values |= {"password": TEN_CHARACTERS, "password_repeat": TEN_CHARACTERS}
    return submit(client, the_form(form_page.text, paths.LOGIN_REGISTER), **values)


def assert_customer_login_follows_its_owner(client: TestClient, b2b: B2B) -> None:
    page = entry(client, b2b, b2b.customer).text
    assert [sheet.split("/")[-2] for sheet in brand_sheets(page)] == [b2b.customer]
    assert [src.split("/")[-2:][0] for src, _ in branded(page).logos] == [b2b.customer]
    css = client.get(brand_sheets(page)[0])
    assert CUSTOMER_PRIMARY in css.text

    refused = register_weak(client, b2b, b2b.customer)
    assert refused.status_code == 400, refused.text
    assert read(refused.text).ids["password-error"].endswith("The password is too short.")
    assert "at least 12 characters" in refused.text

    # Forced MFA acts: the right password leads to the set-up of a second factor, with no
    # way to skip it.
    prompted = sign_in(client, b2b, b2b.customer, b2b.customer_user, PASSWORD)
    assert prompted.status_code == 200, prompted.text
    prompt = the_form(prompted.text, paths.LOGIN_MFA_PROMPT)
    assert "skip" not in prompt.inputs and read(prompted.text).ids.get("skip") is None
    assert read(prompted.text).ids.get("choose-totp")

    first = sign_in(client, b2b, b2b.customer, b2b.customer_user, WRONG)
    second = sign_in(client, b2b, b2b.customer, b2b.customer_user, WRONG)
    right = sign_in(client, b2b, b2b.customer, b2b.customer_user, PASSWORD)
    assert "now locked" not in read(first.text).ids["password-error"]
    assert "now locked" in read(second.text).ids["password-error"]
    assert right.status_code == 401  # locked: the right password no longer signs in


def assert_owner_login_unchanged(client: TestClient, b2b: B2B) -> None:
    page = entry(client, b2b, b2b.owner_org).text
    assert brand_sheets(page) == [] and branded(page).logos == []
    assert "at least 8 characters" in client.get(register_link(page)).text

    accepted = register_weak(client, b2b, b2b.owner_org)
    assert accepted.status_code == 200, accepted.text
    assert paths.LOGIN_VERIFY_EMAIL in [form.action for form in read(accepted.text).forms]

    for _ in range(2):
        assert sign_in(client, b2b, b2b.owner_org, b2b.owner_user, WRONG).status_code == 401
    signed_in = sign_in(client, b2b, b2b.owner_org, b2b.owner_user, PASSWORD)
    assert signed_in.status_code == 303, signed_in.text


def assert_stored_and_inherited(client: TestClient, b2b: B2B) -> None:
    """force_mfa is stored, in force for the customer and nowhere else (its effect on the
    customer's login is checked in `assert_customer_login_follows_its_owner`)."""

    async def read_back(services: Services) -> dict[str, Any]:
        admin, cora = await _admin(services), await as_customer_owner(services, b2b)
        own = await services.policies.get(cora, "login", b2b.customer)
        owners = await services.policies.get(admin, "login", b2b.owner_org)
        instance = await services.policies.get(admin, "login")
        rules = await services.policies.get(cora, "password_complexity", b2b.customer)
        return {
            "customer": (own.effective.force_mfa, own.inherited, own.overridden_fields()),
            "owner": (owners.effective.force_mfa, owners.inherited),
            "instance": instance.effective.force_mfa,
            "min_length": rules.effective.min_length,
        }

    assert run(client, read_back) == {
        "customer": (True, False, ["force_mfa"]),
        "owner": (False, True),
        "instance": False,
        "min_length": 12,
    }


# --- the scenario ---------------------------------------------------------------------------


def test_a_customer_owner_shapes_their_login_through_the_core_services(
    client: TestClient, b2b: B2B
) -> None:
    customer_sets_everything(client, b2b)
    assert_stored_and_inherited(client, b2b)
    assert_customer_login_follows_its_owner(client, b2b)
    assert_owner_login_unchanged(client, b2b)


def test_the_same_from_a_blueprint_of_the_customer_organisation(
    client: TestClient, b2b: B2B, tmp_path: Path
) -> None:
    customer_blueprint(client, tmp_path)
    assert_stored_and_inherited(client, b2b)
    assert_customer_login_follows_its_owner(client, b2b)
    assert_owner_login_unchanged(client, b2b)


def test_the_customer_owner_cannot_touch_the_owner_s_or_the_instance_s_settings(
    client: TestClient, b2b: B2B
) -> None:
    async def attempts(services: Services) -> list[str]:
        cora = await as_customer_owner(services, b2b)
        commands = [
            lambda: services.policies.set(cora, "password_complexity", STRICTER, b2b.owner_org),
            lambda: services.policies.set(cora, "password_complexity", STRICTER),
            lambda: services.policies.set(cora, "lockout", LOCKOUT, b2b.owner_org),
            lambda: services.policies.reset(cora, "login", b2b.owner_org),
            lambda: services.branding.set(cora, {"primary_color": "#000000"}, b2b.owner_org),
            lambda: services.branding.set(cora, {"primary_color": "#000000"}),
            lambda: services.branding.upload_asset(cora, "logo_light", LOGO, b2b.owner_org),
        ]
        refused = []
        for command in commands:
            try:
                await command()
            except PermissionDenied as exc:
                refused.append(exc.code)
        return refused

    assert len(run(client, attempts)) == 7
    assert_owner_login_unchanged(client, b2b)


# --- from the console -----------------------------------------------------------------------


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "console") as (services, _):
        yield services


async def test_the_customer_owner_changes_their_password_policy_in_the_console(
    console: Services,
) -> None:
    system = console.system_context()
    owner_org = await console.orgs.create_org(system, "Acme")
    portal = await console.projects.create_project(system, owner_org.id, "Portal")
    customer = await console.orgs.create_org(system, "Customer")
    await console.grants.grant_project(system, portal.id, customer.id, [])
    cora = await add_user(console, system, customer.id, "cora")
    await console.memberships.add_member(system, cora.id, Scope.ORG, customer.id, ["ORG_OWNER"])
    app = make_app(console)
    async with app.run_test(size=SIZE) as pilot:
        await tui.sign_in(pilot, cora.login_name, PASSWORD)
        await tui.press(pilot, "o")
        await tui.cursor_to(pilot, "orgs", "Customer")
        await tui.press(pilot, "enter", "l")
        assert isinstance(app.screen, PoliciesScreen)
        await tui.cursor_to(pilot, "policies", "Password complexity")
        await tui.press(pilot, "enter")
        assert isinstance(app.screen, FormModal)
        await tui.fill(pilot, "#min_length", "14")
        await tui.press(pilot, "ctrl+s")
        assert isinstance(app.screen, PoliciesScreen)
        [found] = [r for r in tui.rows(app, "policies") if r[0] == "Password complexity"]
        assert found[1:] == ("own", "min_length")
    assert tui.error_messages(app) == []
    own = await console.policies.get(system, "password_complexity", customer.id)
    assert (own.effective.min_length, own.inherited) == (14, False)
    default = await console.policies.get(system, "password_complexity")
    assert default.effective.min_length == 8
    owners = await console.policies.get(system, "password_complexity", owner_org.id)
    assert (owners.effective.min_length, owners.inherited) == (8, True)
