"""Upgrading: a store of an old release, started by today's `zitui serve`, is backed up,
migrated, and its users sign in as before."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import httpx2
from joserfc import jwt
from joserfc.jwk import KeySet

from tests import old_store
from tests.conftest import make_settings
from tests.hosted_sign_in import browser, code_flow
from tests.processes import free_port, reaped, spawn, wait_healthy, zitui_env
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.server import paths
from zitui.store.revisions import head_revision


def _serve_once(data: Path, check: object = None) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with reaped(spawn(["serve", "--listen", f"127.0.0.1:{port}"], zitui_env(data))) as server:
        wait_healthy(url, server)
        if callable(check):
            check(url)
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0


def _sign_in_to_the_old_app(url: str, store: old_store.OldStore) -> None:
    with browser(url) as client:
        answer = code_flow(
            client,
            client_id=old_store.CLIENT_ID,
            redirect_uri=old_store.CALLBACK,
            login_name=f"alice@{old_store.DOMAIN}",
            password=old_store.PASSWORD,
        )
        assert answer["state"] == "upgrade-state"
        tokens = httpx2.post(
            url + paths.TOKEN,
            data={
                "grant_type": "authorization_code",
                "code": answer["code"],
                "redirect_uri": old_store.CALLBACK,
            },
            auth=(old_store.CLIENT_ID, old_store.CLIENT_SECRET),
        )
        assert tokens.status_code == 200, tokens.text
        keys = KeySet.import_key_set(httpx2.get(url + paths.KEYS).json())
        claims = jwt.decode(tokens.json()["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["sub"] == store.user_id
    assert claims["nonce"] == "upgrade-nonce"
    assert old_store.CLIENT_ID in (
        claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    )


async def test_an_old_release_store_is_backed_up_migrated_and_signs_in(tmp_path: Path):
    data = tmp_path / "data"
    store = old_store.create_old_store(data)

    _serve_once(data, lambda url: _sign_in_to_the_old_app(url, store))

    (backup,) = (data / "backups").glob("pre-*.db")
    assert backup.name.startswith(f"pre-{head_revision()}-")
    assert backup.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (old_store.OLD_REVISION,)
        ]
        assert conn.execute("SELECT id FROM users ORDER BY id").fetchall() == [
            (store.admin_id,),
            (store.user_id,),
        ]
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]

    # The old administrator keeps the console; a start with nothing to migrate copies nothing.
    services, _ = await open_services(make_settings(data), first_run=False)
    try:
        login = await services.auth.login_operator(
            f"admin@{old_store.DOMAIN}", old_store.PASSWORD, RequestMeta(origin="test")
        )
        assert login.user.id == store.admin_id
    finally:
        await services.close()
    _serve_once(data)
    assert list((data / "backups").glob("pre-*.db")) == [backup]
