"""Scanning queries run on the store's reader thread, so the event loop serves requests
while they run (`zitui start` shares one loop between the server and the TUI)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from sqlalchemy import event

from tests.oidc_fixtures import Harness
from zitui.core.context import Context
from zitui.core.events import EventQuery
from zitui.core.ids import new_id
from zitui.core.services import Services
from zitui.server import paths

MEMBERS = 100_000


@dataclass
class Statements:
    """Every statement SQLAlchemy sends, with the thread that sent it; the first one that
    matches `hold` waits on the thread that runs it until `release` is set."""

    loop_thread: threading.Thread = field(default_factory=threading.current_thread)
    hold: str = ""
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: threading.Event = field(default_factory=threading.Event)
    seen: list[tuple[str, str]] = field(default_factory=list)
    caught: bool = False

    def on_execute(self, loop: asyncio.AbstractEventLoop, sql: str) -> None:
        thread = threading.current_thread()
        self.seen.append((thread.name, sql))
        if not self.hold or self.hold not in sql or self.caught:
            return
        self.caught = True
        if thread is self.loop_thread:
            self.held.set()  # on the loop's thread: waiting would stop the loop for good
            return
        loop.call_soon_threadsafe(self.held.set)
        self.release.wait()

    def threads_of(self, fragment: str) -> set[str]:
        return {thread for thread, sql in self.seen if fragment in sql}


@pytest.fixture
async def statements(services: Services) -> AsyncIterator[Statements]:
    loop = asyncio.get_running_loop()
    watched = Statements()

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        watched.on_execute(loop, sql)

    engine = services.store.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield watched
    finally:
        watched.release.set()
        event.remove(engine, "before_cursor_execute", before)


async def _add_members(services: Services, admin: Context) -> None:
    """MEMBERS users in one bulk insert: member000000 … member099999."""
    assert admin.actor is not None
    template = await services.users.get_user(admin, admin.actor.user_id)
    members = [
        replace(
            template,
            id=new_id(),
            username=f"member{i:06d}",
            login_name=f"member{i:06d}",
            first_name="Member",
            last_name=str(i),
            display_name=f"Member {i}",
            email="",
        )
        for i in range(MEMBERS)
    ]
    async with services.store.transaction() as tx:
        await tx.users.insert_many(members)


async def test_requests_are_served_while_a_user_search_scans_100k_users(
    services: Services, admin: Context, statements: Statements
):
    await _add_members(services, admin)
    harness = Harness(services)
    statements.hold = "LIKE"  # the search's first statement waits until the requests are done
    search = asyncio.create_task(services.users.list_users(admin, search="member0999"))
    try:
        await statements.held.wait()
        health = await harness.http.get(paths.HEALTHZ)
        assert health.status_code == 200
        assert admin.actor is not None
        me = await services.users.get_user(admin, admin.actor.user_id)
        assert me.username == "admin"
        assert not search.done()  # the search was still running while both were answered
    finally:
        statements.release.set()
        await harness.http.aclose()
    page = await search
    assert page.total == 100  # member099900 … member099999
    assert [u.username for u in page.items[:2]] == ["member099900", "member099901"]
    assert statements.threads_of("LIKE") == {"zitui-reader_0"}


async def test_every_list_the_console_pages_through_runs_on_the_reader_thread(
    services: Services, admin: Context, statements: Statements
):
    assert admin.actor is not None
    org_id = admin.actor.org_id
    project = await services.projects.create_project(admin, org_id, "Shop")
    statements.seen.clear()
    await services.users.list_users(admin, search="a")
    await services.orgs.list_orgs(admin, search="a")
    await services.projects.list_projects(admin, search="s")
    await services.projects.list_project_roles(admin, project.id)
    await services.apps.list_apps(admin, project.id)
    await services.grants.list_project_grants(admin, project.id)
    await services.grants.list_granted_projects(admin, org_id)
    await services.grants.list_user_grants(admin, project_id=project.id)
    await services.events.list_events(admin, EventQuery(org_id=org_id))
    counts = [thread for thread, sql in statements.seen if "count(*)" in sql and "(SELECT" in sql]
    assert len(counts) == 9
    assert set(counts) == {"zitui-reader_0"}


async def test_a_scan_inside_an_atomic_block_sees_its_pending_changes(
    services: Services, admin: Context
):
    async with services.store.atomic():
        await services.orgs.create_org(admin, "Pending")
        async with services.store.scan() as tx:
            found, total = await tx.orgs.list(org_ids=None, search="Pending", offset=0, limit=5)
    assert total == 1 and [o.name for o in found] == ["Pending"]


async def test_a_cancelled_scan_leaves_the_reader_thread_usable(
    services: Services, admin: Context, statements: Statements
):
    statements.hold = "LIKE"
    search = asyncio.create_task(services.users.list_users(admin, search="adm"))
    await statements.held.wait()
    search.cancel()
    statements.release.set()
    with pytest.raises(asyncio.CancelledError):
        await search
    page = await services.users.list_users(admin, search="adm")
    assert [u.username for u in page.items] == ["admin"]


async def test_a_store_closed_and_used_again_scans_on_a_new_thread(
    services: Services, admin: Context
):
    await services.users.list_users(admin)
    await services.store.close()
    page = await services.users.list_users(admin, search="adm")
    assert [u.username for u in page.items] == ["admin"]
    await services.store.close()  # and closing twice is harmless
