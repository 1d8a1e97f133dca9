"""OIDC applications: ZITADEL's rules per app type, secrets shown once and stored as digests."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

import pytest

from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_projects import denied, manager
from zitui.core.apps import NewOidcApp, OidcConfigChange
from zitui.core.context import Context
from zitui.core.services import Services
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
)
from zitui.records import AppType, AuthMethod, Scope, State, TokenType

WEB, NATIVE, SPA, API = AppType.WEB, AppType.NATIVE, AppType.USER_AGENT, AppType.API
BASIC, POST, JWT, NONE = (
    AuthMethod.BASIC,
    AuthMethod.POST,
    AuthMethod.PRIVATE_KEY_JWT,
    AuthMethod.NONE,
)
CALLBACK = "https://portal.example.com/callback"


@pytest.fixture
async def acme(services: Services, admin: Context) -> str:
    return (await services.orgs.create_org(admin, "Acme")).id


@pytest.fixture
async def owner(services: Services, admin: Context, acme: str) -> Context:
    return await manager(services, admin, acme, "owner", Scope.ORG, acme, ["ORG_OWNER"])


@pytest.fixture
async def portal(services: Services, owner: Context, acme: str) -> str:
    return (await services.projects.create_project(owner, acme, "Customer Portal")).id


def _web(**changes: Any) -> NewOidcApp:
    values: dict[str, Any] = {
        "name": "Web",
        "app_type": WEB,
        "auth_method": BASIC,
        "redirect_uris": [CALLBACK],
    }
    values.update(changes)
    return NewOidcApp(**values)


def _db_bytes(settings: Any) -> bytes:
    data = b""
    for name in ("zitui.db", "zitui.db-wal"):
        path = settings.data_dir / name
        if path.exists():
            data += path.read_bytes()
    return data


async def test_web_app_gets_a_secret_once_stored_only_as_digest(services, owner, portal, settings):
    created: list[Any] = []

    async def create() -> None:
        created.append(await services.apps.create_oidc_app(owner, portal, _web()))

    event = await _one_event(services, create)
    app, secret = created[0]
    assert secret is not None and re.fullmatch(r"[A-Za-z0-9]{64}", secret)
    assert re.fullmatch(r"\d{18}@customer-portal", app.client_id)
    assert (app.app_type, app.auth_method, app.state, app.has_secret) == (
        WEB,
        BASIC,
        State.ACTIVE,
        True,
    )
    assert app.redirect_uris == (CALLBACK,)
    assert (app.response_types, app.grant_types) == (("code",), ("authorization_code",))
    assert app.access_token_type is TokenType.BEARER

    assert (event.event_type, event.aggregate_id) == ("project.application.added", app.id)
    assert event.payload["client_id"] == app.client_id
    assert event.payload["auth_method"] == "basic"
    assert secret not in str(event.payload)

    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert rows(settings.data_dir, "SELECT client_secret_digest FROM apps") == [(digest,)]
    assert secret.encode() not in _db_bytes(settings)
    async with services.store.reader() as tx:
        assert await tx.apps.find_secret_digest(app.client_id) == digest
        assert await tx.apps.find_secret_digest("unknown@client") is None
        assert await tx.apps.find_by_client_id(app.client_id) == app
    # Reading the app again never shows the secret.
    assert await services.apps.get_app(owner, app.id) == app


async def test_public_clients_get_no_secret(services, owner, portal, settings):
    app, secret = await services.apps.create_oidc_app(
        owner, portal, _web(name="SPA", app_type=SPA, auth_method=NONE)
    )
    assert secret is None and not app.has_secret
    assert rows(settings.data_dir, "SELECT client_secret_digest FROM apps") == [(None,)]
    async with services.store.reader() as tx:
        assert await tx.apps.find_secret_digest(app.client_id) is None


async def test_post_auth_also_gets_a_secret_and_jwt_does_not(services, owner, portal):
    _, secret = await services.apps.create_oidc_app(owner, portal, _web(auth_method=POST))
    assert secret is not None
    jwt_app, no_secret = await services.apps.create_oidc_app(
        owner, portal, _web(name="JWT", auth_method=JWT)
    )
    assert no_secret is None and not jwt_app.has_secret


# Each row: app type, auth method, redirect URIs, other settings, the field that is refused
# (None: accepted).
RULES: list[tuple[AppType, AuthMethod, list[str], dict[str, Any], str | None]] = [
    (WEB, BASIC, [CALLBACK], {}, None),
    (WEB, POST, [CALLBACK], {}, None),
    (WEB, JWT, [CALLBACK], {}, None),
    (WEB, NONE, [CALLBACK], {}, None),
    (SPA, NONE, [CALLBACK], {}, None),
    (SPA, BASIC, [CALLBACK], {}, "auth_method"),
    (SPA, JWT, [CALLBACK], {}, "auth_method"),
    (NATIVE, NONE, ["com.example.app:/callback"], {}, None),
    (NATIVE, NONE, ["http://127.0.0.1:7777/cb"], {}, None),
    (NATIVE, NONE, ["http://[::1]/cb"], {}, None),
    (NATIVE, NONE, ["http://localhost:8000/callback"], {}, None),
    (NATIVE, POST, ["com.example.app:/callback"], {}, "auth_method"),
    (NATIVE, BASIC, ["com.example.app:/callback"], {}, "auth_method"),
    (NATIVE, NONE, ["http://app.example.com/cb"], {}, "redirect_uris"),
    (NATIVE, NONE, ["javascript:alert(1)"], {}, "redirect_uris"),
    (NATIVE, NONE, ["data:text/html,hi"], {}, "redirect_uris"),
    (API, BASIC, [], {}, None),
    (API, JWT, [], {}, None),
    (API, NONE, [], {}, "auth_method"),
    (API, POST, [], {}, "auth_method"),
    (API, BASIC, [CALLBACK], {}, "redirect_uris"),
    (API, BASIC, [], {"post_logout_redirect_uris": [CALLBACK]}, "post_logout_redirect_uris"),
    (API, BASIC, [], {"grant_types": ["refresh_token"]}, "grant_types"),
    (API, BASIC, [], {"response_types": ["id_token"]}, "response_types"),
    # http only in dev mode (loopback for native apps aside)
    (WEB, BASIC, ["http://portal.example.com/cb"], {}, "redirect_uris"),
    (WEB, BASIC, ["http://localhost:3000/cb"], {}, "redirect_uris"),
    (WEB, BASIC, ["http://localhost:3000/cb"], {"dev_mode": True}, None),
    (SPA, NONE, ["http://portal.example.com/cb"], {}, "redirect_uris"),
    (SPA, NONE, ["http://portal.example.com/cb"], {"dev_mode": True}, None),
    # custom schemes only for native apps
    (WEB, BASIC, ["com.example.app:/callback"], {}, "redirect_uris"),
    (SPA, NONE, ["com.example.app:/callback"], {"dev_mode": True}, "redirect_uris"),
    # absolute, no fragment
    (WEB, BASIC, ["/callback"], {}, "redirect_uris"),
    (WEB, BASIC, ["portal.example.com/callback"], {}, "redirect_uris"),
    (WEB, BASIC, ["https://portal.example.com/cb#frag"], {}, "redirect_uris"),
    (WEB, BASIC, ["https:///no-host"], {}, "redirect_uris"),
    (WEB, BASIC, ["https://portal.example.com/a b"], {}, "redirect_uris"),
    (WEB, BASIC, ["https://portal.example.com:99999/cb"], {}, "redirect_uris"),
    (WEB, BASIC, [], {}, "redirect_uris"),
    (
        WEB,
        BASIC,
        [CALLBACK],
        {"post_logout_redirect_uris": ["http://x.example.com/"]},
        "post_logout_redirect_uris",
    ),
    (WEB, BASIC, [CALLBACK], {"post_logout_redirect_uris": ["https://x.example.com/"]}, None),
    # clock skew 0-5 s
    (WEB, BASIC, [CALLBACK], {"clock_skew_s": 5}, None),
    (WEB, BASIC, [CALLBACK], {"clock_skew_s": 6}, "clock_skew_s"),
    (WEB, BASIC, [CALLBACK], {"clock_skew_s": -1}, "clock_skew_s"),
    # response and grant types fit together
    (WEB, BASIC, [CALLBACK], {"grant_types": ["authorization_code", "refresh_token"]}, None),
    (WEB, BASIC, [CALLBACK], {"grant_types": ["refresh_token"]}, "grant_types"),
    (WEB, BASIC, [CALLBACK], {"grant_types": ["password"]}, "grant_types"),
    (WEB, BASIC, [CALLBACK], {"response_types": ["token"]}, "response_types"),
    (WEB, BASIC, [CALLBACK], {"response_types": []}, "response_types"),
    (WEB, BASIC, [CALLBACK], {"grant_types": []}, "grant_types"),
    (NATIVE, NONE, [], {"grant_types": ["authorization_code", "refresh_token"]}, "redirect_uris"),
    # only what the provider serves: no implicit, hybrid, device or token exchange flows
    (SPA, NONE, [CALLBACK], {"response_types": ["id_token"]}, "response_types"),
    (
        SPA,
        NONE,
        [CALLBACK],
        {"response_types": ["id_token token"], "grant_types": ["implicit"]},
        "response_types",
    ),
    (SPA, NONE, [CALLBACK], {"grant_types": ["implicit"]}, "grant_types"),
    (NATIVE, NONE, [], {"grant_types": ["device_code"]}, "grant_types"),
    (
        NATIVE,
        NONE,
        [CALLBACK],
        {"grant_types": ["authorization_code", "token_exchange"]},
        "grant_types",
    ),
    # origins
    (SPA, NONE, [CALLBACK], {"additional_origins": ["https://app.example.com:8443"]}, None),
    (
        SPA,
        NONE,
        [CALLBACK],
        {"additional_origins": ["https://app.example.com/path"]},
        "additional_origins",
    ),
    (SPA, NONE, [CALLBACK], {"additional_origins": ["app.example.com"]}, "additional_origins"),
    (API, BASIC, [], {"additional_origins": ["https://app.example.com"]}, "additional_origins"),
]


@pytest.mark.parametrize(("app_type", "method", "uris", "other", "field"), RULES)
async def test_app_rules(services, owner, portal, app_type, method, uris, other, field):
    new = NewOidcApp("App", app_type, method, uris, **other)
    if field is None:
        app, _ = await services.apps.create_oidc_app(owner, portal, new)
        assert app.app_type is app_type
        return
    before = len(await _events(services))
    with pytest.raises(InvalidArgument) as caught:
        await services.apps.create_oidc_app(owner, portal, new)
    assert caught.value.field == field, caught.value.message
    assert len(await _events(services)) == before


async def test_api_apps_keep_no_flows_and_uris_are_normalised(services, owner, portal):
    api, secret = await services.apps.create_oidc_app(
        owner, portal, NewOidcApp("API", API, BASIC, [])
    )
    assert secret is not None
    assert (api.response_types, api.grant_types, api.redirect_uris) == ((), (), ())
    spa, _ = await services.apps.create_oidc_app(
        owner,
        portal,
        NewOidcApp(
            "SPA",
            SPA,
            NONE,
            [f" {CALLBACK} ", CALLBACK],
            additional_origins=["HTTPS://App.Example.com:8443/", "https://app.example.com:8443"],
        ),
    )
    assert spa.redirect_uris == (CALLBACK,)
    assert spa.additional_origins == ("https://app.example.com:8443",)


async def test_names_are_unique_per_project(services, owner, portal, acme):
    await services.apps.create_oidc_app(owner, portal, _web())
    with pytest.raises(AlreadyExists) as caught:
        await services.apps.create_oidc_app(owner, portal, _web(name="WEB"))
    assert (caught.value.code, caught.value.field) == ("app.name.taken", "name")
    other = await services.projects.create_project(owner, acme, "Shop")
    await services.apps.create_oidc_app(owner, other.id, _web())
    with pytest.raises(InvalidArgument) as empty:
        await services.apps.create_oidc_app(owner, portal, _web(name=" "))
    assert empty.value.field == "name"


async def test_rename_app(services, owner, portal):
    app, _ = await services.apps.create_oidc_app(owner, portal, _web())
    await services.apps.create_oidc_app(owner, portal, _web(name="Other"))
    event = await _one_event(services, lambda: services.apps.rename_app(owner, app.id, "Portal"))
    assert (event.event_type, event.payload) == (
        "project.application.changed",
        {"project_id": portal, "name": "Portal"},
    )
    assert (await services.apps.get_app(owner, app.id)).name == "Portal"
    await _no_event(
        services, lambda: services.apps.rename_app(owner, app.id, "other"), AlreadyExists
    )


async def test_update_oidc_config_records_the_changes(services, owner, portal):
    app, _ = await services.apps.create_oidc_app(owner, portal, _web())
    change = OidcConfigChange(
        redirect_uris=[CALLBACK, "https://portal.example.com/cb2"],
        grant_types=["authorization_code", "refresh_token"],
        access_token_type=TokenType.JWT,
    )
    updated: list[Any] = []

    async def update() -> None:
        updated.append(await services.apps.update_oidc_config(owner, app.id, change))

    event = await _one_event(services, update)
    changed, secret = updated[0]
    assert secret is None and changed.has_secret
    assert changed.grant_types == ("authorization_code", "refresh_token")
    assert changed.access_token_type is TokenType.JWT
    assert event.event_type == "project.application.config.oidc.changed"
    assert event.payload == {
        "project_id": portal,
        "redirect_uris": [CALLBACK, "https://portal.example.com/cb2"],
        "grant_types": ["authorization_code", "refresh_token"],
        "access_token_type": "jwt",
        "secret_generated": False,
    }
    assert await services.apps.get_app(owner, app.id) == changed

    before = len(await _events(services))
    await services.apps.update_oidc_config(owner, app.id, change)
    assert len(await _events(services)) == before, "no change, no event"

    for bad, field in [
        (OidcConfigChange(redirect_uris=["http://portal.example.com/cb"]), "redirect_uris"),
        (OidcConfigChange(app_type=SPA), "auth_method"),
        (OidcConfigChange(app_type=API), "app_type"),
        (OidcConfigChange(clock_skew_s=9), "clock_skew_s"),
    ]:
        with pytest.raises(InvalidArgument) as caught:
            await services.apps.update_oidc_config(owner, app.id, bad)
        assert caught.value.field == field
    assert len(await _events(services)) == before


async def test_switching_auth_methods_creates_or_drops_the_secret(
    services, owner, portal, settings
):
    app, _ = await services.apps.create_oidc_app(owner, portal, _web(auth_method=NONE))
    changed, secret = await services.apps.update_oidc_config(
        owner, app.id, OidcConfigChange(auth_method=BASIC)
    )
    assert secret is not None and changed.has_secret
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert rows(settings.data_dir, "SELECT client_secret_digest FROM apps") == [(digest,)]
    # Moving between methods that both use the secret keeps it.
    _, again = await services.apps.update_oidc_config(
        owner, app.id, OidcConfigChange(auth_method=POST)
    )
    assert again is None
    assert rows(settings.data_dir, "SELECT client_secret_digest FROM apps") == [(digest,)]
    dropped, _ = await services.apps.update_oidc_config(
        owner, app.id, OidcConfigChange(auth_method=JWT)
    )
    assert not dropped.has_secret
    assert rows(settings.data_dir, "SELECT client_secret_digest FROM apps") == [(None,)]


async def test_regenerate_client_secret(services, owner, portal, settings):
    app, first = await services.apps.create_oidc_app(owner, portal, _web())
    created: list[str] = []

    async def regenerate() -> None:
        created.append(await services.apps.regenerate_client_secret(owner, app.id))

    event = await _one_event(services, regenerate)
    second = created[0]
    assert second != first and re.fullmatch(r"[A-Za-z0-9]{64}", second)
    assert (event.event_type, event.payload) == (
        "project.application.oidc.secret.changed",
        {"project_id": portal},
    )
    digest = hashlib.sha256(second.encode()).hexdigest()
    assert rows(settings.data_dir, "SELECT client_secret_digest FROM apps") == [(digest,)]
    assert second.encode() not in _db_bytes(settings)

    spa, _ = await services.apps.create_oidc_app(
        owner, portal, _web(name="SPA", app_type=SPA, auth_method=NONE)
    )
    await _no_event(
        services,
        lambda: services.apps.regenerate_client_secret(owner, spa.id),
        PreconditionFailed,
    )


async def test_deactivate_reactivate_and_remove(services, owner, portal):
    app, _ = await services.apps.create_oidc_app(owner, portal, _web())
    event = await _one_event(services, lambda: services.apps.deactivate_app(owner, app.id))
    assert event.event_type == "project.application.deactivated"
    async with services.store.reader() as tx:
        assert (await tx.apps.find_by_client_id(app.client_id)).state is State.INACTIVE
    await _no_event(
        services, lambda: services.apps.deactivate_app(owner, app.id), PreconditionFailed
    )
    event = await _one_event(services, lambda: services.apps.reactivate_app(owner, app.id))
    assert event.event_type == "project.application.reactivated"

    event = await _one_event(services, lambda: services.apps.remove_app(owner, app.id))
    assert (event.event_type, event.payload["client_id"]) == (
        "project.application.removed",
        app.client_id,
    )
    with pytest.raises(NotFound) as caught:
        await services.apps.get_app(owner, app.id)
    assert caught.value.field == "app_id"
    async with services.store.reader() as tx:
        assert await tx.apps.find_by_client_id(app.client_id) is None


async def test_list_and_find_apps(services, owner, portal):
    await services.apps.create_oidc_app(owner, portal, _web(name="Web"))
    await services.apps.create_oidc_app(owner, portal, NewOidcApp("API", API, JWT, []))
    listed = await services.apps.list_apps(owner, portal)
    assert [a.name for a in listed.items] == ["API", "Web"] and listed.total == 2
    assert (await services.apps.find_app_by_name(owner, portal, "web")).name == "Web"
    assert await services.apps.find_app_by_name(owner, portal, "nope") is None


async def test_apps_follow_project_permissions(services, admin, owner, portal, acme):
    app, _ = await services.apps.create_oidc_app(owner, portal, _web())
    beta = await services.orgs.create_org(admin, "Beta")
    outsider = await manager(services, admin, beta.id, "eve", Scope.ORG, beta.id, ["ORG_OWNER"])
    await denied(services, lambda: services.apps.get_app(outsider, app.id), "project.app.read")
    await denied(services, lambda: services.apps.list_apps(outsider, portal), "project.app.read")
    await denied(
        services,
        lambda: services.apps.create_oidc_app(outsider, portal, _web(name="Mole")),
        "project.app.write",
    )
    await denied(
        services,
        lambda: services.apps.regenerate_client_secret(outsider, app.id),
        "project.app.write",
    )
    await denied(services, lambda: services.apps.remove_app(outsider, app.id), "project.app.delete")

    pete = await manager(services, admin, acme, "pete", Scope.PROJECT, portal, ["PROJECT_OWNER"])
    await services.apps.rename_app(pete, app.id, "Renamed by project owner")
    viewer = await manager(
        services, admin, acme, "vic", Scope.PROJECT, portal, ["PROJECT_OWNER_VIEWER"]
    )
    assert (await services.apps.get_app(viewer, app.id)).name == "Renamed by project owner"
    await denied(
        services, lambda: services.apps.deactivate_app(viewer, app.id), "project.app.write"
    )


@pytest.mark.parametrize(
    ("field", "values", "code"),
    [
        ("grant_types", ["authorization_code", "device_code"], "app.grant_types.unsupported"),
        ("grant_types", ["authorization_code", "token_exchange"], "app.grant_types.unsupported"),
        ("grant_types", ["authorization_code", "implicit"], "app.grant_types.unsupported"),
        ("grant_types", ["authorization_code", "password"], "app.grant_types.unknown"),
        ("response_types", ["code", "id_token"], "app.response_types.unsupported"),
        ("response_types", ["code", "id_token token"], "app.response_types.unsupported"),
        ("response_types", ["code", "token"], "app.response_types.unknown"),
    ],
)
async def test_only_the_flows_the_provider_serves_can_be_configured(
    services, owner, portal, field, values, code
):
    with pytest.raises(InvalidArgument) as created:
        await services.apps.create_oidc_app(owner, portal, _web(**{field: values}))
    assert (created.value.code, created.value.field) == (code, field)
    assert values[-1] in created.value.message
    app, _ = await services.apps.create_oidc_app(owner, portal, _web())
    change = OidcConfigChange(**{field: values})
    await _no_event(
        services, lambda: services.apps.update_oidc_config(owner, app.id, change), InvalidArgument
    )


async def test_flow_types_are_stored_in_one_order(services, owner, portal):
    app, _ = await services.apps.create_oidc_app(
        owner, portal, _web(grant_types=["refresh_token", "authorization_code"])
    )
    assert app.grant_types == ("authorization_code", "refresh_token")


async def test_stored_values_no_longer_offered_are_ignored_and_dropped_on_save(
    services, owner, portal
):
    """Apps stored before the offer was narrowed may hold ZITADEL's other flows."""
    app, _ = await services.apps.create_oidc_app(owner, portal, _web(name="Old"))
    async with services.store.transaction() as tx:
        await tx.apps.update(
            replace(
                app,
                response_types=("code", "id_token"),
                grant_types=("authorization_code", "implicit", "device_code", "token_exchange"),
            )
        )
    read = await services.apps.get_app(owner, app.id)
    assert (read.response_types, read.grant_types) == (("code",), ("authorization_code",))
    assert (await services.apps.find_app_by_name(owner, portal, "old")) == read
    assert (await services.apps.list_apps(owner, portal)).items == (read,)
    renamed = await services.apps.rename_app(owner, app.id, "Older")
    assert renamed.grant_types == ("authorization_code",)

    event = await _one_event(
        services,
        lambda: services.apps.update_oidc_config(owner, app.id, OidcConfigChange(dev_mode=True)),
    )
    assert event.payload == {
        "project_id": portal,
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "dev_mode": True,
        "secret_generated": False,
    }
    async with services.store.reader() as tx:
        stored = await tx.apps.find(app.id)
    assert stored is not None and stored.grant_types == ("authorization_code",)
