"""Identity providers as managers see them: instance and organisation providers, who may
manage which, every validation rule, the client secret encrypted at rest, the audit trail,
links removed with their provider, and which providers a login page offers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from tests.test_core_permissions import _user_in
from zitui.core.clock import FixedClock
from zitui.core.context import Context
from zitui.core.idps import IdpSettings, callback_urls
from zitui.core.ids import new_id
from zitui.core.services import Services
from zitui.errors import AlreadyExists, InvalidArgument, NotFound
from zitui.records import AutoLinking, IdentityProvider, IdpLink, IdpOptions, IdpType, Organization

SECRET = "upstream-client-secret-5d1f9a"
ISSUER = "https://login.example.com"


def oidc(**changes: Any) -> IdpSettings:
    settings = IdpSettings(
        name="Example SSO",
        type=IdpType.OIDC,
        client_id="zitui-client",
        client_secret=SECRET,
        issuer=ISSUER,
    )
    return replace(settings, **changes)


def github(**changes: Any) -> IdpSettings:
    settings = IdpSettings(name="GitHub", type=IdpType.GITHUB, client_id="gh-client")
    return replace(settings, **changes)


def oauth(**changes: Any) -> IdpSettings:
    settings = IdpSettings(
        name="Plain OAuth",
        type=IdpType.OAUTH,
        client_id="oauth-client",
        authorization_endpoint="https://auth.example.com/authorize",
        token_endpoint="https://auth.example.com/token",
        userinfo_endpoint="https://auth.example.com/userinfo",
        id_attribute="user_id",
    )
    return replace(settings, **changes)


def raw_row(services: Services, idp_id: str) -> tuple[object, ...]:
    [row] = rows(
        services.settings.data_dir, "SELECT * FROM identity_providers WHERE id = ?", idp_id
    )
    return row


def stored_secret(services: Services, idp_id: str) -> str:
    [(secret_enc,)] = rows(
        services.settings.data_dir,
        "SELECT client_secret_enc FROM identity_providers WHERE id = ?",
        idp_id,
    )
    assert isinstance(secret_enc, str)
    return secret_enc


async def secret_of(services: Services, idp_id: str) -> str:
    async with services.store.reader() as tx:
        stored = await services.idps.stored(tx, idp_id)
    assert stored is not None
    return services.idps.secret_of(stored)


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


@pytest.fixture
async def acme_owner(services: Services, admin: Context) -> tuple[Context, str]:
    """An ORG_OWNER of a new organisation "Beta", and that organisation's id."""
    owner = await sign_in_org_owner(services, admin, "Beta")
    org = (await services.orgs.list_orgs(admin, search="Beta")).items[0]
    return owner, org.id


# --- instance and organisation providers ------------------------------------------------


async def test_an_instance_provider_is_added_with_the_templates_defaults(
    services: Services, admin: Context
) -> None:
    idp = await services.idps.add(admin, "", oidc())
    assert (idp.org_id, idp.name, idp.type, idp.client_id) == (
        "",
        "Example SSO",
        IdpType.OIDC,
        "zitui-client",
    )
    assert idp.has_secret and idp.is_oidc
    assert idp.scopes == ("openid", "profile", "email")
    assert idp.issuer == ISSUER
    assert idp.options == IdpOptions()
    assert idp.created_at == idp.updated_at == admin.now()
    assert await services.idps.get(admin, idp.id) == idp
    assert await services.idps.owned(admin, "") == [idp]
    assert await services.idps.find_by_name(admin, "", "Example SSO") == idp
    assert await services.idps.find_by_name(admin, "", "Other") is None


async def test_an_organisation_provider_belongs_to_that_organisation_alone(
    services: Services, admin: Context, acme: Organization
) -> None:
    instance_idp = await services.idps.add(admin, "", oidc())
    org_idp = await services.idps.add(admin, acme.id, github())
    assert org_idp.org_id == acme.id
    assert org_idp.extra == {"base_url": "https://github.com"}
    assert org_idp.scopes == ("read:user", "user:email")
    assert not org_idp.has_secret
    assert await services.idps.owned(admin, acme.id) == [org_idp]
    assert await services.idps.owned(admin, "") == [instance_idp]
    assert await services.idps.find_by_name(admin, acme.id, "GitHub") == org_idp
    assert await services.idps.find_by_name(admin, "", "GitHub") is None


