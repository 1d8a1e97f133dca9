"""First run: exactly one instance, organisation and administrator, and only once."""

from __future__ import annotations

from pathlib import Path

import pytest

import zitui.core.setup as first_run
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.dbfile import counts, rows
from zitui.core.clock import FixedClock
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.errors import InvalidArgument, PermissionDenied


async def test_first_run_creates_one_instance_org_and_admin(tmp_path: Path, clock: FixedClock):
    settings = make_settings(tmp_path)
    services, result = await open_services(settings, clock=clock)
    await services.close()

    assert result.created
    assert result.admin_login_name == "admin@zitui.127.0.0.1"
    found = counts(tmp_path)
    assert found["instances"] == 1
    assert found["orgs"] == 1
    assert found["users"] == 1
    assert found["memberships"] == 1
    assert found["signing_keys"] == 1
    assert found["policies"] == 7
    assert rows(tmp_path, "SELECT roles, scope FROM memberships") == [('["IAM_OWNER"]', "instance")]
    assert rows(tmp_path, "SELECT event_type FROM events") == [("instance.set_up",)]


async def test_second_run_changes_nothing(tmp_path: Path, clock: FixedClock):
    settings = make_settings(tmp_path)
    services, _ = await open_services(settings, clock=clock)
    await services.close()
    before = counts(tmp_path)
    snapshot = rows(tmp_path, "SELECT id, name FROM orgs")

    services, result = await open_services(settings, clock=clock)
    await services.close()

    assert not result.created
    assert result.generated_password == ""
    assert counts(tmp_path) == before
    assert rows(tmp_path, "SELECT id, name FROM orgs") == snapshot


async def test_generated_password_is_returned_once_and_must_be_changed(
    tmp_path: Path, clock: FixedClock
):
    settings = make_settings(tmp_path, admin_password="")
    services, result = await open_services(settings, clock=clock)
    try:
        assert len(result.generated_password) >= 16
        login = await services.auth.login_operator(
            "admin", result.generated_password, RequestMeta(origin="test")
        )
        assert login.password_change_required
        await services.users.change_own_password(
            login.context, result.generated_password, "Brand-New-Pass-2"
        )
        again = await services.auth.login_operator(
            "admin", "Brand-New-Pass-2", RequestMeta(origin="test")
        )
        assert not again.password_change_required
    finally:
        await services.close()


async def test_interrupted_first_run_completes_on_next_start(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
):
    settings = make_settings(tmp_path)
    real_grant = first_run.grant

    async def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C half-way: instance, org and admin already inserted

    monkeypatch.setattr(first_run, "grant", interrupted)
    with pytest.raises(KeyboardInterrupt):
        await open_services(settings, clock=clock)
    assert counts(tmp_path)["instances"] == 0
    assert counts(tmp_path)["users"] == 0

    monkeypatch.setattr(first_run, "grant", real_grant)
    services, result = await open_services(settings, clock=clock)
    try:
        assert result.created
        assert counts(tmp_path)["instances"] == 1
        login = await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())
        assert login.context.actor is not None
        assert login.context.actor.roles == ["IAM_OWNER"]
    finally:
        await services.close()


async def test_weak_admin_password_is_refused_before_anything_is_written(
    tmp_path: Path, clock: FixedClock
):
    settings = make_settings(tmp_path, admin_password="short")
    with pytest.raises(InvalidArgument) as caught:
        await open_services(settings, clock=clock)
    assert caught.value.field == "admin_password"
    assert counts(tmp_path)["instances"] == 0


async def test_admin_domain_follows_the_external_url(tmp_path: Path, clock: FixedClock):
    settings = make_settings(tmp_path, external_url="https://id.example.com")
    services, result = await open_services(settings, clock=clock)
    await services.close()
    assert result.admin_login_name == "admin@zitui.id.example.com"


async def test_non_manager_gets_no_operator_session(services, admin):
    from zitui.core.users import NewHumanUser

    instance = await services.instance.get_instance(admin)
    await services.users.create_human_user(
        admin,
        instance.default_org_id,
        NewHumanUser(username="alice", first_name="Alice", last_name="A", password="Alice-Pass-1"),
    )
    with pytest.raises(PermissionDenied) as caught:
        await services.auth.login_operator("alice", "Alice-Pass-1", RequestMeta())
    assert caught.value.code == "auth.not_manager"
