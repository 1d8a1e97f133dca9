"""SMTP: the instance's mail server, with its password encrypted under the master key."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.dbfile import rows
from tests.test_core_audit import _events, _no_event, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from zitui.core.smtp import SmtpSettings
from zitui.errors import InvalidArgument
from zitui.records import SmtpConfig

MAIL = SmtpSettings(
    host="Mail.Example.com",
    port=587,
    sender="zitui@example.com",
    tls="STARTTLS",
    user="mailer",
    password="Smtp-Secret-42",
)


async def test_set_and_get_smtp(services, admin, settings):
    assert await services.smtp.get_smtp(admin) is None
    assert await services.smtp.smtp_credentials() is None

    event = await _one_event(services, lambda: services.smtp.set_smtp(admin, MAIL))
    expected = SmtpConfig(
        host="mail.example.com",
        port=587,
        sender="zitui@example.com",
        tls="starttls",
        user="mailer",
        has_password=True,
    )
    assert await services.smtp.get_smtp(admin) == expected
    assert event.event_type == "instance.smtp.changed"
    assert event.org_id is None
    assert event.payload["host"] == "mail.example.com"
    assert event.payload["password_changed"] is True
    assert "Smtp-Secret-42" not in json.dumps(event.payload)

    stored = rows(settings.data_dir, "SELECT password_enc FROM smtp_configs")
    assert len(stored) == 1 and stored[0][0].startswith("v1.")
    assert "Smtp-Secret-42" not in str(rows(settings.data_dir, "SELECT * FROM smtp_configs"))
    credentials = await services.smtp.smtp_credentials()
    assert (credentials.config, credentials.password) == (expected, "Smtp-Secret-42")
    assert "Smtp-Secret-42" not in repr(credentials)


async def test_password_none_keeps_and_empty_removes(services, admin, settings):
    await services.smtp.set_smtp(admin, MAIL)
    kept = await services.smtp.set_smtp(admin, replace(MAIL, port=465, tls="tls", password=None))
    assert (kept.port, kept.tls, kept.has_password) == (465, "tls", True)
    assert (await services.smtp.smtp_credentials()).password == "Smtp-Secret-42"
    assert len(rows(settings.data_dir, "SELECT id FROM smtp_configs")) == 1

    event = await _one_event(
        services, lambda: services.smtp.set_smtp(admin, replace(MAIL, user="", password=""))
    )
    assert event.payload["password_changed"] is True
    assert not (await services.smtp.get_smtp(admin)).has_password
    assert (await services.smtp.smtp_credentials()).password == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"host": "not a host"}, "host"),
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"sender": "nobody"}, "sender"),
        ({"tls": "ssl3"}, "tls"),
    ],
)
async def test_invalid_settings_name_the_field(services, admin, change, field):
    with pytest.raises(InvalidArgument) as caught:
        await services.smtp.set_smtp(admin, replace(MAIL, **change))
    assert caught.value.field == field
    await _no_event(
        services, lambda: services.smtp.set_smtp(admin, replace(MAIL, **change)), InvalidArgument
    )


async def test_only_instance_managers_see_or_change_smtp(services, admin):
    owner = await sign_in_org_owner(services, admin, "Acme")
    await services.smtp.set_smtp(admin, MAIL)
    await assert_denied(services, lambda: services.smtp.set_smtp(owner, MAIL))
    await assert_denied(services, lambda: services.smtp.get_smtp(owner))
    logged = json.dumps([e.payload for e in await _events(services)])
    assert "Smtp-Secret-42" not in logged


async def test_the_delivery_target_names_the_mail_folder_or_the_smtp_server(
    services, admin, settings
):
    files = await services.smtp.delivery_target(admin)
    assert (files.smtp, files.mail_dir) == (None, (settings.data_dir / "mail").absolute())
    assert files.describe() == (
        "No SMTP server is configured: mail is written as .eml files to "
        f"{(settings.data_dir / 'mail').absolute()}"
    )
    await services.smtp.set_smtp(admin, MAIL)
    smtp = await services.smtp.delivery_target(admin)
    assert smtp.describe() == "Mail is delivered through SMTP mail.example.com:587"
    owner = await sign_in_org_owner(services, admin, "Acme")
    await assert_denied(services, lambda: services.smtp.delivery_target(owner))