async def test_adding_to_an_unknown_organisation_is_not_found(
    services: Services, admin: Context
) -> None:
    with pytest.raises(NotFound) as caught:
        await services.idps.add(admin, new_id(), github())
    assert caught.value.code == "org.not_found"


async def test_an_unknown_provider_is_not_found(services: Services, admin: Context) -> None:
    for call in (
        lambda: services.idps.get(admin, new_id()),
        lambda: services.idps.change(admin, new_id(), github()),
        lambda: services.idps.remove(admin, new_id()),
        lambda: services.idps.get(admin, ""),
    ):
        with pytest.raises(NotFound) as caught:
            await call()
        assert caught.value.code == "idp.not_found"


async def test_changing_replaces_the_settings_and_keeps_created_at(
    services: Services, admin: Context, clock: FixedClock
) -> None:
    idp = await services.idps.add(admin, "", oidc())
    clock.advance(timedelta(minutes=5))
    options = IdpOptions(
        creation_allowed=False,
        linking_allowed=True,
        auto_creation=True,
        auto_update=True,
        auto_linking=AutoLinking.EMAIL,
    )
    changed = await services.idps.change(
        admin,
        idp.id,
        oidc(
            name="Renamed",
            client_secret=None,
            scopes=("openid", "email", "groups"),
            use_pkce=False,
            id_token_mapping=True,
            options=options,
        ),
    )
    assert (changed.name, changed.scopes, changed.options) == (
        "Renamed",
        ("openid", "email", "groups"),
        options,
    )
    assert (changed.use_pkce, changed.id_token_mapping) == (False, True)
    assert changed.created_at == idp.created_at
    assert changed.updated_at == idp.created_at + timedelta(minutes=5)
    assert await services.idps.get(admin, idp.id) == changed


# --- the client secret ------------------------------------------------------------------


async def test_the_secret_is_encrypted_at_rest_and_given_back_to_the_login(
    services: Services, admin: Context
) -> None:
    idp = await services.idps.add(admin, "", oidc())
    secret_enc = stored_secret(services, idp.id)
    assert secret_enc and SECRET not in secret_enc
    assert SECRET not in str(raw_row(services, idp.id))
    assert await secret_of(services, idp.id) == SECRET
    assert SECRET not in repr(oidc())


async def test_a_secret_left_out_is_kept_and_a_new_one_replaces_it(
    services: Services, admin: Context
) -> None:
    idp = await services.idps.add(admin, "", oidc())
    before = stored_secret(services, idp.id)
    kept = await services.idps.change(admin, idp.id, oidc(client_secret=None, client_id="new-id"))
    assert kept.has_secret and kept.client_id == "new-id"
    assert stored_secret(services, idp.id) == before
    assert await secret_of(services, idp.id) == SECRET

    await services.idps.change(admin, idp.id, oidc(client_secret="second-secret"))
    assert await secret_of(services, idp.id) == "second-secret"

    cleared = await services.idps.change(admin, idp.id, oidc(client_secret=""))
    assert not cleared.has_secret
    assert stored_secret(services, idp.id) == ""
    assert await secret_of(services, idp.id) == ""


async def test_a_secret_is_bound_to_its_provider(services: Services, admin: Context) -> None:
    """A ciphertext copied onto another provider's row does not decrypt there."""
    first = await services.idps.add(admin, "", oidc())
    second = await services.idps.add(admin, "", oidc(name="Second", client_secret="other"))
    async with services.store.reader() as tx:
        stored = await services.idps.stored(tx, second.id)
    assert stored is not None
    moved = replace(stored, secret_enc=stored_secret(services, first.id))
    with pytest.raises(Exception):  # noqa: B017 - whichever error the cipher raises
        services.idps.secret_of(moved)


async def test_an_overlong_secret_is_refused(services: Services, admin: Context) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await services.idps.add(admin, "", oidc(client_secret="x" * 8001))
    assert (caught.value.code, caught.value.field) == (
        "idp.client_secret_too_long",
        "client_secret",
    )


