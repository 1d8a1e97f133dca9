"""Policies on PostgreSQL: override, reset, and the login name read from the JSON setting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.core.users import NewHumanUser


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


async def test_policies_and_login_names_on_postgres(postgres_url: str, tmp_path: Path, clock):
    services, _ = await open_services(
        make_settings(tmp_path, database_url=postgres_url), clock=clock
    )
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        org = await services.orgs.create_org(admin, "Acme")
        user = await services.users.create_human_user(
            admin,
            org.id,
            NewHumanUser(username="bob@example.com", first_name="B", last_name="B"),
        )
        assert user.login_name == "bob@example.com"
        await services.policies.set(admin, "domain", {"user_login_must_be_domain": True}, org.id)
        suffixed = (await services.users.get_user(admin, user.id)).login_name
        assert suffixed == f"bob@example.com@{org.primary_domain}"
        await services.policies.reset(admin, "domain", org.id)
        assert (await services.users.get_user(admin, user.id)).login_name == "bob@example.com"
        state = await services.policies.set(
            admin, "login", {"second_factors": ["otp"], "password_check_lifetime": "1h"}, org.id
        )
        assert (await services.policies.get(admin, "login", org.id)).effective == state.effective
    finally:
        await services.close()
