"""The signed-in user's links to external identity providers through services.account: the
list, the providers left to link, the check before linking, and removal with its audit event
and the rule that keeps a way to sign in."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests import test_core_sessions as session_tests
from tests.account_support import login_policy, own, signed_in
from tests.conftest import make_settings
from tests.self_service import events_of
from tests.test_core_account_factors import ORIGIN, software_key
from tests.test_core_sessions import add_human
from zitui.config import Settings
from zitui.core.context import Context
from zitui.core.idps import IdpSettings
from zitui.core.ids import new_id
from zitui.core.services import Services
from zitui.errors import NotFound, PreconditionFailed, ReauthRequired, Unauthenticated
from zitui.records import IdentityProvider, IdpLink, IdpType, Organization, User

acme, alice = session_tests.acme, session_tests.alice  # the fixtures of the session tests

GITHUB = IdpSettings(name="GitHub", type=IdpType.GITHUB, client_id="gh-client", client_secret="s")
UPSTREAM = IdpSettings(
    name="Upstream",
    type=IdpType.OAUTH,
    client_id="zitui",
    client_secret="s",
    authorization_endpoint="https://upstream.example/authorize",
    token_endpoint="https://upstream.example/token",
    userinfo_endpoint="https://upstream.example/userinfo",
    id_attribute="sub",
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """An external URL with a host name, so WebAuthn has a relying party (passkeys)."""
    return make_settings(tmp_path / "data", external_url=ORIGIN)


@pytest.fixture
async def github(services: Services, admin: Context) -> IdentityProvider:
    return await services.idps.add(admin, "", GITHUB)


@pytest.fixture
async def upstream(services: Services, admin: Context, acme: Organization) -> IdentityProvider:
    """A provider of alice's organisation."""
    return await services.idps.add(admin, acme.id, UPSTREAM)


async def link(services: Services, user: User, idp: IdentityProvider, external_id: str) -> str:
    """A link as the login's callback leaves it; its id."""
    now = services.clock.now()
    made = IdpLink(new_id(), user.id, idp.id, external_id, f"{external_id}@idp", now, None)
    async with services.store.transaction() as tx:
        await tx.idp_links.insert(made)
    return made.id


async def without_password(services: Services, admin: Context, acme: Organization) -> User:
    return await add_human(services, admin, acme.id, "nopass", password="")


async def test_links_name_their_provider_and_the_identity_there(
    services: Services, alice: User, github: IdentityProvider, upstream: IdentityProvider
):
    first = await link(services, alice, github, "gh-1")
    services.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    second = await link(services, alice, upstream, "up-1")
    links = await services.account.links(own(services, alice))
    assert [(x.id, x.idp_name, x.idp_type, x.external_id, x.external_name) for x in links] == [
        (first, "GitHub", IdpType.GITHUB, "gh-1", "gh-1@idp"),
        (second, "Upstream", IdpType.OAUTH, "up-1", "up-1@idp"),
    ]
    assert links[0].created_at < links[1].created_at


async def test_linkable_are_the_offered_providers_not_linked_yet(
    services: Services, admin: Context, alice: User, github: IdentityProvider, upstream
):
    ctx = own(services, alice)
    assert [p.name for p in await services.account.linkable_providers(ctx)] == [
        "GitHub",
        "Upstream",
    ]
    await link(services, alice, github, "gh-1")
    assert [p.name for p in await services.account.linkable_providers(ctx)] == ["Upstream"]

    # Another organisation's provider is never offered to alice.
    other = await services.orgs.create_org(admin, "Other")
    await services.idps.add(admin, other.id, replace(UPSTREAM, name="Elsewhere"))
    assert [p.name for p in await services.account.linkable_providers(ctx)] == ["Upstream"]

    # A login policy without external IdPs offers none.
    await login_policy(services, alice.org_id, allow_external_idp=False)
    assert await services.account.linkable_providers(ctx) == []


async def test_linking_wants_a_recent_sign_in_and_a_provider_the_user_may_link(
    services: Services, admin: Context, alice: User, github: IdentityProvider
):
    session = await signed_in(services, alice)
    ctx = own(services, alice, session_id=session.id)
    assert (await services.account.linking_session(ctx, github.id)).id == session.id

    old = own(services, alice, session_id=session.id, recent=False)
    with pytest.raises(ReauthRequired):
        await services.account.linking_session(old, github.id)

    other = await services.orgs.create_org(admin, "Other")
    elsewhere = await services.idps.add(admin, other.id, replace(UPSTREAM, name="Elsewhere"))
    await link(services, alice, github, "gh-1")
    for idp_id in (elsewhere.id, github.id, "no-such-idp", ""):
        with pytest.raises(NotFound) as refused:
            await services.account.linking_session(ctx, idp_id)
        assert refused.value.code == "idp.not_available"


