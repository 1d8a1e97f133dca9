"""`zitui backup` and `zitui restore` on PostgreSQL: pg_dump in one snapshot, pg_restore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from tests.processes import run, zitui_env
from zitui.core.backups import restore_backup, take_backup
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.core.users import NewHumanUser
from zitui.errors import PreconditionFailed, WrongMasterKey
from zitui.store.pg_backup import inspect_dump
from zitui.store.revisions import head_revision

PASSWORD = "Pg-Backup-Pass-1!"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


async def _new_database(url: str, name: str) -> str:
    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return parsed.set(database=name).render_as_string(hide_password=False)


async def test_a_dump_restores_into_an_empty_database_and_signs_in(
    postgres_url: str, tmp_path: Path
):
    source = await _new_database(postgres_url, "source")
    settings = make_settings(tmp_path / "source", database_url=source)
    services, _ = await open_services(settings)
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        org_id = (await services.instance.get_instance(admin)).default_org_id
        user = await services.users.create_human_user(
            admin,
            org_id,
            NewHumanUser(username="pat", first_name="Pat", last_name="Gres", password=PASSWORD),
        )
    finally:
        await services.close()

    target = tmp_path / "instance.dump"
    done = run(["backup", str(target)], zitui_env(tmp_path / "source", ZITUI_DATABASE_URL=source))
    assert done.returncode == 0, done.stderr
    assert f"zitui: backup written to {target}" in done.stdout
    assert "checked: integrity ok, schema and rows as in the store" in done.stdout
    assert "zitui: backing up: 100%" in done.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    contents = await inspect_dump(target)
    assert contents.revision == head_revision()
    assert contents.counts["users"] == 2 and contents.counts["instances"] == 1

    restored = await _new_database(postgres_url, "restored")
    into = make_settings(tmp_path / "restored", database_url=restored)
    result = await restore_backup(into, target)
    assert result.contents == contents
    services, _ = await open_services(into, first_run=False)
    try:
        signed_in = await services.auth.login_operator(
            "admin", ADMIN_PASSWORD, RequestMeta(origin="test")
        )
        assert signed_in.user.username == "admin"
        async with services.store.reader() as tx:
            assert await tx.users.find(user.id) is not None
    finally:
        await services.close()

    with pytest.raises(PreconditionFailed) as refused:
        await restore_backup(into, target)
    assert refused.value.code == "restore.not_empty"


async def test_a_wrong_key_restores_nothing(postgres_url: str, tmp_path: Path):
    source = await _new_database(postgres_url, "keyed")
    settings = make_settings(tmp_path / "keyed", database_url=source)
    services, _ = await open_services(settings)
    await services.close()
    target = tmp_path / "keyed.dump"
    await take_backup(settings, target)

    empty = await _new_database(postgres_url, "still_empty")
    wrong = make_settings(tmp_path / "x", database_url=empty, masterkey="w" * 40)
    with pytest.raises(WrongMasterKey) as refused:
        await restore_backup(wrong, target)
    assert refused.value.code == "restore.wrong_key"
    parsed = make_url(empty)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname='public'") == 0
    finally:
        await conn.close()
