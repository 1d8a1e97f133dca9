"""A store with the schema of an old zitui, filled through plain SQL of that schema.

There are no release tags yet, so "the previous release" is the oldest migration that has
everything a sign-in into an application needs: `0002` (projects and apps). The rows are
written as that version wrote them, not through today's repositories, so the upgrade runs
every later migration over real data.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from tests.conftest import MASTERKEY
from zitui.core.crypto.masterkey import MasterKey
from zitui.core.crypto.passwords import Argon2Profile, PasswordHasher
from zitui.core.crypto.tokens import digest
from zitui.store.migrations import alembic_config

OLD_REVISION = "0002"
DOMAIN = "old.example"
PASSWORD = "Old-Release-Pass-1!"
CLIENT_ID = "old-portal-client"
CLIENT_SECRET = "old-portal-secret-0123456789abcdef"
CALLBACK = "https://portal.old.example/callback"
CREATED = "2026-01-15 08:00:00.000000"


@dataclass(frozen=True)
class OldStore:
    path: Path
    org_id: str = "old-org-1"
    user_id: str = "old-user-alice"
    admin_id: str = "old-user-admin"
    project_id: str = "old-project-1"
    app_id: str = "old-app-1"


def create_old_store(data_dir: Path, *, revision: str = OLD_REVISION) -> OldStore:
    """The data directory of an instance made by the old release: its database at
    `revision`, an organisation with its domain, an administrator (IAM_OWNER) and a user
    with argon2id hashes made by zitui's hasher, a project and a web app."""
    data_dir.mkdir(mode=0o700, parents=True)
    path = data_dir / "zitui.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
    engine.dispose()
    store = OldStore(path)
    _fill(store)
    path.chmod(0o600)
    return store


def _fill(store: OldStore) -> None:
    hasher = PasswordHasher(Argon2Profile(memory_kib=1024, time_cost=1), max_concurrency=1)
    # A loop of its own, on a thread: the calling test may be running one already.
    with ThreadPoolExecutor(1) as pool:
        password_hash = pool.submit(asyncio.run, hasher.hash(PASSWORD)).result()
    key_check = MasterKey(MASTERKEY).key_check()
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "INSERT INTO instances (id, name, domain, default_org_id, key_check, created_at, "
            "setup_completed_at) VALUES (?, 'OLD', ?, ?, ?, ?, ?)",
            ("old-instance", DOMAIN, store.org_id, key_check, CREATED, CREATED),
        )
        conn.execute(
            "INSERT INTO orgs (id, name, state, created_at, updated_at) "
            "VALUES (?, 'Old Org', 'active', ?, ?)",
            (store.org_id, CREATED, CREATED),
        )
        conn.execute(
            "INSERT INTO org_domains (domain, org_id, is_primary, is_verified, created_at) "
            "VALUES (?, ?, 1, 1, ?)",
            (DOMAIN, store.org_id, CREATED),
        )
        for user_id, username in ((store.admin_id, "admin"), (store.user_id, "alice")):
            _user(conn, store, user_id, username, password_hash)
        conn.execute(
            "INSERT INTO memberships (id, user_id, scope, scope_id, org_id, roles, created_at) "
            "VALUES ('old-membership-1', ?, 'instance', 'old-instance', ?, ?, ?)",
            (store.admin_id, store.org_id, json.dumps(["IAM_OWNER"]), CREATED),
        )
        conn.execute(
            "INSERT INTO projects (id, org_id, name, state, role_assertion, role_check, "
            "has_project_check, created_at, updated_at) "
            "VALUES (?, ?, 'Old Portal', 'active', 0, 0, 0, ?, ?)",
            (store.project_id, store.org_id, CREATED, CREATED),
        )
        _app(conn, store)


def _user(
    conn: sqlite3.Connection, store: OldStore, user_id: str, username: str, password_hash: str
) -> None:
    conn.execute(
        "INSERT INTO users (id, org_id, kind, username, state, first_name, last_name, nickname, "
        "display_name, gender, preferred_language, email, email_verified, phone, "
        "phone_verified, password_hash, password_change_required, password_changed_at, "
        "failed_password_attempts, created_at, updated_at) VALUES "
        "(?, ?, 'human', ?, 'active', ?, 'Old', '', ?, '', 'en', ?, 1, '', 0, ?, 0, ?, 0, ?, ?)",
        (
            user_id,
            store.org_id,
            username,
            username.title(),
            f"{username.title()} Old",
            f"{username}@{DOMAIN}",
            password_hash,
            CREATED,
            CREATED,
            CREATED,
        ),
    )


def _app(conn: sqlite3.Connection, store: OldStore) -> None:
    conn.execute(
        "INSERT INTO apps (id, project_id, org_id, name, state, app_type, client_id, "
        "client_secret_digest, auth_method, redirect_uris, post_logout_redirect_uris, "
        "response_types, grant_types, access_token_type, access_token_role_assertion, "
        "id_token_role_assertion, id_token_userinfo_assertion, clock_skew_s, dev_mode, "
        "additional_origins, created_at, updated_at) VALUES "
        "(?, ?, ?, 'portal', 'active', 'web', ?, ?, 'basic', ?, '[]', ?, ?, 'bearer', 0, 0, 0, "
        "0, 0, '[]', ?, ?)",
        (
            store.app_id,
            store.project_id,
            store.org_id,
            CLIENT_ID,
            digest(CLIENT_SECRET),
            json.dumps([CALLBACK]),
            json.dumps(["code"]),
            json.dumps(["authorization_code", "refresh_token"]),
            CREATED,
            CREATED,
        ),
    )
