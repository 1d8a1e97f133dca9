"""Custom texts on PostgreSQL: the same reads and writes as on SQLite, the organisation's text
over the instance's, and none left behind by a removed organisation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from zitui.core.context import RequestMeta
from zitui.core.services import open_services

TITLE = "login.name.title"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


async def test_custom_texts_on_postgres(postgres_url: str, tmp_path: Path, clock):
    services, _ = await open_services(
        make_settings(tmp_path, database_url=postgres_url), clock=clock
    )
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        acme = await services.orgs.create_org(admin, "Acme")
        texts = services.texts
        assert await texts.set(admin, "en", TITLE, "Welcome")
        assert await texts.set(admin, "en", TITLE, "Welcome to Acme", acme.id)
        assert not await texts.set(admin, "en", TITLE, "Welcome to Acme", acme.id)
        assert await texts.set(admin, "en", "login.name.lead", "Sign in, please.")
        assert await texts.overrides(acme.id, "en") == {
            TITLE: "Welcome to Acme",
            "login.name.lead": "Sign in, please.",
        }
        assert await texts.overrides(None, "en") == {
            TITLE: "Welcome",
            "login.name.lead": "Sign in, please.",
        }
        [entry] = [e for e in await texts.list(admin, "en", acme.id, "welcome") if e.key == TITLE]
        assert (entry.instance_override, entry.org_override) == ("Welcome", "Welcome to Acme")
        assert await texts.reset(admin, "en", TITLE, acme.id)
        assert not await texts.reset(admin, "en", TITLE, acme.id)
        assert (await texts.overrides(acme.id, "en"))[TITLE] == "Welcome"
        await texts.set(admin, "de", TITLE, "Willkommen bei Acme", acme.id)
        await services.orgs.remove_org(admin, acme.id)
        async with services.store.reader() as tx:
            assert await tx.custom_texts.own(acme.id, "de") == {}
    finally:
        await services.close()