# --- the audit trail --------------------------------------------------------------------


async def test_every_change_is_recorded_without_the_secret(
    services: Services, admin: Context, acme: Organization
) -> None:
    instance = await services.instance.get_instance(admin)
    created: list[IdentityProvider] = []

    async def add() -> None:
        created.append(await services.idps.add(admin, "", oidc()))

    added = await _one_event(services, add)
    idp = created[0]
    assert (added.event_type, added.aggregate_type, added.aggregate_id) == (
        "instance.idp.added",
        "instance",
        instance.id,
    )
    assert added.org_id is None
    assert added.payload == {
        "idp_id": idp.id,
        "name": "Example SSO",
        "type": "oidc",
        "client_id": "zitui-client",
    }
    kept = await _one_event(
        services, lambda: services.idps.change(admin, idp.id, oidc(client_secret=None))
    )
    assert (kept.event_type, kept.payload["secret_changed"]) == ("instance.idp.changed", False)
    renewed = await _one_event(
        services, lambda: services.idps.change(admin, idp.id, oidc(client_secret="new-one"))
    )
    assert renewed.payload["secret_changed"] is True
    removed = await _one_event(services, lambda: services.idps.remove(admin, idp.id))
    assert removed.event_type == "instance.idp.removed"

    org_added = await _one_event(services, lambda: services.idps.add(admin, acme.id, github()))
    assert (org_added.event_type, org_added.aggregate_type, org_added.aggregate_id) == (
        "org.idp.added",
        "org",
        acme.id,
    )
    assert org_added.org_id == acme.id
    for event in await _events(services):
        assert SECRET not in str(event.payload)
        assert "new-one" not in str(event.payload)


async def test_a_refused_change_records_nothing(services: Services, admin: Context) -> None:
    idp = await services.idps.add(admin, "", oidc())
    await _no_event(
        services, lambda: services.idps.change(admin, idp.id, oidc(issuer="")), InvalidArgument
    )
    await _no_event(services, lambda: services.idps.add(admin, "", oidc()), AlreadyExists)
    assert await services.idps.get(admin, idp.id) == idp


# --- removal ----------------------------------------------------------------------------


async def test_removing_a_provider_removes_its_users_links(
    services: Services, admin: Context
) -> None:
    instance = await services.instance.get_instance(admin)
    user_id = await _user_in(services, admin, instance.default_org_id, "linked")
    idp = await services.idps.add(admin, "", oidc())
    other = await services.idps.add(admin, "", github())
    links = [
        IdpLink(new_id(), user_id, idp.id, "ext-1", "linked@example.com", admin.now()),
        IdpLink(new_id(), user_id, other.id, "4711", "linked-gh", admin.now()),
    ]
    async with services.store.transaction() as tx:
        for link in links:
            await tx.idp_links.insert(link)

    await services.idps.remove(admin, idp.id)
    async with services.store.reader() as tx:
        assert await tx.idp_links.find(links[0].id) is None
        assert await tx.idp_links.list_for_user(user_id) == [links[1]]
        assert await services.idps.stored(tx, idp.id) is None
    assert await services.idps.owned(admin, "") == [other]
    count = rows(services.settings.data_dir, "SELECT count(*) FROM user_idp_links")
    assert count == [(1,)]


async def test_removing_an_organisation_removes_its_providers_and_their_links(
    services: Services, admin: Context, acme: Organization
) -> None:
    instance = await services.instance.get_instance(admin)
    user_id = await _user_in(services, admin, instance.default_org_id, "linked")
    kept = await services.idps.add(admin, "", oidc())
    gone = await services.idps.add(admin, acme.id, github())
    link = IdpLink(new_id(), user_id, gone.id, "4711", "linked-gh", admin.now())
    async with services.store.transaction() as tx:
        await tx.idp_links.insert(link)

    removed = await _one_event(services, lambda: services.orgs.remove_org(admin, acme.id))
    assert removed.payload == {"name": "Acme", "idp_ids": [gone.id]}
    ids = rows(services.settings.data_dir, "SELECT id FROM identity_providers")
    assert ids == [(kept.id,)]
    async with services.store.reader() as tx:
        assert await tx.idp_links.list_for_user(user_id) == []


