"""The hosted password page under throttling: 429 with Retry-After, and no hash computed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD
from tests.test_login_pages import login_client, services_of, sign_in
from zitui.config import Settings
from zitui.core.clock import FixedClock


@pytest.fixture
def client(settings: Settings, clock: FixedClock, monkeypatch: Any) -> Iterator[TestClient]:
    with login_client(settings, clock, monkeypatch) as client:
        yield client


def test_the_password_page_answers_429_with_retry_after(
    client: TestClient, clock: FixedClock, monkeypatch: Any
) -> None:
    hashes: list[str | None] = []
    hasher = services_of(client).hasher
    real_verify = hasher.verify

    async def counting_verify(encoded: str | None, password: str) -> bool:
        hashes.append(encoded)
        return await real_verify(encoded, password)

    monkeypatch.setattr(hasher, "verify", counting_verify)
    for _ in range(10):
        assert sign_in(client, "admin", "Not-The-Pass-1!").status_code == 401
    assert len(hashes) == 10

    refused = sign_in(client, "admin", ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert "Too many attempts" in refused.text
    assert "too many sign-in attempts" in refused.text
    assert len(hashes) == 10  # refused before the hash

    clock.advance(timedelta(seconds=1))
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 303
