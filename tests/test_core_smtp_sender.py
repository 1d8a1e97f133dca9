"""The domain policy's sender rule: with `smtp_sender_address_matches_instance_domain` the
mail server's sender is an address at the instance's domain or a verified organisation's,
from the console's service and from a blueprint alike."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.test_core_smtp import MAIL
from zitui.blueprint.apply import apply_blueprint
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import parse
from zitui.config import Settings
from zitui.core.context import Context
from zitui.core.services import Services
from zitui.errors import InvalidArgument
from zitui.i18n import lookup


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", external_url="https://id.example.net")


async def sender_rule(services: Services, admin: Context) -> None:
    changes = {"smtp_sender_address_matches_instance_domain": True}
    await services.policies.set(admin, "domain", changes)


async def test_without_the_rule_any_sender_is_taken(services: Services, admin: Context) -> None:
    config = await services.smtp.set_smtp(admin, replace(MAIL, sender="id@elsewhere.org"))
    assert config.sender == "id@elsewhere.org"


async def test_the_rule_takes_the_instance_s_and_verified_organisation_domains_only(
    services: Services, admin: Context
) -> None:
    await sender_rule(services, admin)
    acme = await services.orgs.create_org(admin, "Acme")
    await services.orgs.add_domain(admin, acme.id, "acme.example")
    for sender in ("id@elsewhere.org", "id@acme.example", "id@sub.id.example.net"):
        with pytest.raises(InvalidArgument) as refused:
            await services.smtp.set_smtp(admin, replace(MAIL, sender=sender))
        assert (refused.value.code, refused.value.field) == ("sender.domain_not_allowed", "sender")
    assert await services.smtp.get_smtp(admin) is None
    await services.orgs.verify_domain(admin, acme.id, "acme.example")
    for sender in ("id@ID.example.net", "id@acme.example", f"id@{acme.primary_domain}"):
        assert (await services.smtp.set_smtp(admin, replace(MAIL, sender=sender))).sender == sender


def test_the_refusal_is_told_in_every_language() -> None:
    messages = {lang: lookup(lang, "sender.domain_not_allowed") for lang in ("en", "de", "fr")}
    assert all(messages.values()) and len(set(messages.values())) == 3
    assert "domain" in str(messages["en"])


async def test_a_blueprint_turning_the_rule_on_is_held_to_it(services: Services) -> None:
    head = "[domain_policy]\nsmtp_sender_address_matches_instance_domain = true\n"
    smtp = '[smtp]\nhost = "mail.example.com"\nfrom = "{sender}"\n'
    org = '[[orgs]]\nname = "Acme"\ndomain = "acme.example"\n'

    async def apply(text: str) -> None:
        await apply_blueprint(services, parse(tomllib.loads(text)))

    with pytest.raises(BlueprintError) as refused:
        await apply(head + smtp.format(sender="id@elsewhere.org"))
    assert "smtp" in refused.value.message and "verified domain" in refused.value.message
    await apply(head + smtp.format(sender="id@acme.example") + org)
    admin = services.system_context("test")
    stored = await services.smtp.get_smtp(admin)
    assert stored is not None and stored.sender == "id@acme.example"
