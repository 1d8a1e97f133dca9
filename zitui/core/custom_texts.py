"""Custom texts: a manager's wording of the shipped catalogue's keys, per language.

An organisation's text of a key goes over the instance's, which goes over the catalogue. Texts
are part of the login settings, as in ZITADEL: the instance's need `iam.policy.*`, an
organisation's `policy.*` in that organisation. A text may use only the `{name}` placeholders
of the key's default, bare (no attribute, index, conversion or format spec), so wording can
never reach into the values a page fills in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Formatter

from zitui.core.authz import Authorizer
from zitui.core.context import Context
from zitui.core.settings_level import record_level_event, require_level
from zitui.errors import InvalidArgument
from zitui.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, catalogue
from zitui.store import Store

MAX_TEXT_LENGTH = 1000
INSTANCE = ""  # the org_id of the instance's texts


@dataclass(frozen=True)
class TextEntry:
    """One catalogue key as a manager sees it at one level; empty overrides are unset."""

    key: str
    default: str
    instance_override: str
    org_override: str
    effective: str


def check_language(language: str) -> str:
    if language not in SUPPORTED_LOCALES:
        raise InvalidArgument(
            "custom_text.language.unknown",
            f"unknown language {language!r}; supported: {', '.join(SUPPORTED_LOCALES)}",
            field="language",
        )
    return language


def check_key(key: str) -> str:
    if key not in catalogue(DEFAULT_LOCALE):
        raise InvalidArgument(
            "custom_text.key.unknown", f"no text has the key {key!r}", field="key"
        )
    return key


def check_text(language: str, key: str, text: str) -> str:
    """The text to store for `key` in `language`, or InvalidArgument saying what is wrong."""
    check_language(language)
    check_key(key)
    text = text.strip()
    if not text:
        raise InvalidArgument(
            "custom_text.required", "the text is empty; reset it instead", field="text"
        )
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidArgument(
            "custom_text.too_long",
            f"the text is longer than {MAX_TEXT_LENGTH} characters",
            field="text",
        )
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in text):
        raise InvalidArgument(
            "custom_text.invalid", "the text has control characters", field="text"
        )
    allowed = placeholders(catalogue(language)[key])
    unknown = sorted(placeholders(text) - allowed)
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
        raise InvalidArgument(
            "custom_text.placeholder.unknown",
            f"{{{unknown[0]}}} is not a placeholder of {key} (it has: {known})",
            field="text",
        )
    return text


def placeholders(message: str) -> set[str]:
    """The `{name}` placeholders of a message; InvalidArgument for anything but bare names."""
    try:
        fields = [
            (name, conversion, spec)
            for _, name, spec, conversion in Formatter().parse(message)
            if name is not None
        ]
    except ValueError as exc:
        raise _bad_placeholder(f"the text's braces do not pair up ({exc})") from None
    for name, conversion, spec in fields:
        if not name.isidentifier() or conversion or spec:
            raise _bad_placeholder(f"{{{name}}} is not a plain {{name}} placeholder")
    return {name for name, _, _ in fields}


def _bad_placeholder(message: str) -> InvalidArgument:
    return InvalidArgument("custom_text.placeholder.invalid", message, field="text")


class TextService:
    def __init__(self, store: Store, authz: Authorizer) -> None:
        self._store = store
        self._authz = authz

    async def list(
        self, ctx: Context, language: str, org_id: str | None = None, search: str = ""
    ) -> Sequence[TextEntry]:
        """Every catalogue key in `language` with its default and overrides, by key; with
        `search`, the keys whose key or any text holds it (any case)."""
        await self._require(ctx, "read", org_id)
        language = check_language(language)
        async with self._store.reader() as tx:
            instance = await tx.custom_texts.own(INSTANCE, language)
            own = await tx.custom_texts.own(org_id, language) if org_id else {}
        needle = search.strip().casefold()
        entries = []
        for key, default in sorted(catalogue(language).items()):
            instance_text, org_text = instance.get(key, ""), own.get(key, "")
            entry = TextEntry(
                key, default, instance_text, org_text, org_text or instance_text or default
            )
            if not needle or any(needle in value.casefold() for value in _searched(entry)):
                entries.append(entry)
        return entries

    async def set(
        self, ctx: Context, language: str, key: str, text: str, org_id: str | None = None
    ) -> bool:
        """Set the wording of `key` in `language` for the instance or the organisation;
        False when it was already so (nothing changes, nothing is recorded)."""
        await self._require(ctx, "write", org_id)
        text = check_text(language, key, text)
        async with self._store.transaction() as tx:
            if (await tx.custom_texts.own(org_id or INSTANCE, language)).get(key) == text:
                return False
            await tx.custom_texts.put(org_id or INSTANCE, language, key, text, at=ctx.now())
            payload = {"language": language, "key": key, "text": text}
            await record_level_event(tx, ctx, "text", org_id, "changed", payload)
        return True

    async def reset(self, ctx: Context, language: str, key: str, org_id: str | None = None) -> bool:
        """Forget the level's wording of `key`, so the inherited text shows again; False when
        it had none (nothing is recorded)."""
        await self._require(ctx, "write", org_id)
        check_language(language)
        check_key(key)
        async with self._store.transaction() as tx:
            if not await tx.custom_texts.remove(org_id or INSTANCE, language, key):
                return False
            payload = {"language": language, "key": key}
            await record_level_event(tx, ctx, "text", org_id, "reset", payload)
        return True

    async def overrides(self, org_id: str | None, language: str) -> Mapping[str, str]:
        """For rendering, not for managers: the texts of `language` that replace the
        catalogue's where the organisation's login shows (its own over the instance's).

        One read, made for each page or mail: a change shows on the next one.
        """
        if language not in SUPPORTED_LOCALES:
            return {}
        async with self._store.reader() as tx:
            return await tx.custom_texts.effective(org_id or INSTANCE, language)

    async def _require(self, ctx: Context, action: str, org_id: str | None) -> None:
        await require_level(self._authz, self._store, ctx, action, org_id)


def _searched(entry: TextEntry) -> tuple[str, ...]:
    return (entry.key, entry.default, entry.instance_override, entry.org_override)
