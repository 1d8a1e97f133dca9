"""Custom texts: the instance's and an organisation's wording over the catalogue, validation,
audit and access."""

from __future__ import annotations

import pytest

from tests.self_service import Mailbox
from tests.test_core_audit import _events, _one_event
from tests.test_core_orgs import assert_denied, sign_in_org_owner
from zitui.core.context import Context
from zitui.core.custom_texts import MAX_TEXT_LENGTH, TextEntry
from zitui.core.notifications.mails import compose
from zitui.core.services import Services
from zitui.core.users import NewHumanUser
from zitui.errors import InvalidArgument, NotFound
from zitui.i18n import catalogue, translate
from zitui.records import Organization

TITLE = "login.name.title"


@pytest.fixture
async def acme(services: Services, admin: Context) -> Organization:
    return await services.orgs.create_org(admin, "Acme")


def entry(entries: list[TextEntry] | tuple[TextEntry, ...], key: str) -> TextEntry:
    return next(e for e in entries if e.key == key)


async def test_every_catalogue_key_is_listed_with_its_default(services, admin):
    entries = await services.texts.list(admin, "de")
    assert [e.key for e in entries] == sorted(catalogue("de"))
    title = entry(entries, TITLE)
    assert title == TextEntry(TITLE, catalogue("de")[TITLE], "", "", catalogue("de")[TITLE])


async def test_org_text_goes_over_the_instance_text_over_the_default(services, admin, acme):
    await services.texts.set(admin, "en", TITLE, "Welcome")
    await services.texts.set(admin, "en", TITLE, "Welcome to Acme", acme.id)
    title = entry(await services.texts.list(admin, "en", acme.id), TITLE)
    assert (title.instance_override, title.org_override) == ("Welcome", "Welcome to Acme")
    assert title.effective == "Welcome to Acme"
    assert entry(await services.texts.list(admin, "en"), TITLE).effective == "Welcome"
    assert (await services.texts.overrides(acme.id, "en"))[TITLE] == "Welcome to Acme"
    assert (await services.texts.overrides(None, "en"))[TITLE] == "Welcome"
    assert await services.texts.overrides(acme.id, "de") == {}


async def test_other_organisations_see_only_the_instance_text(services, admin, acme):
    other = await services.orgs.create_org(admin, "Other")
    await services.texts.set(admin, "en", TITLE, "Welcome to Acme", acme.id)
    assert TITLE not in await services.texts.overrides(other.id, "en")
    await services.texts.set(admin, "en", TITLE, "Welcome")
    assert (await services.texts.overrides(other.id, "en"))[TITLE] == "Welcome"


async def test_set_and_reset_are_audited(services, admin, acme):
    event = await _one_event(
        services, lambda: services.texts.set(admin, "fr", TITLE, "Bienvenue", acme.id)
    )
    assert (event.event_type, event.aggregate_id, event.org_id) == (
        "org.text.changed",
        acme.id,
        acme.id,
    )
    assert event.payload == {"language": "fr", "key": TITLE, "text": "Bienvenue"}
    event = await _one_event(services, lambda: services.texts.reset(admin, "fr", TITLE, acme.id))
    assert event.event_type == "org.text.reset"
    assert TITLE not in await services.texts.overrides(acme.id, "fr")
    event = await _one_event(services, lambda: services.texts.set(admin, "fr", TITLE, "Salut"))
    assert (event.event_type, event.aggregate_type, event.org_id) == (
        "instance.text.changed",
        "instance",
        None,
    )


async def test_repeating_a_text_or_resetting_nothing_records_nothing(services, admin):
    assert await services.texts.set(admin, "en", TITLE, "  Welcome ")
    before = len(await _events(services))
    assert not await services.texts.set(admin, "en", TITLE, "Welcome")
    assert not await services.texts.reset(admin, "de", TITLE)
    assert len(await _events(services)) == before


async def test_search_finds_keys_defaults_and_overrides(services, admin):
    await services.texts.set(admin, "en", "login.password.title", "Secret word")
    found = {e.key for e in await services.texts.list(admin, "en", search="SECRET WORD")}
    assert found == {"login.password.title"}
    by_key = await services.texts.list(admin, "en", search="login.name.")
    assert by_key and all("login.name." in e.key for e in by_key)