# --- who may manage which providers -----------------------------------------------------


async def test_an_org_owner_manages_their_organisations_providers(
    services: Services, acme_owner: tuple[Context, str]
) -> None:
    owner, org_id = acme_owner
    idp = await services.idps.add(owner, org_id, github())
    assert await services.idps.owned(owner, org_id) == [idp]
    changed = await services.idps.change(owner, idp.id, github(name="GitHub (staff)"))
    assert await services.idps.get(owner, idp.id) == changed
    await services.idps.remove(owner, idp.id)
    assert await services.idps.owned(owner, org_id) == []


async def test_an_org_owner_cannot_touch_the_instances_or_another_organisations_providers(
    services: Services,
    admin: Context,
    acme: Organization,
    acme_owner: tuple[Context, str],
) -> None:
    owner, _ = acme_owner
    instance_idp = await services.idps.add(admin, "", oidc())
    other_idp = await services.idps.add(admin, acme.id, github())
    for idp_id, org_id in ((instance_idp.id, ""), (other_idp.id, acme.id)):
        await assert_denied(services, lambda org_id=org_id: services.idps.owned(owner, org_id))
        await assert_denied(
            services, lambda org_id=org_id: services.idps.add(owner, org_id, oauth())
        )
        await assert_denied(services, lambda idp_id=idp_id: services.idps.get(owner, idp_id))
        await assert_denied(
            services, lambda idp_id=idp_id: services.idps.change(owner, idp_id, github())
        )
        await assert_denied(services, lambda idp_id=idp_id: services.idps.remove(owner, idp_id))
        await assert_denied(
            services, lambda org_id=org_id: services.idps.find_by_name(owner, org_id, "GitHub")
        )
    assert await services.idps.owned(admin, "") == [instance_idp]
    assert await services.idps.owned(admin, acme.id) == [other_idp]


# --- validation -------------------------------------------------------------------------


