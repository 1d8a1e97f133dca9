"""The same core on PostgreSQL (`ZITUI_DATABASE_URL`): no SQLite-only SQL anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from tests.conftest import ADMIN_PASSWORD, make_settings
from tests.postgres import temporary_postgres
from zitui.core.context import RequestMeta
from zitui.core.services import open_services
from zitui.core.users import NewHumanUser
from zitui.errors import AlreadyExists, PermissionDenied, Unauthenticated, WrongMasterKey
from zitui.records import Scope
from zitui.store import EventFilter


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


async def test_first_run_commands_and_queries_work_on_postgres(
    postgres_url: str, tmp_path: Path, clock
):
    settings = make_settings(tmp_path, database_url=postgres_url)
    services, result = await open_services(settings, clock=clock)
    try:
        assert result.created

        def diff(sync_conn):
            return compare_metadata(MigrationContext.configure(sync_conn), SQLModel.metadata)

        assert await services.store.run_sync(diff) == []

        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        org = await services.orgs.create_org(admin, "Acme")
        with pytest.raises(AlreadyExists):
            await services.orgs.create_org(admin, "ACME")
        # The transaction after a refused insert is still usable (savepoints on PostgreSQL).
        user = await services.users.create_human_user(
            admin,
            org.id,
            NewHumanUser(
                username="ann_1",
                first_name="Ann",
                last_name="Lee",
                email="ann@example.com",
                email_verified=True,
                password="Ann-Pass-123",
            ),
        )
        with pytest.raises(AlreadyExists):
            await services.users.create_human_user(
                admin, org.id, NewHumanUser(username="ANN_1", first_name="A", last_name="L")
            )
        found = await services.users.list_users(admin, search="ann_")
        assert [u.login_name for u in found.items] == ["ann_1@acme.127.0.0.1"]
        assert (await services.users.list_users(admin, search="%")).total == 0

        await services.memberships.add_member(admin, user.id, Scope.ORG, org.id, ["ORG_OWNER"])
        owner = (
            await services.auth.login_operator("ann@example.com", "Ann-Pass-123", RequestMeta())
        ).context
        assert [o.name for o in (await services.orgs.list_orgs(owner)).items] == ["Acme"]
        default_org_id = (await services.instance.get_instance(admin)).default_org_id
        with pytest.raises(PermissionDenied):
            await services.orgs.get_org(owner, default_org_id)
        with pytest.raises(Unauthenticated):
            await services.auth.login_operator("ann_1@acme.127.0.0.1", "wrong", RequestMeta())

        async with services.store.reader() as tx:
            events, total = await tx.events.list(
                EventFilter(org_ids=frozenset({org.id})), offset=0, limit=50
            )
        assert total == len(events) == 5
        assert events[0].event_type == "user.human.password.check.failed"
    finally:
        await services.close()

    again, second = await open_services(settings, clock=clock)
    await again.close()
    assert not second.created
    with pytest.raises(WrongMasterKey):
        await open_services(
            make_settings(
                tmp_path / "other",
                database_url=postgres_url,
                masterkey="another-key-0123456789abcdefghijklmn",
            )
        )


async def test_admin_domain_commands_work_on_postgres(postgres_url: str, tmp_path: Path, clock):
    """Domains, user lifecycle, machine credentials, managers, removal and SMTP."""
    from datetime import timedelta

    from zitui.core.crypto.tokens import digest
    from zitui.core.smtp import SmtpSettings
    from zitui.core.users import ProfileChange
    from zitui.errors import PreconditionFailed
    from zitui.records import UserState

    services, _ = await open_services(
        make_settings(tmp_path, database_url=postgres_url), clock=clock
    )
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        instance = await services.instance.get_instance(admin)
        org = await services.orgs.create_org(admin, "Pg Domains")
        await services.orgs.add_domain(admin, org.id, "pg.example")
        await services.orgs.generate_domain_validation(admin, org.id, "pg.example", "dns")
        await services.orgs.verify_domain(admin, org.id, "pg.example")
        await services.orgs.set_primary_domain(admin, org.id, "pg.example")
        user = await services.users.create_human_user(
            admin,
            org.id,
            NewHumanUser(username="pia", first_name="Pia", last_name="Lu", password="Pia-Pass-123"),
        )
        await services.users.update_profile(admin, user.id, ProfileChange(nickname="P"))
        await services.users.change_username(admin, user.id, "Pia")
        found = await services.users.list_users(admin, search="PIA@PG.EXAMPLE")
        assert [u.login_name for u in found.items] == ["Pia@pg.example"]
        await services.users.lock_user(admin, user.id)
        assert (await services.users.unlock_user(admin, user.id)).state is UserState.ACTIVE

        robot = await services.machines.create_machine_user(admin, org.id, "pg-bot", "Bot")
        key, _ = await services.machines.add_machine_key(
            admin, robot.id, expires_at=clock.now() + timedelta(days=1)
        )
        _, token = await services.machines.add_personal_access_token(admin, robot.id)
        client_id, secret = await services.machines.generate_machine_secret(admin, robot.id)
        async with services.store.reader() as tx:
            assert (await tx.machines.find_key(key.id)).user_id == robot.id
            assert (await tx.machines.find_by_pat_digest(digest(token))).user_id == robot.id
            by_login = await tx.machines.find_secret(f"{client_id}@pg.example")
        assert by_login.secret_digest == digest(secret)

        await services.memberships.add_member(
            admin, user.id, Scope.INSTANCE, instance.id, ["IAM_OWNER"]
        )
        await services.memberships.change_member(
            admin, user.id, Scope.INSTANCE, instance.id, ["IAM_OWNER", "IAM_OWNER_VIEWER"]
        )
        system = services.system_context("test")
        await services.memberships.remove_member(
            system, admin.actor.user_id, Scope.INSTANCE, instance.id
        )
        with pytest.raises(PreconditionFailed):
            await services.orgs.remove_org(system, org.id)  # Pia is the last IAM_OWNER
        await services.memberships.add_member(
            system, admin.actor.user_id, Scope.INSTANCE, instance.id, ["IAM_OWNER"]
        )
        await services.orgs.remove_org(admin, org.id)
        assert await services.memberships.list_user_memberships(admin, admin.actor.user_id)

        await services.smtp.set_smtp(
            admin, SmtpSettings("mail.pg.example", 25, "a@pg.example", "none", password="pw")
        )
        assert (await services.smtp.smtp_credentials()).password == "pw"
    finally:
        await services.close()


async def test_the_sms_provider_and_text_messages_work_on_postgres(
    postgres_url: str, tmp_path: Path, clock
):
    from zitui.core.notifications.outbox import OutgoingSms, enqueue_sms
    from zitui.core.sms import SmsSettings

    services, _ = await open_services(
        make_settings(tmp_path, database_url=postgres_url), clock=clock
    )
    try:
        admin = (await services.auth.login_operator("admin", ADMIN_PASSWORD, RequestMeta())).context
        twilio = SmsSettings(kind="twilio", account_sid="AC1", token="tok", sender="+15005550006")
        await services.sms.set_sms(admin, twilio)
        kept = await services.sms.set_sms(admin, SmsSettings(**{**vars(twilio), "token": None}))
        assert kept.has_token and (await services.sms.sms_credentials()).token == "tok"
        await services.sms.remove_sms(admin)
        assert await services.sms.get_sms(admin) is None

        async with services.store.transaction() as tx:
            sms = OutgoingSms(kind="phone.verify", recipient="+41 79 000 00 01", text="123456")
            message_id = await enqueue_sms(tx, services.master_key, sms, at=clock.now())
        assert await services.sender.deliver_due() == 1
        [listed] = [
            m for m in await services.notifications.list_messages(admin) if m.id == message_id
        ]
        assert (listed.channel, listed.state, listed.last_error) == (
            "sms",
            "pending",
            "no SMS provider is configured",
        )
    finally:
        await services.close()
