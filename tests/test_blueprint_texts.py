"""Custom texts in blueprints: `[texts.<lang>]` and `[orgs.texts.<lang>]`, checked when read,
applied once."""

from __future__ import annotations

import tomllib

import pytest

from tests.test_blueprint_apply import apply
from zitui.blueprint.reading import BlueprintError
from zitui.blueprint.schema import parse
from zitui.blueprint.texts import TextSpec
from zitui.core.context import Context
from zitui.core.services import Services

TEXTS = """
[texts.en]
"login.name.title" = "Welcome"

[texts.de]
"login.name.title" = "Willkommen"

[[orgs]]
name = "Acme"

[orgs.texts.en]
"login.name.title" = "Welcome to Acme"
"mail.user.init.subject" = "{instance}: your Acme account"
"""


def error(text: str) -> str:
    with pytest.raises(BlueprintError) as caught:
        parse(tomllib.loads(text))
    return caught.value.message


def test_texts_are_read_for_the_instance_and_each_organisation():
    blueprint = parse(tomllib.loads(TEXTS))
    assert blueprint.texts == (
        TextSpec('texts.en."login.name.title"', "en", "login.name.title", "Welcome"),
        TextSpec('texts.de."login.name.title"', "de", "login.name.title", "Willkommen"),
    )
    assert [(t.language, t.key, t.text) for t in blueprint.orgs[0].texts] == [
        ("en", "login.name.title", "Welcome to Acme"),
        ("en", "mail.user.init.subject", "{instance}: your Acme account"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[texts.it]\n"login.name.title" = "Ciao"\n',
            "texts.it: unknown key; expected one of en, de, fr",
        ),
        (
            '[texts.en]\n"login.name.titel" = "Hi"\n',
            'texts.en."login.name.titel": no text has this key (did you mean login.name.title?)',
        ),
        (
            '[texts.en]\nlogin.name.title = "Hi"\n',
            'texts.en.login: quote the whole key: "login.…" = "…"',
        ),
        ('[texts.en]\n"login.name.title" = 3\n', 'texts.en."login.name.title": expected a string'),
        ("[texts]\nen = 3\n", "texts.en: expected a table of texts, got 3"),
        (
            '[texts.en]\n"login.name.title" = "Hi {name}"\n',
            'texts.en."login.name.title": {name} is not a placeholder of login.name.title',
        ),
        (
            '[[orgs]]\nname = "A"\n[orgs.texts.fr]\n"mail.user.init.subject" = "{instance.x}"\n',
            'orgs[0].texts.fr."mail.user.init.subject": {instance.x} is not a plain',
        ),
    ],
)
def test_bad_texts_are_refused_at_their_place(text: str, expected: str):
    assert error(text).startswith(expected)


async def test_applying_twice_sets_the_texts_once(services: Services, admin: Context):
    first = await apply(services, TEXTS)
    assert [line for line in first.lines if "text" in line] == [
        "created text login.name.title (en) of the instance",
        "created text login.name.title (de) of the instance",
        "created text login.name.title (en) of Acme",
        "created text mail.user.init.subject (en) of Acme",
    ]
    acme = await services.orgs.find_org_by_name(admin, "Acme")
    assert acme is not None
    assert (await services.texts.overrides(acme.id, "en"))["login.name.title"] == "Welcome to Acme"
    assert (await services.texts.overrides(None, "de"))["login.name.title"] == "Willkommen"
    second = await apply(services, TEXTS)
    assert second.lines == [] and second.created == second.changed == 0


async def test_a_changed_text_in_the_file_changes_the_stored_one(services, admin):
    await apply(services, TEXTS)
    outcome = await apply(services, TEXTS.replace('"Welcome"', '"Hello there"'))
    assert outcome.lines == ["changed text login.name.title (en) of the instance"]
    assert (await services.texts.overrides(None, "en"))["login.name.title"] == "Hello there"
