"""The account API's linked identity providers (ZITADEL's ListMyLinkedIDPs and
RemoveMyLinkedIDP) through the app in-process, with tokens from a real code flow: the list and
its paging, removal by provider and external id, and every refusal as JSON with its code."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from tests import oidc_fixtures as fx
from tests.api_fixtures import api_tokens, basic, bearer
from tests.oidc_fixtures import Harness, World
from zitui.core.idps import IdpSettings
from zitui.core.ids import new_id
from zitui.records import IdentityProvider, IdpLink, IdpType, User
from zitui.server import paths
from zitui.server.api.routes import PREFIX

clock, harness, world = fx.clock, fx.harness, fx.world
SEARCH = f"{PREFIX}/users/me/idps/_search"
INVALID = 'Bearer realm="zitui", error="invalid_token"'
GITHUB = IdpSettings(name="GitHub", type=IdpType.GITHUB, client_id="gh", client_secret="s")
UPSTREAM = IdpSettings(
    name="Upstream", type=IdpType.OIDC, client_id="zitui", issuer="https://upstream.example"
)


def removal(idp_id: str, external_id: str) -> str:
    return f"{PREFIX}/users/me/idps/{idp_id}/{external_id}"


async def call(harness: Harness, method: str, path: str, token: str, **kwargs: Any) -> Any:
    return await harness.http.request(method, path, headers=bearer(token), **kwargs)


@pytest.fixture
async def github(harness: Harness, world: World) -> IdentityProvider:
    return await harness.services.idps.add(world.admin, "", GITHUB)


@pytest.fixture
async def upstream(harness: Harness, world: World) -> IdentityProvider:
    return await harness.services.idps.add(world.admin, world.org_id, UPSTREAM)


@pytest.fixture
async def alice_token(harness: Harness, world: World) -> str:
    return (await api_tokens(harness, world.clients["basic"], world.alice))["access_token"]


async def link(
    harness: Harness, user: User, idp: IdentityProvider, external_id: str, minutes: int = 0
) -> None:
    at = harness.services.clock.now() - timedelta(minutes=minutes)
    made = IdpLink(new_id(), user.id, idp.id, external_id, f"{external_id}@idp", at, None)
    async with harness.services.store.transaction() as tx:
        await tx.idp_links.insert(made)


async def external_ids(harness: Harness, user: User) -> list[str]:
    async with harness.services.store.reader() as tx:
        return [x.external_id for x in await tx.idp_links.list_for_user(user.id)]


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == code


async def test_the_list_in_zitadels_shape(
    harness: Harness, world: World, alice_token: str, github, upstream
) -> None:
    await link(harness, world.alice, github, "583231", minutes=2)
    await link(harness, world.alice, upstream, "alice-up")
    await link(harness, world.bob, github, "bob-gh")
    response = await call(harness, "POST", SEARCH, alice_token)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["details"]["totalResult"] == "2"
    assert answer["details"]["viewTimestamp"]
    assert answer["result"] == [
        {
            "userId": world.alice.id,
            "idpId": github.id,
            "idpName": "GitHub",
            "providedUserId": "583231",
            "providedUserName": "583231@idp",
            "idpType": "IDP_TYPE_UNSPECIFIED",
        },
        {
            "userId": world.alice.id,
            "idpId": upstream.id,
            "idpName": "Upstream",
            "providedUserId": "alice-up",
            "providedUserName": "alice-up@idp",
            "idpType": "IDP_TYPE_OIDC",
        },
    ]


async def test_the_list_pages_and_orders_by_the_query(
    harness: Harness, world: World, alice_token: str, github, upstream
) -> None:
    await link(harness, world.alice, github, "first", minutes=2)
    await link(harness, world.alice, upstream, "second")

    async def ids(query: dict[str, Any]) -> tuple[str, list[str]]:
        response = await call(harness, "POST", SEARCH, alice_token, json={"query": query})
        assert response.status_code == 200, response.text
        answer = response.json()
        return answer["details"]["totalResult"], [x["providedUserId"] for x in answer["result"]]

    assert await ids({}) == ("2", ["first", "second"])
    assert await ids({"limit": 1}) == ("2", ["first"])
    assert await ids({"offset": "1", "limit": 1}) == ("2", ["second"])  # uint64 as a string
    assert await ids({"asc": False}) == ("2", ["second", "first"])
    assert await ids({"offset": 5}) == ("2", [])


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"query": {"limit": -1}}, "api.field_invalid", "query.limit"),
        ({"query": {"sortingColumn": 1}}, "api.unknown_field", "query.sortingColumn"),
        ({"queries": []}, "api.unknown_field", "queries"),
        ([], "api.not_object", None),
    ],
)
async def test_a_bad_query_is_a_400_naming_the_field(
    harness: Harness, alice_token: str, body: Any, code: str, field: str | None
) -> None:
    response = await call(harness, "POST", SEARCH, alice_token, json=body)
    refused(response, 400, code)
    assert response.json().get("field") == field


async def test_remove_one_link_by_provider_and_external_id(
    harness: Harness, world: World, alice_token: str, github, upstream
) -> None:
    await link(harness, world.alice, github, "583231")
    await link(harness, world.alice, upstream, "alice-up")
    response = await call(harness, "DELETE", removal(github.id, "583231"), alice_token)
    assert response.status_code == 200, response.text
    assert response.json()["details"]["resourceOwner"] == world.org_id
    assert await external_ids(harness, world.alice) == ["alice-up"]
    listed = (await call(harness, "POST", SEARCH, alice_token)).json()
    assert [x["idpName"] for x in listed["result"]] == ["Upstream"]
    again = await call(harness, "DELETE", removal(github.id, "583231"), alice_token)
    refused(again, 404, "idp.link_not_found")


async def test_another_users_link_and_unknown_ids_are_not_found(
    harness: Harness, world: World, alice_token: str, github
) -> None:
    await link(harness, world.bob, github, "bob-gh")
    for path in (
        removal(github.id, "bob-gh"),
        removal(github.id, "no-such-identity"),
        removal("no-such-idp", "bob-gh"),
        removal("x" * 300, "%00%ff"),
    ):
        refused(await call(harness, "DELETE", path, alice_token), 404, "idp.link_not_found")
    assert await external_ids(harness, world.bob) == ["bob-gh"]


async def test_removal_wants_a_recent_sign_in(
    harness: Harness, world: World, clock: fx.OffsetClock, alice_token: str, github
) -> None:
    await link(harness, world.alice, github, "583231")
    clock.advance(timedelta(minutes=11))
    response = await call(harness, "DELETE", removal(github.id, "583231"), alice_token)
    refused(response, 401, "session.reauth_required")
    assert "insufficient_user_authentication" in response.headers["www-authenticate"]
    assert await external_ids(harness, world.alice) == ["583231"]
    assert (await call(harness, "POST", SEARCH, alice_token)).status_code == 200


async def test_the_last_way_to_sign_in_is_refused(
    harness: Harness, world: World, alice_token: str, github
) -> None:
    """A user whose password was taken away keeps their only link."""
    await link(harness, world.alice, github, "583231")
    with sqlite3.connect(harness.services.settings.data_dir / "zitui.db") as db:
        db.execute("UPDATE users SET password_hash = NULL WHERE id = ?", (world.alice.id,))
    response = await call(harness, "DELETE", removal(github.id, "583231"), alice_token)
    refused(response, 412, "idp.last_way_in")
    assert await external_ids(harness, world.alice) == ["583231"]


async def test_expired_and_revoked_tokens_are_refused(
    harness: Harness, world: World, clock: fx.OffsetClock, github
) -> None:
    await link(harness, world.alice, github, "583231")
    client = world.clients["basic"]
    revoked = (await api_tokens(harness, client, world.alice))["access_token"]
    answer = await harness.http.post(paths.REVOKE, data={"token": revoked}, headers=basic(client))
    assert answer.status_code == 200
    expiring = (await api_tokens(harness, client, world.alice))["access_token"]
    clock.advance(timedelta(hours=12, seconds=1))
    for token in (revoked, expiring):
        for method, path in (("POST", SEARCH), ("DELETE", removal(github.id, "583231"))):
            response = await call(harness, method, path, token)
            refused(response, 401, "api.token_invalid")
            assert response.headers["www-authenticate"] == INVALID
    assert await external_ids(harness, world.alice) == ["583231"]


async def test_a_machine_users_token_has_no_links(harness: Harness, world: World) -> None:
    assert world.robot_pat, "the world's machine user has a personal access token"
    response = await call(harness, "POST", SEARCH, world.robot_pat)
    refused(response, 412, "user.not_human")
