"""/metrics and /readyz in one process: what is counted, who may read it, and readiness."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests import mail_fixtures
from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.hosted_sign_in import password_sign_in
from tests.mail_fixtures import MailServer, use_smtp
from tests.server_fixtures import BROWSER_ACCEPT
from tests.test_core_outbox import queue, sender
from zitui import metrics
from zitui.config import Settings, load_settings
from zitui.core.audit import record
from zitui.core.clock import FixedClock
from zitui.core.context import Context, RequestMeta
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher
from zitui.core.services import Services
from zitui.errors import InvalidArgument
from zitui.records import Event
from zitui.server import paths
from zitui.server.app import create_app
from zitui.store.failures import translate_database_error

TOKEN = "scrape-token-0123456789abcdef"
mail_server = mail_fixtures.mail_server
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels, through prometheus_client's own parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client: TestClient) -> Samples:
    response = client.get(paths.METRICS, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == metrics.CONTENT_TYPE
    return parse(response.text)


def services_of(client: TestClient) -> Services:
    return client.app_state["services"]  # type: ignore[no-any-return]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data", metrics_token=TOKEN)
    with TestClient(create_app(settings), headers={"Accept": BROWSER_ACCEPT}) as client:
        yield client


# Who may read /metrics.


def test_metrics_answer_404_on_the_public_listener_without_a_token(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get(paths.METRICS).status_code == 404
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get(paths.METRICS, headers=bearer).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789abcdef", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"],
)
def test_metrics_need_the_exact_bearer_token(client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(paths.METRICS, headers={**headers, "Accept": "application/json"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "zitui_" not in response.text


def test_metrics_with_the_token_are_prometheus_text(client: TestClient) -> None:
    samples = scrape(client)
    assert value(samples, "zitui_outbox_messages", state="pending") == 0
    assert ("zitui_outbox_messages", frozenset({("state", "failed")})) in samples


def test_a_short_token_or_a_bad_metrics_address_is_refused() -> None:
    with pytest.raises(InvalidArgument) as short:
        load_settings(environ={"ZITUI_METRICS_TOKEN": "short"})
    assert (short.value.code, short.value.field) == ("config.metrics_token", "metrics_token")
    with pytest.raises(InvalidArgument) as bad:
        load_settings(environ={"ZITUI_METRICS_LISTEN": "no-port"})
    assert bad.value.field == "listen"
    with pytest.raises(InvalidArgument) as same:
        load_settings(
            environ={"ZITUI_LISTEN": "127.0.0.1:9000", "ZITUI_METRICS_LISTEN": "127.0.0.1:9000"}
        )
    assert same.value.code == "config.metrics_listen"


# What is counted.


def test_sign_ins_and_failures_are_counted_by_method_and_reason(client: TestClient) -> None:
    before = scrape(client)
    signed = password_sign_in(client, "admin", ADMIN_PASSWORD)
    assert "You are signed in" in signed.text  # the client follows the redirect there
    client.cookies.clear()
    wrong = password_sign_in(client, "admin", "not-the-password")
    assert wrong.status_code == 401
    client.cookies.clear()
    unknown = password_sign_in(client, "nobody-here", "whatever-password")
    assert unknown.status_code == 401
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("zitui_sign_ins_total", method="password") == 1
    assert delta("zitui_sign_in_failures_total", reason="wrong_password") == 1
    assert delta("zitui_sign_in_failures_total", reason="unknown_user") == 1


def test_requests_are_timed_under_their_route_template(client: TestClient) -> None:
    before = scrape(client)
    for _ in range(3):
        assert client.get(paths.DISCOVERY).status_code == 200
    client.get(f"{paths.LOGIN_BRANDING}/instance/style.css")
    client.get("/no/such/page-123")
    after = scrape(client)
    count = "zitui_http_request_duration_seconds_count"
    discovery = {"route": paths.DISCOVERY, "method": "GET", "status": "200"}
    assert value(after, count, **discovery) - value(before, count, **discovery) == 3
    assert value(after, "zitui_http_request_duration_seconds_bucket", le="+Inf", **discovery) >= 3
    unmatched = {"route": metrics.UNMATCHED, "method": "GET", "status": "404"}
    assert value(after, count, **unmatched) - value(before, count, **unmatched) == 1
    routes = {dict(labels).get("route") for name, labels in after if name == count}
    assert not any("page-123" in str(route) or "/instance/" in str(route) for route in routes)
    assert any(str(route).startswith(paths.LOGIN_BRANDING + "/{") for route in routes)


def test_a_token_issued_is_counted_by_grant_type(client: TestClient) -> None:
    async def machine_secret(services: Services) -> tuple[str, str]:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        org_id = (await services.instance.get_instance(admin)).default_org_id
        robot = await services.machines.create_machine_user(admin, org_id, "robot", "Robot")
        return await services.machines.generate_machine_secret(admin, robot.id)

    assert client.portal is not None
    client_id, secret = client.portal.call(machine_secret, services_of(client))
    before = scrape(client)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    form = {"grant_type": "client_credentials", "scope": "openid"}
    issued = client.post(paths.TOKEN, data=form, headers={"Authorization": f"Basic {basic}"})
    assert issued.status_code == 200, issued.text
    refused = client.post(paths.TOKEN, data=form, headers={"Authorization": "Basic eDp5"})
    assert refused.status_code == 401
    after = scrape(client)
    grant = {"grant_type": "client_credentials"}
    assert (
        value(after, "zitui_tokens_issued_total", **grant)
        - value(before, "zitui_tokens_issued_total", **grant)
        == 1
    )


def test_the_outbox_figures_are_read_from_the_store(client: TestClient) -> None:
    async def queue_and_fail(services: Services) -> None:
        system = services.system_context()
        await services.notifications.send_test_mail(system, "ops@example.com")
        failed = await services.notifications.send_test_mail(system, "dev@example.com")
        async with services.store.transaction() as tx:
            await tx.outbox.mark_failed(failed, at=services.clock.now(), error="refused")

    assert client.portal is not None
    client.portal.call(queue_and_fail, services_of(client))
    samples = scrape(client)
    assert value(samples, "zitui_outbox_messages", state="pending") == 1
    assert value(samples, "zitui_outbox_messages", state="failed") == 1


def counter(name: str, **labels: str) -> float:
    return value(parse(metrics.exposition().decode()), name, **labels)


async def test_a_check_counts_only_once_its_transaction_commits(services: Services) -> None:
    ctx = services.system_context()
    name, labels = "zitui_sign_ins_total", {"method": "passkey"}
    start = counter(name, **labels)

    async def check(tx: Any) -> Event:
        return await record(
            tx,
            ctx,
            "user.human.passwordless.check.succeeded",
            aggregate=("user", "u1"),
            org_id=None,
        )

    with pytest.raises(RuntimeError):
        async with services.store.transaction() as tx:
            await check(tx)
            assert counter(name, **labels) == start  # not before the commit
            raise RuntimeError("rolled back")
    assert counter(name, **labels) == start
    async with services.store.transaction() as tx:
        await check(tx)
        assert counter(name, **labels) == start
    assert counter(name, **labels) == start + 1
    # Inside atomic(): counted when the whole block commits, not at its savepoint.
    async with services.store.atomic():
        async with services.store.transaction() as tx:
            await check(tx)
        assert counter(name, **labels) == start + 1
    assert counter(name, **labels) == start + 2


async def test_the_hash_queue_shows_the_hashes_waiting_for_a_slot() -> None:
    hasher = PasswordHasher(Argon2Profile(memory_kib=1024, time_cost=1), max_concurrency=1)
    name = "zitui_password_hash_queue"
    async with hasher._slot():
        waiting = asyncio.create_task(hasher.hash("a password"))
        while hasher.waiting == 0:
            await asyncio.sleep(0)  # let the task reach the slot
        assert counter(name) == 1
    await waiting
    assert counter(name) == 0


async def test_failed_deliveries_are_counted_by_channel_and_outcome(
    services: Services, admin: Context, mail_server: MailServer, clock: FixedClock
) -> None:
    await use_smtp(services, admin, mail_server)  # its server is not started: unreachable
    delivering = sender(services, max_attempts=2, retry_s=30, retry_max_s=30)
    retry = {"channel": "email", "outcome": "retry"}
    failed = {"channel": "email", "outcome": "failed"}
    name = "zitui_notification_delivery_failures_total"
    start = (counter(name, **retry), counter(name, **failed))
    await queue(services)
    assert await delivering.deliver_due() == 1
    assert (counter(name, **retry), counter(name, **failed)) == (start[0] + 1, start[1])
    clock.advance(timedelta(seconds=30))
    assert await delivering.deliver_due() == 1
    assert (counter(name, **retry), counter(name, **failed)) == (start[0] + 1, start[1] + 1)


def test_store_errors_are_counted_by_code() -> None:
    before = counter("zitui_store_errors_total", code="store.unavailable")
    error = translate_database_error(sqlite3.DatabaseError("file is not a database"))
    assert error.code == "store.unavailable"
    assert counter("zitui_store_errors_total", code="store.unavailable") == before + 1


def test_every_family_is_listed_before_its_first_count(settings: Settings) -> None:
    names = {
        family.name for family in text_string_to_metric_families(metrics.exposition().decode())
    }
    assert {
        "zitui_sign_ins",
        "zitui_sign_in_failures",
        "zitui_factor_checks",
        "zitui_tokens_issued",
        "zitui_http_request_duration_seconds",
        "zitui_password_hash_queue",
        "zitui_notification_delivery_failures",
        "zitui_store_errors",
    } <= names


# Readiness.


def test_readyz_says_ready_when_the_store_is_current(client: TestClient) -> None:
    response = client.get(paths.READYZ)
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
    assert response.headers["cache-control"] == "no-store"


def test_readyz_says_migrations_pending_for_an_older_schema(client: TestClient) -> None:
    database = services_of(client).settings.data_dir / "zitui.db"
    with sqlite3.connect(database) as conn:  # another process went back a revision
        conn.execute("UPDATE alembic_version SET version_num = '0015_account'")
    response = client.get(paths.READYZ)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "migrations_pending"}
    assert client.get(paths.HEALTHZ).status_code == 200  # alive all the same


def test_readyz_says_store_unavailable_when_the_database_is_destroyed(
    client: TestClient,
) -> None:
    services = services_of(client)
    assert client.portal is not None
    client.portal.call(services.store.close)
    data_dir = services.settings.data_dir
    for leftover in data_dir.glob("zitui.db-*"):
        leftover.unlink()
    (data_dir / "zitui.db").write_bytes(b"this is not a database" * 100)
    response = client.get(paths.READYZ)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "store_unavailable"}