@pytest.mark.parametrize(
    ("language", "key", "text", "code"),
    [
        ("it", TITLE, "Benvenuto", "custom_text.language.unknown"),
        ("en", "login.nothing.here", "Hello", "custom_text.key.unknown"),
        ("en", TITLE, "   ", "custom_text.required"),
        ("en", TITLE, "x" * (MAX_TEXT_LENGTH + 1), "custom_text.too_long"),
        ("en", TITLE, "Hello\x07", "custom_text.invalid"),
        ("en", TITLE, "Hello {name}", "custom_text.placeholder.unknown"),
        ("en", "mail.user.init.subject", "{instance} {secret}", "custom_text.placeholder.unknown"),
        ("en", "mail.user.init.subject", "{instance.__class__}", "custom_text.placeholder.invalid"),
        ("en", "mail.user.init.subject", "{instance:>99999}", "custom_text.placeholder.invalid"),
        ("en", "mail.user.init.subject", "{instance!r}", "custom_text.placeholder.invalid"),
        ("en", "mail.user.init.subject", "Welcome {", "custom_text.placeholder.invalid"),
    ],
)
async def test_bad_texts_are_refused_without_an_event(services, admin, language, key, text, code):
    before = len(await _events(services))
    with pytest.raises(InvalidArgument) as refused:
        await services.texts.set(admin, language, key, text)
    assert refused.value.code == code
    assert len(await _events(services)) == before


async def test_a_default_s_placeholders_and_literal_braces_are_allowed(services, admin):
    assert await services.texts.set(
        admin, "en", "mail.user.init.subject", "{instance}: set up {{your}} account"
    )


async def test_an_unknown_organisation_is_not_found(services, admin):
    with pytest.raises(NotFound):
        await services.texts.set(admin, "en", TITLE, "Hi", "no-such-org")


async def test_an_org_owner_manages_only_their_own_texts(services, admin, acme):
    owner = await sign_in_org_owner(services, admin, "Customer")
    assert owner.actor is not None
    own_org = owner.actor.org_id
    assert await services.texts.set(owner, "en", TITLE, "Customer login", own_org)
    assert entry(await services.texts.list(owner, "en", own_org), TITLE).org_override
    await assert_denied(services, lambda: services.texts.set(owner, "en", TITLE, "Hi", acme.id))
    await assert_denied(services, lambda: services.texts.list(owner, "en", acme.id))
    await assert_denied(services, lambda: services.texts.set(owner, "en", TITLE, "Hi"))
    await assert_denied(services, lambda: services.texts.reset(owner, "en", TITLE))
    # Permission first: a refused caller learns nothing about keys or languages.
    await assert_denied(services, lambda: services.texts.set(owner, "xx", "no.key", "", acme.id))


async def test_removing_an_organisation_removes_its_texts(services, admin, acme):
    await services.texts.set(admin, "en", TITLE, "Welcome to Acme", acme.id)
    await services.orgs.remove_org(admin, acme.id)
    async with services.store.reader() as tx:
        assert await tx.custom_texts.own(acme.id, "en") == {}


async def test_code_mails_use_the_texts_of_the_user_s_organisation(services, admin, acme):
    other = await services.orgs.create_org(admin, "Other")
    subject = "{instance}: your Acme account"
    await services.texts.set(admin, "en", "mail.user.init.subject", subject, acme.id)
    await services.texts.set(admin, "en", "mail.user.init.lead", "Acme invites you.", acme.id)
    mailbox = Mailbox(services)
    await mailbox.new()
    for org, name in ((acme, "ina"), (other, "ole")):
        new = NewHumanUser(username=name, first_name="I", last_name="N", email=f"{name}@ex.net")
        await services.users.create_human_user(admin, org.id, new)
    mails = {m.recipient: m for m in await mailbox.new()}
    assert mails["ina@ex.net"].subject == "zitui: your Acme account"
    assert "Acme invites you." in mails["ina@ex.net"].text
    assert mails["ole@ex.net"].subject == translate(
        "en", "mail.user.init.subject", instance="zitui"
    )
    assert "Acme" not in mails["ole@ex.net"].text


def test_a_custom_text_is_plain_text_in_a_mail():
    mail = compose(
        "email.test",
        language="en",
        recipient="ann@example.org",
        texts={"mail.email.test.lead": "<b>Hi</b> & {instance}"},
    )
    assert "&lt;b&gt;Hi&lt;/b&gt; &amp; zitui" in mail.html
    assert "<b>Hi</b> & zitui" in mail.text
