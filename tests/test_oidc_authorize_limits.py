"""What an anonymous `/oauth/v2/authorize` may store: bounded parameters, a bounded row, and a
cap on the pending requests of one client address."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx2
import pytest

from tests import oidc_fixtures as fx
from tests.conftest import make_settings
from tests.dbfile import rows
from tests.oidc_fixtures import Harness, OffsetClock, Pkce, World
from tests.server_fixtures import BROWSER_ACCEPT
from zitui.config import Settings
from zitui.core.oidc import request_bounds as bounds
from zitui.server import paths

clock, harness, world = fx.clock, fx.harness, fx.world
CAP = 3


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", pending_auth_requests_per_address=CAP)


def stored_count(harness: Harness) -> int:
    found = rows(harness.services.settings.data_dir, "SELECT count(*) FROM auth_requests")
    return int(str(found[0][0]))


def stored_row(harness: Harness, auth_request_id: str) -> dict[str, object]:
    data_dir = harness.services.settings.data_dir
    found = rows(data_dir, "SELECT * FROM auth_requests WHERE id = ?", auth_request_id)
    names = [str(r[1]) for r in rows(data_dir, "PRAGMA table_info(auth_requests)")]
    return dict(zip(names, found[0], strict=True))


def row_size(row: dict[str, object]) -> int:
    """Bytes of the stored values, as SQLite keeps them (numbers as 8 bytes)."""
    sizes = {str: lambda v: len(v.encode()), bytes: len, type(None): lambda v: 0}
    return sum(sizes.get(type(value), lambda v: 8)(value) for value in row.values())


def words(count: int, length: int, prefix: str) -> str:
    return " ".join(f"{prefix}{i:0{length - len(prefix)}d}" for i in range(count))


def maximal_params(world: World) -> dict[str, str]:
    """Every parameter at its documented limit."""
    params = fx.authorize_params(world.clients["basic"], pkce=Pkce())
    scope = "openid " + words(bounds.SCOPE_VALUES - 1, 19, "s")
    assert len(scope) <= bounds.SCOPE
    params |= {
        "state": "S" * bounds.STATE,
        "nonce": "N" * bounds.NONCE,
        "scope": scope,
        "login_hint": "h" * bounds.LOGIN_HINT,
        "ui_locales": words(bounds.LIST_VALUES, 15, "de-x-"),
        "acr_values": words(bounds.LIST_VALUES, 15, "acr"),
        "prompt": "login consent select_account",
        "max_age": str(bounds.MAX_AGE),
    }
    assert len(params["ui_locales"]) <= bounds.UI_LOCALES
    assert len(params["acr_values"]) <= bounds.ACR_VALUES
    return params


def old_maximal_params(world: World) -> dict[str, str]:
    """What was accepted before the limits: up to 4096 characters in each parameter, a
    35 KB row (a list of one-letter values takes five bytes a value in JSON)."""
    params = maximal_params(world)
    return params | {
        "state": "S" * 4096,
        "nonce": "N" * 4096,
        "scope": "openid " + words(97, 41, "s"),
        "login_hint": "h" * 4096,
        "ui_locales": " ".join(["de"] * 1365),
        "acr_values": " ".join(["1"] * 2048),
    }


async def test_the_largest_accepted_request_is_stored_in_about_ten_kilobytes(
    harness: Harness, world: World
) -> None:
    params = maximal_params(world)
    auth_request_id = fx.login_redirect_id(await harness.authorize(params))
    row = stored_row(harness, auth_request_id)
    assert row["state"] == params["state"] and row["max_age"] == bounds.MAX_AGE
    assert row_size(row) <= 10 * 1024 + len(params["redirect_uri"])

    response = await harness.authorize(old_maximal_params(world))
    assert fx.query_of(response.headers["location"])["error"] == "invalid_request"
    assert stored_count(harness) == 1


REFUSED = [
    pytest.param("nonce", "N" * (bounds.NONCE + 1), id="nonce"),
    pytest.param("scope", "openid " + "x" * bounds.SCOPE, id="scope"),
    pytest.param("scope", "openid " + words(bounds.SCOPE_VALUES, 3, "s"), id="scope-count"),
    pytest.param("login_hint", "h" * (bounds.LOGIN_HINT + 1), id="login_hint"),
    pytest.param("ui_locales", "de " * 86, id="ui_locales"),
    pytest.param("ui_locales", words(bounds.LIST_VALUES + 1, 2, "l"), id="ui_locales-count"),
    pytest.param("acr_values", "a" * (bounds.ACR_VALUES + 1), id="acr_values"),
    pytest.param("acr_values", words(bounds.LIST_VALUES + 1, 2, "a"), id="acr_values-count"),
    pytest.param("prompt", "login " * 11, id="prompt"),
    pytest.param("max_age", str(bounds.MAX_AGE + 1), id="max_age"),
    pytest.param("max_age", "\u00b2", id="max_age-superscript"),
    pytest.param("max_age", "\uff11\uff12", id="max_age-fullwidth"),
]


@pytest.mark.parametrize(("name", "value"), REFUSED)
async def test_a_parameter_over_its_limit_is_invalid_request_and_nothing_is_stored(
    harness: Harness, world: World, name: str, value: str
) -> None:
    before = stored_count(harness)
    params = {**fx.authorize_params(world.clients["basic"]), name: value}
    response = await harness.authorize(params)
    assert response.status_code == 302, response.text
    found = fx.query_of(response.headers["location"])
    assert found["error"] == "invalid_request", found
    assert found["state"] == params["state"]
    assert stored_count(harness) == before


async def test_an_oversized_state_is_refused_and_not_echoed(harness: Harness, world: World) -> None:
    params = {**fx.authorize_params(world.clients["basic"]), "state": "S" * (bounds.STATE + 1)}
    response = await harness.authorize(params)
    location = response.headers["location"]
    assert location.startswith(fx.WEB_CALLBACK + "?") and len(location) < 500
    found = fx.query_of(location)
    assert found["error"] == "invalid_request" and "state" not in found
    assert stored_count(harness) == 0


def browser_at(harness: Harness, ip: str) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=harness.transport.app, client=(ip, 50000))
    return httpx2.AsyncClient(transport=transport, base_url=harness.issuer)


async def authorize_from(harness: Harness, world: World, ip: str) -> httpx2.Response:
    async with browser_at(harness, ip) as browser:
        params = fx.authorize_params(world.clients["basic"])
        return await browser.get(paths.AUTHORIZE, params=params, headers={"Accept": BROWSER_ACCEPT})


async def test_an_address_with_too_many_pending_requests_gets_429_and_nothing_is_stored(
    harness: Harness, world: World, clock: OffsetClock
) -> None:
    for _ in range(CAP):
        fx.login_redirect_id(await authorize_from(harness, world, "192.0.2.1"))
    refused = await authorize_from(harness, world, "192.0.2.1")
    assert refused.status_code == 429
    assert "location" not in refused.headers
    assert refused.headers["content-type"].startswith("text/html")
    # The first of the pending requests expires in an hour; then there is room again.
    assert 3590 <= int(refused.headers["retry-after"]) <= 3600
    assert stored_count(harness) == CAP
    fx.login_redirect_id(await authorize_from(harness, world, "192.0.2.2"))
    found = rows(harness.services.settings.data_dir, "SELECT DISTINCT client_ip FROM auth_requests")
    assert sorted(str(ip) for (ip,) in found) == ["192.0.2.1", "192.0.2.2"]

    clock.advance(timedelta(hours=1, seconds=1))  # expired requests no longer count
    fx.login_redirect_id(await authorize_from(harness, world, "192.0.2.1"))


async def test_an_ipv6_host_counts_by_its_slash_64(harness: Harness, world: World) -> None:
    for ip in ("2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:abcd::9"):
        fx.login_redirect_id(await authorize_from(harness, world, ip))
    assert (await authorize_from(harness, world, "2001:db8:1:2:ffff::1")).status_code == 429
    fx.login_redirect_id(await authorize_from(harness, world, "2001:db8:1:3::1"))
    found = rows(harness.services.settings.data_dir, "SELECT DISTINCT client_ip FROM auth_requests")
    assert sorted(str(ip) for (ip,) in found) == ["2001:db8:1:2::/64", "2001:db8:1:3::/64"]


async def test_unanswered_prompt_none_requests_do_not_fill_the_cap(
    harness: Harness, world: World
) -> None:
    """`prompt=none` answers at once; a request it cannot finish is over, not pending."""
    async with browser_at(harness, "192.0.2.9") as browser:
        params = fx.authorize_params(world.clients["basic"]) | {"prompt": "none"}
        for _ in range(CAP + 2):
            silent = await browser.get(paths.AUTHORIZE, params=params)
            assert fx.query_of(silent.headers["location"])["error"] == "login_required"
    fx.login_redirect_id(await authorize_from(harness, world, "192.0.2.9"))
