"""Identity providers in the console: the instance's from the home screen, an organisation's
from its screen; added, listed with the redirect URIs to register, edited (the secret kept
when left empty), refused input on its field, removed after a confirmation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select, TextArea

from tests.conftest import ADMIN_PASSWORD
from tests.tui_fixtures import (
    SIZE,
    cursor_to,
    error_messages,
    fill,
    first_column,
    opened_store,
    press,
    rows,
    sign_in,
    text,
)
from zitui.core.idps import IdpSettings
from zitui.core.ids import new_id
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.records import IdentityProvider, IdpLink, IdpType, Organization, Scope
from zitui.screens import ZituiApp, make_app
from zitui.screens.confirm import ConfirmModal
from zitui.screens.home import HomeScreen
from zitui.screens.idp_form import IdpFormModal
from zitui.screens.idps import IdpsScreen
from zitui.screens.org import OrgScreen

CALLBACK = "http://127.0.0.1:8080/ui/login/login/externalidp/callback"
FORM_CALLBACK = f"{CALLBACK}/form"
SECRET = "upstream-secret-31c7"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with opened_store(tmp_path / "data") as (services, _):
        yield services


async def acme_with_owner(services: Services) -> Organization:
    """Organisation Acme with carol as its ORG_OWNER."""
    system = services.system_context()
    acme = await services.orgs.create_org(system, "Acme")
    carol = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="carol", first_name="Carol", last_name="M", password="Carol-Pass-1"),
    )
    await services.memberships.add_member(system, carol.id, Scope.ORG, acme.id, ["ORG_OWNER"])
    return acme


def keys(app: ZituiApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values()}


def shown(app: ZituiApp, field_id: str) -> bool:
    """Whether the form row of `field_id` is displayed."""
    row = app.screen.query_one(f"#{field_id}").parent
    assert row is not None
    return bool(row.display)


async def choose_kind(pilot: Pilot[None], kind: str) -> None:
    select = pilot.app.screen.query_one("#type", Select)
    select.value = kind
    await pilot.pause()


async def secret_of(services: Services, idp_id: str) -> str:
    async with services.store.reader() as tx:
        stored = await services.idps.stored(tx, idp_id)
    assert stored is not None
    return services.idps.secret_of(stored)


async def instance_idps(services: Services) -> list[IdentityProvider]:
    return await services.idps.owned(services.system_context(), "")


async def open_instance_idps(pilot: Pilot[None]) -> None:
    await sign_in(pilot, "admin", ADMIN_PASSWORD)
    await press(pilot, "f")
    assert isinstance(pilot.app.screen, IdpsScreen)


async def test_adding_an_oidc_and_a_github_provider_lists_them_with_the_redirect_uris(
    services: Services,
) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_instance_idps(pilot)
        assert text(app, "#section-title") == "Identity providers · the instance"
        callbacks = app.screen.query_one("#idp-callbacks", TextArea)
        assert callbacks.read_only
        assert callbacks.text == f"{CALLBACK}\n{FORM_CALLBACK}"
        assert text(app, "#idps-paging") == "No identity providers."
        assert {"edit", "remove"}.isdisjoint(keys(app))

        await press(pilot, "a")
        assert isinstance(app.screen, IdpFormModal)
        assert f"{CALLBACK}\n{FORM_CALLBACK}" in text(app, "#form-intro")
        assert app.screen.query_one("#scopes", Input).value == "openid profile email"
        assert shown(app, "issuer") and shown(app, "id_token_mapping")
        assert not any(shown(app, f) for f in ("token_endpoint", "base_url", "tenant", "team_id"))
        assert app.screen.query_one("#client_secret", Input).password
        await fill(pilot, "#name", "Example SSO")
        await fill(pilot, "#client_id", "zitui-client")
        await fill(pilot, "#client_secret", SECRET)
        await fill(pilot, "#issuer", "https://login.example.com")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpsScreen)

        await press(pilot, "a")
        await choose_kind(pilot, "github")
        assert app.screen.query_one("#scopes", Input).value == "read:user user:email"
        assert shown(app, "base_url")
        assert not any(shown(app, f) for f in ("issuer", "id_token_mapping", "token_endpoint"))
        await fill(pilot, "#name", "GitHub")
        await fill(pilot, "#client_id", "gh-client")
        app.screen.query_one("#auto_creation", Checkbox).value = True
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpsScreen)
        assert error_messages(app) == []
        assert rows(app, "idps") == [
            (
                "Example SSO",
                "oidc",
                "zitui-client",
                "https://login.example.com",
                "creation, linking",
            ),
            (
                "GitHub",
                "github",
                "gh-client",
                "https://github.com/login/oauth/authorize",
                "creation, linking, auto creation",
            ),
        ]
        await cursor_to(pilot, "idps", "GitHub")
        detail = text(app, "#idp-detail")
        assert "Type                    GitHub or GitHub Enterprise" in detail
        assert "Client secret           none" in detail
        assert "Base URL                https://github.com" in detail
        assert f"Redirect URI            {CALLBACK}" in detail
        assert f"Form post redirect URI  {FORM_CALLBACK}" in detail

        await press(pilot, "c")
        assert app.clipboard == f"{CALLBACK}\n{FORM_CALLBACK}"

    oidc, gh = await instance_idps(services)
    assert (oidc.issuer, oidc.has_secret, oidc.scopes) == (
        "https://login.example.com",
        True,
        ("openid", "profile", "email"),
    )
    assert await secret_of(services, oidc.id) == SECRET
    assert (gh.type, gh.extra, gh.options.auto_creation) == (
        IdpType.GITHUB,
        {"base_url": "https://github.com"},
        True,
    )


async def test_editing_keeps_the_secret_left_empty(services: Services) -> None:
    system = services.system_context()
    settings = IdpSettings(
        name="Example SSO",
        type=IdpType.OIDC,
        client_id="zitui-client",
        client_secret=SECRET,
        issuer="https://login.example.com",
    )
    idp = await services.idps.add(system, "", settings)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_instance_idps(pilot)
        assert "Client secret           stored" in text(app, "#idp-detail")
        await press(pilot, "e")
        assert isinstance(app.screen, IdpFormModal)
        assert app.screen.query_one("#client_secret", Input).value == ""
        assert app.screen.query_one("#issuer", Input).value == "https://login.example.com"
        await fill(pilot, "#client_id", "renamed-client")
        await fill(pilot, "#scopes", "openid email groups")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpsScreen)
        assert rows(app, "idps")[0][2] == "renamed-client"
    changed = await services.idps.get(system, idp.id)
    assert (changed.client_id, changed.scopes) == ("renamed-client", ("openid", "email", "groups"))
    assert await secret_of(services, idp.id) == SECRET


async def test_a_refused_value_shows_on_its_field_and_keeps_the_form(services: Services) -> None:
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_instance_idps(pilot)
        await press(pilot, "a")
        await fill(pilot, "#name", "Example SSO")
        await fill(pilot, "#client_id", "zitui-client")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpFormModal)
        assert text(app, "#issuer-message") == "an OpenID provider needs its issuer"

        await fill(pilot, "#issuer", "http://login.example.com")
        await press(pilot, "ctrl+s")
        assert text(app, "#issuer-message") == (
            "issuer must be an https URL (http only on localhost)"
        )

        await choose_kind(pilot, "oauth")
        assert app.screen.query_one("#scopes", Input).value == ""
        assert shown(app, "token_endpoint") and not shown(app, "issuer")
        await fill(pilot, "#authorization_endpoint", "https://auth.example.com/authorize")
        await press(pilot, "ctrl+s")
        assert text(app, "#token_endpoint-message") == "an OAuth provider needs its token endpoint"
        assert text(app, "#issuer-message") == ""

        await choose_kind(pilot, "apple")
        assert shown(app, "team_id") and shown(app, "key_id")
        await fill(pilot, "#team_id", "TEAM123456")
        await press(pilot, "ctrl+s")
        assert text(app, "#key_id-message") == "Apple needs its team id and key id"
        await press(pilot, "escape")
        assert isinstance(app.screen, IdpsScreen)
    assert await instance_idps(services) == []


async def test_removing_asks_first_and_takes_the_users_links_along(services: Services) -> None:
    system = services.system_context()
    instance = await services.instance.get_instance(system)
    user = await services.users.create_human_user(
        system,
        instance.default_org_id,
        NewHumanUser(username="lina", first_name="Lina", last_name="L", password="Lina-Pass-1"),
    )
    idp = await services.idps.add(
        system, "", IdpSettings(name="GitHub", type=IdpType.GITHUB, client_id="gh")
    )
    link = IdpLink(new_id(), user.id, idp.id, "4711", "lina-gh", system.now())
    async with services.store.transaction() as tx:
        await tx.idp_links.insert(link)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_instance_idps(pilot)
        await press(pilot, "x")
        assert isinstance(app.screen, ConfirmModal)
        assert "link to it goes too" in text(app, "#confirm-question")
        await press(pilot, "escape")
        assert first_column(app, "idps") == ["GitHub"]
        await press(pilot, "x", "y")
        assert isinstance(app.screen, IdpsScreen)
        assert text(app, "#idps-paging") == "No identity providers."
        assert text(app, "#idp-detail") == ""
    assert await instance_idps(services) == []
    async with services.store.reader() as tx:
        assert await tx.idp_links.list_for_user(user.id) == []


async def test_an_org_owner_manages_their_organisations_providers_only(
    services: Services,
) -> None:
    acme = await acme_with_owner(services)
    system = services.system_context()
    await services.idps.add(
        system,
        "",
        IdpSettings(name="Google", type=IdpType.GOOGLE, client_id="g", client_secret="s"),
    )
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "carol", "Carol-Pass-1")
        assert isinstance(app.screen, HomeScreen)
        assert "idps" not in keys(app)
        await press(pilot, "f")
        assert isinstance(app.screen, HomeScreen)

        await cursor_to(pilot, "orgs", "Acme")
        await press(pilot, "enter")
        assert isinstance(app.screen, OrgScreen)
        await press(pilot, "f")
        assert isinstance(app.screen, IdpsScreen)
        assert text(app, "#section-title") == "Identity providers · organisation Acme"
        assert text(app, "#idps-paging") == "No identity providers."  # not the instance's
        await press(pilot, "a")
        await choose_kind(pilot, "azure")
        assert shown(app, "tenant") and shown(app, "email_verified")
        await fill(pilot, "#name", "Entra")
        await fill(pilot, "#client_id", "entra-client")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpsScreen)
        assert rows(app, "idps")[0][:4] == (
            "Entra",
            "azure",
            "entra-client",
            "https://login.microsoftonline.com/common/v2.0",
        )
        assert {"add", "edit", "remove"} <= keys(app)
        assert error_messages(app) == []
    [entra] = await services.idps.owned(system, acme.id)
    assert (entra.name, entra.extra) == ("Entra", {"tenant": "common", "email_verified": "false"})
    assert [idp.name for idp in await instance_idps(services)] == ["Google"]


async def test_an_org_viewer_sees_the_providers_without_edit_keys(services: Services) -> None:
    system = services.system_context()
    acme = await services.orgs.create_org(system, "Acme")
    vera = await services.users.create_human_user(
        system,
        acme.id,
        NewHumanUser(username="vera", first_name="Vera", last_name="V", password="Vera-Pass-1"),
    )
    await services.memberships.add_member(system, vera.id, Scope.ORG, acme.id, ["ORG_OWNER_VIEWER"])
    await services.idps.add(
        system, acme.id, IdpSettings(name="GitHub", type=IdpType.GITHUB, client_id="gh")
    )
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "vera", "Vera-Pass-1")
        await cursor_to(pilot, "orgs", "Acme")
        await press(pilot, "enter", "f")
        assert isinstance(app.screen, IdpsScreen)
        assert first_column(app, "idps") == ["GitHub"]
        assert {"add", "edit", "remove"}.isdisjoint(keys(app))
        assert "copy_callbacks" in keys(app)
        await press(pilot, "a", "e", "x", "enter")
        assert isinstance(app.screen, IdpsScreen)


async def test_a_new_kind_drops_the_fields_of_the_old_one(services: Services) -> None:
    system = services.system_context()
    oauth = IdpSettings(
        name="Intranet",
        type=IdpType.OAUTH,
        client_id="intranet",
        authorization_endpoint="https://intra.example.com/authorize",
        token_endpoint="https://intra.example.com/token",
        userinfo_endpoint="https://intra.example.com/me",
        id_attribute="uid",
    )
    idp = await services.idps.add(system, "", oauth)
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_instance_idps(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, IdpFormModal)
        assert app.screen.query_one("#id_attribute", Input).value == "uid"
        await choose_kind(pilot, "gitlab")
        assert shown(app, "base_url") and not shown(app, "token_endpoint")
        assert app.screen.query_one("#scopes", Input).value == "openid profile email"
        await fill(pilot, "#base_url", "https://gitlab.example.com/")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpsScreen)
        assert rows(app, "idps")[0][1:4] == ("gitlab", "intranet", "https://gitlab.example.com")
    changed = await services.idps.get(system, idp.id)
    assert (changed.type, changed.extra) == (
        IdpType.GITLAB,
        {"base_url": "https://gitlab.example.com"},
    )
    assert (changed.authorization_endpoint, changed.token_endpoint, changed.id_attribute) == (
        "",
        "",
        "",
    )


async def test_apples_key_is_read_from_a_file(services: Services, tmp_path: Path) -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----"
    key_file = tmp_path / "AuthKey_KEY1234567.p8"
    key_file.write_text(key + "\n")
    app = make_app(services)
    async with app.run_test(size=SIZE) as pilot:
        await open_instance_idps(pilot)
        await press(pilot, "a")
        await choose_kind(pilot, "apple")
        assert shown(app, "key_file") and not shown(app, "client_secret")
        await fill(pilot, "#name", "Apple")
        await fill(pilot, "#client_id", "com.example.web")
        await fill(pilot, "#team_id", "TEAM123456")
        await fill(pilot, "#key_id", "KEY1234567")
        await fill(pilot, "#key_file", str(tmp_path / "missing.p8"))
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpFormModal)
        assert text(app, "#key_file-message").startswith(f"cannot read {tmp_path}/missing.p8")
        await fill(pilot, "#key_file", str(key_file))
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, IdpsScreen)
        assert "Client secret           stored" in text(app, "#idp-detail")
    [apple] = await instance_idps(services)
    assert apple.extra == {"team_id": "TEAM123456", "key_id": "KEY1234567"}
    assert await secret_of(services, apple.id) == key
