"""SSH keys on PostgreSQL: the migration's table, one key per user (the refused second insert
leaves the transaction usable), and a key sign-in's bookkeeping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest

from tests.conftest import make_settings
from tests.postgres import temporary_postgres
from zitui.core.context import RequestMeta
from zitui.core.services import Services, open_services
from zitui.core.users import NewHumanUser
from zitui.errors import AlreadyExists
from zitui.records import Scope


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


@pytest.fixture
async def services(postgres_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    services, _ = await open_services(make_settings(tmp_path, database_url=postgres_url))
    try:
        yield services
    finally:
        await services.close()


async def test_keys_on_postgres(services: Services) -> None:
    system = services.system_context()
    org = await services.orgs.create_org(system, "Acme")
    ann = await services.users.create_human_user(
        system, org.id, NewHumanUser("ann", "Ann", "Able", password="Ann-Pass-1!")
    )
    bob = await services.users.create_human_user(
        system, org.id, NewHumanUser("bob", "Bob", "Brown", password="Bob-Pass-1!")
    )
    key = asyncssh.generate_private_key("ssh-ed25519", comment="ann")
    line = bytes(key.export_public_key("openssh")).decode().strip()
    fingerprint = str(key.get_fingerprint("sha256"))
    await services.ssh_keys.add_key(system, ann.id, line)
    with pytest.raises(AlreadyExists):
        await services.ssh_keys.add_key(system, bob.id, line)

    await services.memberships.add_member(system, ann.id, Scope.ORG, org.id, ["ORG_OWNER"])
    login = await services.console.sign_in_with_key("ann", fingerprint, RequestMeta(origin="ssh"))
    token = await services.console.hand_off(login)
    redeemed = await services.console.redeem(token, RequestMeta(origin="ssh"))

    assert redeemed.user.id == ann.id
    [stored] = await services.ssh_keys.list_keys(system, ann.id)
    assert stored.fingerprint == fingerprint and stored.last_used_at is not None