INVALID = [
    pytest.param(oidc(name=" "), "name", "name.required", id="name required"),
    pytest.param(oidc(name="x" * 201), "name", "name.too_long", id="name too long"),
    pytest.param(oidc(client_id=""), "client_id", "client_id.required", id="client id required"),
    pytest.param(oidc(type="saml"), "type", "type.invalid", id="unknown type"),
    pytest.param(oidc(issuer=""), "issuer", "idp.issuer_required", id="oidc needs an issuer"),
    pytest.param(
        oauth(authorization_endpoint=""),
        "authorization_endpoint",
        "idp.authorization_endpoint_required",
        id="oauth authorization endpoint",
    ),
    pytest.param(
        oauth(token_endpoint=""),
        "token_endpoint",
        "idp.token_endpoint_required",
        id="oauth token endpoint",
    ),
    pytest.param(
        oauth(userinfo_endpoint=""),
        "userinfo_endpoint",
        "idp.userinfo_endpoint_required",
        id="oauth userinfo endpoint",
    ),
    pytest.param(
        oauth(id_attribute=""), "id_attribute", "idp.id_attribute_required", id="oauth id attribute"
    ),
    pytest.param(
        oidc(scopes=("profile", "email")),
        "scopes",
        "idp.openid_scope_required",
        id="oidc needs openid",
    ),
    pytest.param(
        IdpSettings(name="Google", type=IdpType.GOOGLE, client_id="g", scopes=("email",)),
        "scopes",
        "idp.openid_scope_required",
        id="google needs openid",
    ),
    pytest.param(oidc(scopes=("openid", 'a"b')), "scopes", "idp.scopes_invalid", id="bad scope"),
    pytest.param(
        oidc(scopes=tuple(f"s{i}" for i in range(31))),
        "scopes",
        "idp.scopes_invalid",
        id="too many scopes",
    ),
    pytest.param(
        oidc(issuer="http://login.example.com"),
        "issuer",
        "idp.issuer_invalid",
        id="http off loopback",
    ),
    pytest.param(oidc(issuer="ftp://login.example.com"), "issuer", "idp.issuer_invalid", id="ftp"),
    pytest.param(oidc(issuer="login.example.com"), "issuer", "idp.issuer_invalid", id="no scheme"),
    pytest.param(
        oidc(issuer="https://user@login.example.com"),
        "issuer",
        "idp.issuer_invalid",
        id="userinfo in the URL",
    ),
    pytest.param(
        oidc(issuer="https://login.example.com/#x"),
        "issuer",
        "idp.issuer_invalid",
        id="fragment",
    ),
    pytest.param(
        oidc(issuer="https://login.example.com/\trealm"),
        "issuer",
        "idp.issuer_invalid",
        id="tab inside the URL",
    ),
    pytest.param(
        oidc(issuer="https://login example.com"), "issuer", "idp.issuer_invalid", id="space"
    ),
    pytest.param(
        oidc(issuer="https://login.example.com:99999"),
        "issuer",
        "idp.issuer_invalid",
        id="port out of range",
    ),
    pytest.param(
        oauth(token_endpoint="http://10.0.0.5/token"),
        "token_endpoint",
        "idp.token_endpoint_invalid",
        id="http on a private address",
    ),
    pytest.param(
        github(extra={"base_url": "http://github.example.com"}),
        "base_url",
        "idp.base_url_invalid",
        id="enterprise base URL over http",
    ),
    pytest.param(
        IdpSettings(
            name="Entra",
            type=IdpType.AZURE,
            client_id="a",
            extra={"email_verified": "yes"},
        ),
        "email_verified",
        "idp.email_verified_invalid",
        id="azure email_verified",
    ),
    pytest.param(
        IdpSettings(name="Entra", type=IdpType.AZURE, client_id="a", extra={"tenant": "a/b"}),
        "tenant",
        "idp.tenant_invalid",
        id="azure tenant",
    ),
    pytest.param(
        IdpSettings(name="Apple", type=IdpType.APPLE, client_id="a", extra={"key_id": "K1"}),
        "team_id",
        "idp.apple_key_required",
        id="apple team id",
    ),
    pytest.param(
        IdpSettings(name="Apple", type=IdpType.APPLE, client_id="a", extra={"team_id": "T1"}),
        "key_id",
        "idp.apple_key_required",
        id="apple key id",
    ),
    pytest.param(
        oidc(extra={"tenant": "common"}), "tenant", "idp.extra_unknown", id="unknown extra"
    ),
    pytest.param(
        github(extra={"team_id": "T1"}), "team_id", "idp.extra_unknown", id="extra of another kind"
    ),
]


@pytest.mark.parametrize(("given", "field", "code"), INVALID)
async def test_invalid_settings_name_their_field(
    services: Services, admin: Context, given: IdpSettings, field: str, code: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await services.idps.add(admin, "", given)
    assert (caught.value.field, caught.value.code) == (field, code)
    assert await services.idps.owned(admin, "") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000",
        "http://localhost:9000/realms/test",
        "http://[::1]:9000",
        "https://login.example.com/tenant/v2.0",
    ],
)
async def test_https_urls_and_http_on_loopback_are_accepted(
    services: Services, admin: Context, url: str
) -> None:
    idp = await services.idps.add(admin, "", oidc(issuer=url))
    assert idp.issuer == url


async def test_azure_takes_the_common_tenant_and_unverified_emails_by_default(
    services: Services, admin: Context
) -> None:
    azure = IdpSettings(name="Entra", type=IdpType.AZURE, client_id="a")
    idp = await services.idps.add(admin, "", azure)
    assert idp.extra == {"tenant": "common", "email_verified": "false"}
    assert idp.scopes == ("openid", "profile", "email")
    emptied = await services.idps.change(
        admin, idp.id, replace(azure, extra={"tenant": "", "email_verified": "true"})
    )
    assert emptied.extra == {"tenant": "common", "email_verified": "true"}
    own = await services.idps.change(
        admin, idp.id, replace(azure, extra={"tenant": "f00d-7e9a", "email_verified": "false"})
    )
    assert own.extra["tenant"] == "f00d-7e9a"


