"""Custom texts in a blueprint: `[texts.<lang>]` for the instance, `[orgs.texts.<lang>]` for an
organisation, each entry a quoted catalogue key and its wording, checked when the file is read
and set only where it differs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from zitui.blueprint.reading import BlueprintError, Table, describe, join
from zitui.blueprint.state import ApplyState, at
from zitui.core.custom_texts import check_text
from zitui.errors import InvalidArgument
from zitui.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, catalogue

KEY = "texts"


@dataclass(frozen=True)
class TextSpec:
    """One key's wording in one language; `text` is already as the text service stores it."""

    path: str
    language: str
    key: str
    text: str


def parse_texts(parent: Table) -> tuple[TextSpec, ...]:
    """The `texts` table of `parent` (the file's top or an organisation), every entry checked
    by the text service's own rules; none when it is missing."""
    languages = parent.table(KEY, SUPPORTED_LOCALES)
    if languages is None:
        return ()
    specs: list[TextSpec] = []
    for language in SUPPORTED_LOCALES:
        entries = languages.raw(language)
        if entries is None:
            continue
        where = languages.at(language)
        if not isinstance(entries, dict):
            raise BlueprintError(where, f"expected a table of texts, got {describe(entries)}")
        specs.extend(_entry(where, language, key, value) for key, value in entries.items())
    return tuple(specs)


def _entry(where: str, language: str, key: str, value: object) -> TextSpec:
    path = join(where, key)
    if isinstance(value, dict):
        raise BlueprintError(
            path, f'quote the whole key: "{key}.…" = "…" (a bare dotted key makes a table)'
        )
    if not isinstance(value, str):
        raise BlueprintError(path, f"expected a string, got {describe(value)}")
    if key not in catalogue(DEFAULT_LOCALE):
        close = difflib.get_close_matches(key, catalogue(DEFAULT_LOCALE), n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise BlueprintError(path, f"no text has this key{hint}")
    try:
        text = check_text(language, key, value)
    except InvalidArgument as exc:
        raise BlueprintError(path, exc.message, code=exc.code) from exc
    return TextSpec(path=path, language=language, key=key, text=text)


async def apply_texts(
    state: ApplyState, specs: tuple[TextSpec, ...], *, org_id: str | None, owner: str
) -> None:
    """Set each text the level (`org_id`, None for the instance) does not have as written;
    texts the file does not name stay as they are."""
    texts, ctx = state.services.texts, state.ctx
    current: dict[str, dict[str, str]] = {}
    for spec in specs:
        if spec.language not in current:
            entries = await texts.list(ctx, spec.language, org_id)
            current[spec.language] = {
                e.key: e.org_override if org_id else e.instance_override for e in entries
            }
        before = current[spec.language].get(spec.key, "")
        if before == spec.text:
            continue
        with at(spec.path):
            await texts.set(ctx, spec.language, spec.key, spec.text, org_id)
        current[spec.language][spec.key] = spec.text
        what = f"text {spec.key} ({spec.language}) of {owner}"
        if before:
            state.changed(what)
        else:
            state.created(what)
