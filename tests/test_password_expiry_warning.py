"""The password age policy's `expire_warn_days`: a sign-in within the window goes on as ever,
and the hosted signed-in page and the console's sign-in say how many days are left."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests import tui_fixtures as tui
from tests.conftest import ADMIN_PASSWORD
from tests.test_login_pages import _admin, add_user, login_client, read, run, sign_in
from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.password_expiry import warning_days
from zitui.core.policies import PasswordAgePolicy
from zitui.core.services import Services
from zitui.screens import make_app
from zitui.screens.home import HomeScreen
from zitui.server import paths

CHANGED = datetime(2026, 1, 1, tzinfo=UTC)
NINETY_WARN_SEVEN = {"max_age_days": 90, "expire_warn_days": 7}


def test_the_warning_window() -> None:
    policy = PasswordAgePolicy(max_age_days=90, expire_warn_days=7)

    def at(days: float) -> int | None:
        return warning_days(policy, CHANGED, now=CHANGED + timedelta(days=days))

    assert [at(80), at(83), at(83.5), at(89.9), at(90), at(120)] == [None, 7, 7, 1, None, None]
    assert warning_days(PasswordAgePolicy(max_age_days=90), CHANGED, now=CHANGED) is None
    never = PasswordAgePolicy(expire_warn_days=7)
    assert warning_days(never, CHANGED, now=CHANGED + timedelta(days=1000)) is None


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


def set_age_policy(client: TestClient, changes: dict[str, int]) -> None:
    async def change(services: Services) -> None:
        await services.policies.set(await _admin(services), "password_age", changes)

    run(client, change)


def test_the_signed_in_page_tells_the_days_left(client: TestClient, clock: FixedClock) -> None:
    add_user(client, "erin")
    set_age_policy(client, NINETY_WARN_SEVEN)
    clock.advance(timedelta(days=80))
    done = sign_in(client, "erin")
    assert (done.status_code, done.headers["location"]) == (303, paths.LOGIN_SIGNED_IN)
    assert "password-expiry-1" not in read(client.get(paths.LOGIN_SIGNED_IN).text).ids

    clock.advance(timedelta(days=5))
    client.cookies.clear()
    done = sign_in(client, "erin")
    assert (done.status_code, done.headers["location"]) == (303, paths.LOGIN_SIGNED_IN)
    page = read(client.get(paths.LOGIN_SIGNED_IN).text)
    assert page.ids["password-expiry-1"] == (
        "The password of this account expires in 5 day(s); change it before then."
    )


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Services]:
    async with tui.opened_store(tmp_path / "console") as (services, _):
        yield services


async def test_the_console_sign_in_goes_on_with_a_notice(console: Services) -> None:
    # A password set just now, under a one-day maximum: it expires within the window.
    changes = {"max_age_days": 1, "expire_warn_days": 1}
    await console.policies.set(console.system_context(), "password_age", changes)
    app = make_app(console)
    async with app.run_test(size=tui.SIZE) as pilot:
        await tui.sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        warnings = [n for n in tui.notifications(app) if n.title == "Password expiry"]
        assert [n.message for n in warnings] == [
            "Your password expires in 1 day(s); change it before then."
        ]


async def test_no_notice_outside_the_window(console: Services) -> None:
    changes = {"max_age_days": 30, "expire_warn_days": 7}
    await console.policies.set(console.system_context(), "password_age", changes)
    app = make_app(console)
    async with app.run_test(size=tui.SIZE) as pilot:
        await tui.sign_in(pilot, "admin", ADMIN_PASSWORD)
        assert isinstance(app.screen, HomeScreen)
        assert [n for n in tui.notifications(app) if n.title == "Password expiry"] == []