async def test_apple_keeps_its_team_and_key_ids(services: Services, admin: Context) -> None:
    apple = IdpSettings(
        name="Apple",
        type=IdpType.APPLE,
        client_id="com.example.web",
        client_secret="-----BEGIN PRIVATE KEY-----\nMIG...\n-----END PRIVATE KEY-----",
        extra={"team_id": "TEAM123456", "key_id": "KEY1234567"},
    )
    idp = await services.idps.add(admin, "", apple)
    assert idp.extra == {"team_id": "TEAM123456", "key_id": "KEY1234567"}
    assert idp.scopes == ("openid", "name", "email")
    assert await secret_of(services, idp.id) == apple.client_secret


async def test_an_enterprise_base_url_loses_its_trailing_slash(
    services: Services, admin: Context
) -> None:
    idp = await services.idps.add(
        admin, "", github(extra={"base_url": "https://github.example.com/"})
    )
    assert idp.extra == {"base_url": "https://github.example.com"}
    default = await services.idps.add(admin, "", github(name="GitHub.com", extra={"base_url": ""}))
    assert default.extra == {"base_url": "https://github.com"}


async def test_scopes_are_trimmed_and_deduplicated(services: Services, admin: Context) -> None:
    idp = await services.idps.add(
        admin, "", oidc(scopes=(" openid", "email", "openid", "", "groups "))
    )
    assert idp.scopes == ("openid", "email", "groups")


async def test_a_generic_oauth_provider_keeps_its_endpoints(
    services: Services, admin: Context
) -> None:
    idp = await services.idps.add(admin, "", oauth())
    assert (idp.authorization_endpoint, idp.token_endpoint, idp.userinfo_endpoint) == (
        "https://auth.example.com/authorize",
        "https://auth.example.com/token",
        "https://auth.example.com/userinfo",
    )
    assert (idp.id_attribute, idp.scopes, idp.is_oidc) == ("user_id", (), False)


# --- names ------------------------------------------------------------------------------


async def test_a_name_is_unique_per_owner(
    services: Services, admin: Context, acme: Organization
) -> None:
    first = await services.idps.add(admin, "", oidc())
    with pytest.raises(AlreadyExists) as caught:
        await services.idps.add(admin, "", github(name="Example SSO"))
    assert (caught.value.code, caught.value.field) == ("idp.name_taken", "name")

    beta = await services.orgs.create_org(admin, "Beta")
    in_acme = await services.idps.add(admin, acme.id, oidc())
    in_beta = await services.idps.add(admin, beta.id, oidc())
    assert {first.name, in_acme.name, in_beta.name} == {"Example SSO"}
    with pytest.raises(AlreadyExists):
        await services.idps.add(admin, acme.id, oidc())

    other = await services.idps.add(admin, "", github())
    with pytest.raises(AlreadyExists):
        await services.idps.change(admin, other.id, github(name="Example SSO"))
    assert (await services.idps.change(admin, first.id, oidc(client_id="same"))).name == (
        "Example SSO"
    )


# --- what a login page offers -----------------------------------------------------------


async def test_a_login_page_offers_the_instances_and_its_organisations_providers(
    services: Services, admin: Context, acme: Organization
) -> None:
    beta = await services.orgs.create_org(admin, "Beta")
    instance_idp = await services.idps.add(admin, "", oidc())
    acme_idp = await services.idps.add(admin, acme.id, github())
    await services.idps.add(admin, beta.id, github(name="Beta's GitHub"))
    async with services.store.reader() as tx:
        assert await services.idps.offered(tx, acme.id) == [instance_idp, acme_idp]
        assert await services.idps.offered(tx, "") == [instance_idp]

    await services.policies.set(admin, "login", {"allow_external_idp": False}, acme.id)
    async with services.store.reader() as tx:
        assert await services.idps.offered(tx, acme.id) == []
        assert await services.idps.offered(tx, "") == [instance_idp]
        assert len(await services.idps.offered(tx, beta.id)) == 2

    await services.policies.set(admin, "login", {"allow_external_idp": False})
    async with services.store.reader() as tx:
        assert await services.idps.offered(tx, "") == []
        assert await services.idps.offered(tx, beta.id) == []


def test_the_callback_urls_follow_zitadels_login_paths() -> None:
    assert callback_urls("https://id.example.com/") == (
        "https://id.example.com/ui/login/login/externalidp/callback",
        "https://id.example.com/ui/login/login/externalidp/callback/form",
    )