async def test_removing_a_link_is_audited_with_the_user_as_actor(
    services: Services, alice: User, github: IdentityProvider
):
    link_id = await link(services, alice, github, "gh-1")
    await services.account.remove_link(own(services, alice), link_id)
    assert await services.account.links(own(services, alice)) == []
    [event] = await events_of(services, "user.human.externalidp.removed", alice.id)
    assert event.actor_id == alice.id
    assert event.payload == {
        "link_id": link_id,
        "idp_id": github.id,
        "idp_name": "GitHub",
        "external_id": "gh-1",
        "external_name": "gh-1@idp",
    }
    # The identity is free again: the login would treat it as unknown.
    async with services.store.reader() as tx:
        assert await tx.idp_links.find_external(github.id, "gh-1") is None


async def test_a_link_is_also_named_by_provider_and_external_id(
    services: Services, alice: User, github: IdentityProvider
):
    await link(services, alice, github, "gh-1")
    ctx = own(services, alice)
    with pytest.raises(NotFound):
        await services.account.remove_link_of(ctx, github.id, "gh-2")
    await services.account.remove_link_of(ctx, github.id, "gh-1")
    assert await services.account.links(ctx) == []


async def test_another_users_link_is_not_found_and_stays(
    services: Services, admin: Context, acme: Organization, alice: User, github
):
    bob = await add_human(services, admin, acme.id, "bob")
    bobs = await link(services, bob, github, "gh-bob")
    ctx = own(services, alice)
    for attempt in (
        services.account.remove_link(ctx, bobs),
        services.account.remove_link(ctx, "no-such-link"),
        services.account.remove_link(ctx, ""),
        services.account.remove_link_of(ctx, github.id, "gh-bob"),
        services.account.remove_link_of(ctx, "", ""),
    ):
        with pytest.raises(NotFound) as refused:
            await attempt
        assert refused.value.code == "idp.link_not_found"
    assert [x.id for x in await services.account.links(own(services, bob))] == [bobs]


async def test_removal_wants_a_recent_sign_in(services: Services, alice: User, github):
    link_id = await link(services, alice, github, "gh-1")
    with pytest.raises(ReauthRequired):
        await services.account.remove_link(own(services, alice, recent=False), link_id)
    stale = services.clock.now() - services.account.reauth_window - timedelta(seconds=1)
    with pytest.raises(ReauthRequired):
        await services.account.remove_link(own(services, alice, auth_time=stale), link_id)
    assert len(await services.account.links(own(services, alice))) == 1


async def test_the_last_way_to_sign_in_is_kept(
    services: Services, admin: Context, acme: Organization, github, upstream
):
    user = await without_password(services, admin, acme)
    first = await link(services, user, github, "gh-1")
    second = await link(services, user, upstream, "up-1")
    ctx = own(services, user)
    await services.account.remove_link(ctx, first)  # the other link still signs in
    with pytest.raises(PreconditionFailed) as kept:
        await services.account.remove_link(ctx, second)
    assert kept.value.code == "idp.last_way_in"
    assert [x.id for x in await services.account.links(ctx)] == [second]
    assert len(await events_of(services, "user.human.externalidp.removed", user.id)) == 1


async def test_a_password_or_a_passkey_is_another_way_in(
    services: Services, admin: Context, acme: Organization, alice: User, github
):
    # alice has a password.
    await services.account.remove_link(
        own(services, alice), await link(services, alice, github, "gh-a")
    )

    user = await without_password(services, admin, acme)
    ctx = own(services, user)
    started = await services.account.start_key_registration(ctx, passkey=True)
    answer = software_key(started.options_json, passkey=True)
    await services.account.finish_key_registration(ctx, started.id, answer)
    await services.account.remove_link(ctx, await link(services, user, github, "gh-u"))
    assert await services.account.links(ctx) == []


async def test_only_a_signed_in_user_has_links(services: Services, admin: Context, github):
    anonymous = replace(admin, actor=None)
    with pytest.raises(Unauthenticated):
        await services.account.links(anonymous)
    with pytest.raises(Unauthenticated):
        await services.account.remove_link(anonymous, "x")
