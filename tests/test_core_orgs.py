"""Organisations: lifecycle, removal, the creator as owner, and domains with their proof."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_permissions import _sign_in, _user_in
from zitui.core import permissions
from zitui.core.context import Actor, Context, RequestMeta
from zitui.core.ids import new_id
from zitui.core.policies import DomainPolicy, to_settings
from zitui.core.services import Services
from zitui.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unauthenticated,
)
from zitui.records import Membership, Organization, OrgState, Scope


async def sign_in_org_owner(services: Services, admin: Context, org_name: str) -> Context:
    """A new organisation with an ORG_OWNER, signed in; the outsider of the other tests."""
    org = await services.orgs.create_org(admin, org_name)
    username = f"boss-{org.primary_domain.split('.')[0]}"
    user_id = await _user_in(services, admin, org.id, username)
    await services.memberships.add_member(admin, user_id, Scope.ORG, org.id, ["ORG_OWNER"])
    return await _sign_in(services, f"{username}@{org.primary_domain}")


async def assert_denied(services: Services, command: Callable[[], Awaitable[Any]]) -> None:
    """Refused, and the only trace is the `permission.denied` event."""
    before = {e.id for e in await _events(services)}
    with pytest.raises(PermissionDenied):
        await command()
    new = [e.event_type for e in await _events(services) if e.id not in before]
    assert new == ["permission.denied"]


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


@pytest.fixture
async def outsider(services: Services, admin: Context) -> Context:
    return await sign_in_org_owner(services, admin, "Other")


async def _set_domain_policy(services: Services, org_id: str, **values: bool) -> None:
    async with services.store.transaction() as tx:
        settings = to_settings(DomainPolicy(**values))
        await tx.policies.insert(
            new_id(), "domain", settings, org_id=org_id, at=services.clock.now()
        )


async def test_iam_owner_creates_an_org_without_becoming_its_owner(services, admin):
    event = await _one_event(services, lambda: services.orgs.create_org(admin, "Acme"))
    assert event.event_type == "org.added"
    assert "owner_user_id" not in event.payload
    assert await services.memberships.list_members(admin, Scope.ORG, event.aggregate_id) == []


async def test_creator_without_an_instance_role_becomes_org_owner(
    services, admin, monkeypatch: pytest.MonkeyPatch
):
    # ZITADEL's SELF_MANAGEMENT_GLOBAL lets anyone create an organisation.
    monkeypatch.setitem(
        permissions.ROLES,
        "SELF_MANAGEMENT_GLOBAL",
        (Scope.INSTANCE, frozenset({"org.create", "policy.read"})),
    )
    instance = await services.instance.get_instance(admin)
    user_id = await _user_in(services, admin, instance.default_org_id, "founder")
    grant = Membership(
        id="m",
        user_id=user_id,
        scope=Scope.INSTANCE,
        scope_id=instance.id,
        org_id="",
        roles=("SELF_MANAGEMENT_GLOBAL",),
        created_at=services.clock.now(),
    )
    actor = Actor(user_id, instance.default_org_id, "founder", memberships=(grant,))
    founder = Context(clock=services.clock, actor=actor)
    event = await _one_event(services, lambda: services.orgs.create_org(founder, "Startup"))
    assert event.payload["owner_user_id"] == user_id
    members = await services.memberships.list_members(admin, Scope.ORG, event.aggregate_id)
    assert [(m.user_id, m.roles) for m in members] == [(user_id, ("ORG_OWNER",))]


async def test_deactivate_and_reactivate(services, admin, acme):
    event = await _one_event(services, lambda: services.orgs.deactivate_org(admin, acme.id))
    assert (event.event_type, event.aggregate_id) == ("org.deactivated", acme.id)
    assert (await services.orgs.get_org(admin, acme.id)).state is OrgState.INACTIVE
    await _no_event(
        services, lambda: services.orgs.deactivate_org(admin, acme.id), PreconditionFailed
    )

    event = await _one_event(services, lambda: services.orgs.reactivate_org(admin, acme.id))
    assert event.event_type == "org.reactivated"
    assert (await services.orgs.get_org(admin, acme.id)).state is OrgState.ACTIVE
    await _no_event(
        services, lambda: services.orgs.reactivate_org(admin, acme.id), PreconditionFailed
    )
    await _no_event(services, lambda: services.orgs.deactivate_org(admin, "nope"), NotFound)


async def test_default_org_cannot_be_deactivated(services, admin):
    instance = await services.instance.get_instance(admin)
    await _no_event(
        services,
        lambda: services.orgs.deactivate_org(admin, instance.default_org_id),
        PreconditionFailed,
    )


async def test_users_of_a_deactivated_org_cannot_sign_in(services, admin, acme):
    user_id = await _user_in(services, admin, acme.id, "ann")
    await services.memberships.add_member(admin, user_id, Scope.ORG, acme.id, ["ORG_OWNER"])
    await services.orgs.deactivate_org(admin, acme.id)
    # The same answer as a wrong password: a sign-in tells nothing about the account.
    with pytest.raises(Unauthenticated) as caught:
        await _sign_in(services, "ann@acme.127.0.0.1")
    assert caught.value.code == "auth.bad_credentials"
    refused = (await _events(services))[0]
    assert refused.event_type == "user.human.password.check.failed"
    assert refused.payload.get("refused") == "org_inactive"
    await services.orgs.reactivate_org(admin, acme.id)
    assert (await _sign_in(services, "ann@acme.127.0.0.1")).actor.user_id == user_id


async def test_remove_org_cascades(services, admin, acme, settings):
    bob_id = await _user_in(services, admin, acme.id, "bob")
    instance = await services.instance.get_instance(admin)
    admin_id = admin.actor.user_id
    await services.memberships.add_member(admin, admin_id, Scope.ORG, acme.id, ["ORG_OWNER"])
    await services.orgs.add_domain(admin, acme.id, "acme.example.com")
    await _set_domain_policy(services, acme.id, validate_org_domains=True)

    event = await _one_event(services, lambda: services.orgs.remove_org(admin, acme.id))
    assert (event.event_type, event.payload) == ("org.removed", {"name": "Acme"})
    data = settings.data_dir
    assert rows(data, "SELECT id FROM users WHERE id = ?", bob_id) == []
    assert rows(data, "SELECT domain FROM org_domains WHERE org_id = ?", acme.id) == []
    assert rows(data, "SELECT id FROM memberships WHERE org_id = ?", acme.id) == []
    assert rows(data, "SELECT id FROM policies WHERE org_id = ?", acme.id) == []
    assert await services.orgs.find_org_by_name(admin, "Acme") is None
    await _no_event(services, lambda: services.orgs.remove_org(admin, acme.id), NotFound)

    with pytest.raises(PreconditionFailed) as caught:
        await services.orgs.remove_org(admin, instance.default_org_id)
    assert caught.value.code == "org.default.not_removable"


async def test_remove_org_keeps_the_last_iam_owner(services, admin, acme):
    instance = await services.instance.get_instance(admin)
    carol_id = await _user_in(services, admin, acme.id, "carol")
    await services.memberships.add_member(
        admin, carol_id, Scope.INSTANCE, instance.id, ["IAM_OWNER"]
    )
    await services.memberships.remove_member(
        admin, admin.actor.user_id, Scope.INSTANCE, instance.id
    )

    system = services.system_context("test")
    await _no_event(services, lambda: services.orgs.remove_org(system, acme.id), PreconditionFailed)
    with pytest.raises(PreconditionFailed) as caught:
        await services.orgs.remove_org(system, acme.id)
    assert caught.value.code == "membership.last_iam_owner"


async def test_find_org_by_name_sees_only_readable_orgs(services, admin, acme, outsider):
    assert (await services.orgs.find_org_by_name(admin, "ACME")) == acme
    assert await services.orgs.find_org_by_name(admin, "Nobody") is None
    assert await services.orgs.find_org_by_name(outsider, "Acme") is None
    assert (await services.orgs.find_org_by_name(outsider, "Other")).name == "Other"


async def test_add_domain(services, admin, acme):
    event = await _one_event(
        services, lambda: services.orgs.add_domain(admin, acme.id, " Login.Acme.Example. ")
    )
    assert (event.event_type, event.payload) == (
        "org.domain.added",
        {"domain": "login.acme.example"},
    )
    domains = {d.domain: d for d in await services.orgs.list_domains(admin, acme.id)}
    added = domains["login.acme.example"]
    assert not added.is_verified and not added.is_primary
    assert len(added.validation_token) >= 32
    assert domains[acme.primary_domain].is_primary

    other = await services.orgs.create_org(admin, "Beta")
    with pytest.raises(AlreadyExists) as caught:
        await services.orgs.add_domain(admin, other.id, "LOGIN.acme.example")
    assert (caught.value.code, caught.value.field) == ("org.domain.taken", "domain")
    for bad in ("no_underscores.example", "single", "-dash.example", "a..b"):
        with pytest.raises(InvalidArgument) as caught:
            await services.orgs.add_domain(admin, acme.id, bad)
        assert caught.value.field == "domain"
    await _no_event(
        services, lambda: services.orgs.add_domain(admin, "nope", "x.example"), NotFound
    )


async def test_a_domain_another_organisation_verified_is_not_theirs_to_add_or_verify(
    services, admin, acme, outsider
):
    await services.orgs.add_domain(admin, acme.id, "acme.example")
    await services.orgs.verify_domain(admin, acme.id, "acme.example")
    other = outsider.actor.org_id
    before = len(await _events(services))
    for spelling in ("acme.example", " ACME.Example. "):
        with pytest.raises(AlreadyExists) as taken:
            await services.orgs.add_domain(outsider, other, spelling)
        assert (taken.value.code, taken.value.field) == ("org.domain.taken", "domain")
    attempts = (
        lambda: services.orgs.verify_domain(outsider, other, "acme.example"),
        lambda: services.orgs.generate_domain_validation(outsider, other, "acme.example", "dns"),
        lambda: services.orgs.set_primary_domain(outsider, other, "acme.example"),
        lambda: services.orgs.remove_domain(outsider, other, "acme.example"),
    )
    for attempt in attempts:
        with pytest.raises(NotFound) as missing:
            await attempt()
        assert missing.value.code == "org.domain.not_found"
    assert len(await _events(services)) == before
    domains = {d.domain: d for d in await services.orgs.list_domains(admin, acme.id)}
    assert domains["acme.example"].is_verified
    assert "acme.example" not in {d.domain for d in await services.orgs.list_domains(admin, other)}


async def test_two_organisations_adding_one_domain_at_once_get_it_once(services, admin, acme):
    beta = await services.orgs.create_org(admin, "Beta")
    results = await asyncio.gather(
        services.orgs.add_domain(admin, acme.id, "shared.example"),
        services.orgs.add_domain(admin, beta.id, "shared.example"),
        return_exceptions=True,
    )
    added = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, AlreadyExists)]
    assert len(added) == 1 and len(refused) == 1
    assert refused[0].code == "org.domain.taken"


async def test_an_organisation_whose_generated_domain_another_verified_is_refused(
    services, admin, acme
):
    instance = await services.instance.get_instance(admin)
    taken = f"gamma.{instance.domain}"
    await services.orgs.add_domain(admin, acme.id, taken)
    await services.orgs.verify_domain(admin, acme.id, taken)
    with pytest.raises(AlreadyExists) as caught:
        await services.orgs.create_org(admin, "Gamma")
    assert caught.value.code == "org.domain.taken"
    assert await services.orgs.find_org_by_name(admin, "Gamma") is None


async def test_domain_validation_says_what_to_publish(services, admin, acme):
    await services.orgs.add_domain(admin, acme.id, "acme.example")
    event = await _one_event(
        services,
        lambda: services.orgs.generate_domain_validation(admin, acme.id, "acme.example", "dns"),
    )
    assert event.event_type == "org.domain.verification.added"
    assert event.payload == {"domain": "acme.example", "validation_type": "dns"}
    domains = await services.orgs.list_domains(admin, acme.id)
    dns = next(d for d in domains if d.domain == "acme.example")
    assert dns.validation_target == "_zitadel-challenge.acme.example"
    assert dns.validation_token not in str(event.payload)

    http = await services.orgs.generate_domain_validation(admin, acme.id, "acme.example", "HTTP")
    assert http.validation_token != dns.validation_token
    assert http.validation_target == (
        f"https://acme.example/.well-known/zitadel-challenge/{http.validation_token}.txt"
    )
    with pytest.raises(InvalidArgument) as caught:
        await services.orgs.generate_domain_validation(admin, acme.id, "acme.example", "smtp")
    assert caught.value.field == "method"
    with pytest.raises(NotFound):
        await services.orgs.generate_domain_validation(admin, acme.id, "other.example", "dns")


async def test_verify_domain_by_org_owner_when_the_policy_allows(services, admin, acme):
    owner = await sign_in_org_owner(services, admin, "Beta")
    beta = await services.orgs.find_org_by_name(admin, "Beta")
    await services.orgs.add_domain(owner, beta.id, "beta.example")
    event = await _one_event(
        services, lambda: services.orgs.verify_domain(owner, beta.id, "beta.example")
    )
    assert (event.event_type, event.payload["domain"]) == ("org.domain.verified", "beta.example")
    domains = await services.orgs.list_domains(owner, beta.id)
    assert next(d for d in domains if d.domain == "beta.example").is_verified
    await _no_event(
        services,
        lambda: services.orgs.verify_domain(owner, beta.id, "beta.example"),
        PreconditionFailed,
    )


async def test_verify_domain_needs_an_instance_manager_when_validation_is_required(services, admin):
    owner = await sign_in_org_owner(services, admin, "Beta")
    beta = await services.orgs.find_org_by_name(admin, "Beta")
    await _set_domain_policy(services, beta.id, validate_org_domains=True)
    await services.orgs.add_domain(owner, beta.id, "beta.example")

    await assert_denied(
        services, lambda: services.orgs.verify_domain(owner, beta.id, "beta.example")
    )
    with pytest.raises(PreconditionFailed) as caught:
        await services.orgs.verify_domain(admin, beta.id, "beta.example")
    assert caught.value.code == "org.domain.no_challenge"
    await services.orgs.generate_domain_validation(owner, beta.id, "beta.example", "dns")
    verified = await services.orgs.verify_domain(admin, beta.id, "beta.example")
    assert verified.is_verified and verified.validation_type == "dns"


async def test_primary_domain_changes_login_names(services, admin, acme):
    await _user_in(services, admin, acme.id, "bob")
    await services.orgs.add_domain(admin, acme.id, "acme.example")
    event = await _one_event(
        services, lambda: services.orgs.set_primary_domain(admin, acme.id, "acme.example")
    )
    assert (event.event_type, event.payload) == (
        "org.domain.primary.set",
        {"domain": "acme.example"},
    )
    assert (await services.orgs.get_org(admin, acme.id)).primary_domain == "acme.example"
    bob = await services.users.find_user_by_username(admin, acme.id, "bob")
    assert bob.login_name == "bob@acme.example"
    signed_in = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
    assert signed_in.user.login_name.endswith("@zitui.127.0.0.1")  # other orgs keep theirs
    await _no_event(
        services,
        lambda: services.orgs.set_primary_domain(admin, acme.id, "acme.example"),
        PreconditionFailed,
    )
    domains = {d.domain: d for d in await services.orgs.list_domains(admin, acme.id)}
    assert [d for d, found in domains.items() if found.is_primary] == ["acme.example"]


async def test_primary_domain_must_be_verified_when_the_policy_says_so(services, admin, acme):
    await _set_domain_policy(services, acme.id, validate_org_domains=True)
    await services.orgs.add_domain(admin, acme.id, "acme.example")
    with pytest.raises(PreconditionFailed) as caught:
        await services.orgs.set_primary_domain(admin, acme.id, "acme.example")
    assert caught.value.code == "org.domain.unverified"
    await services.orgs.generate_domain_validation(admin, acme.id, "acme.example", "http")
    await services.orgs.verify_domain(admin, acme.id, "acme.example")
    org = await services.orgs.set_primary_domain(admin, acme.id, "acme.example")
    assert org.primary_domain == "acme.example"


async def test_remove_domain(services, admin, acme):
    await services.orgs.add_domain(admin, acme.id, "acme.example")
    await _no_event(
        services,
        lambda: services.orgs.remove_domain(admin, acme.id, acme.primary_domain),
        PreconditionFailed,
    )
    event = await _one_event(
        services, lambda: services.orgs.remove_domain(admin, acme.id, "acme.example")
    )
    assert (event.event_type, event.payload) == ("org.domain.removed", {"domain": "acme.example"})
    assert [d.domain for d in await services.orgs.list_domains(admin, acme.id)] == [
        acme.primary_domain
    ]
    await _no_event(
        services, lambda: services.orgs.remove_domain(admin, acme.id, "acme.example"), NotFound
    )


async def test_org_owner_of_another_org_is_refused(services, admin, acme, outsider):
    await services.orgs.add_domain(admin, acme.id, "acme.example")
    orgs = services.orgs
    for command in (
        lambda: orgs.deactivate_org(outsider, acme.id),
        lambda: orgs.reactivate_org(outsider, acme.id),
        lambda: orgs.remove_org(outsider, acme.id),
        lambda: orgs.list_domains(outsider, acme.id),
        lambda: orgs.add_domain(outsider, acme.id, "evil.example"),
        lambda: orgs.generate_domain_validation(outsider, acme.id, "acme.example", "dns"),
        lambda: orgs.verify_domain(outsider, acme.id, "acme.example"),
        lambda: orgs.set_primary_domain(outsider, acme.id, "acme.example"),
        lambda: orgs.remove_domain(outsider, acme.id, "acme.example"),
    ):
        await assert_denied(services, command)
    assert (await orgs.get_org(admin, acme.id)).state is OrgState.ACTIVE


async def test_org_owner_may_remove_their_own_org(services, admin, outsider):
    other = await services.orgs.find_org_by_name(outsider, "Other")
    await services.orgs.remove_org(outsider, other.id)
    assert await services.orgs.find_org_by_name(admin, "Other") is None
