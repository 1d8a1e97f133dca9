"""Shared fixtures: settings on a fresh data directory, a real store, a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from zitui.config import Settings
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.policies import LoginPolicy
from zitui.core.services import Services, open_services
from zitui.core.setup import SetupResult

ADMIN_PASSWORD = "Admin-Pass-1!"
MASTERKEY = "test-master-key-0123456789abcdefghij"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: a real store in `data_dir`, a cheap argon2 profile."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "masterkey": MASTERKEY,
        "admin_password": ADMIN_PASSWORD,
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "listen": "127.0.0.1:8080",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def no_mfa_prompt_by_default() -> Iterator[None]:
    """The suite's login policy defaults to no optional MFA set-up prompt
    (`mfa_init_skip_lifetime` 0), so flows written before second factors keep their steps;
    the product's default is ZITADEL's 720 h, and the MFA tests set the policy they test.
    Session-wide, so instances set up by module fixtures start the same way."""
    init = LoginPolicy.__init__
    names = [f.name for f in fields(LoginPolicy)]
    defaults = list(init.__defaults__ or ())
    at = len(defaults) - len(names) + names.index("mfa_init_skip_lifetime_s")
    defaults[at] = 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(init, "__defaults__", tuple(defaults))
        yield


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
async def opened(
    settings: Settings, clock: FixedClock
) -> AsyncIterator[tuple[Services, SetupResult]]:
    services, result = await open_services(settings, clock=clock)
    try:
        yield services, result
    finally:
        await services.close()


@pytest.fixture
def services(opened: tuple[Services, SetupResult]) -> Services:
    return opened[0]


@pytest.fixture
async def admin(services: Services) -> Context:
    """The first IAM_OWNER, signed in."""
    login = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta(origin="test"))
    return login.context
