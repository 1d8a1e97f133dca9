"""Message catalogues (one TOML file per language) and language negotiation.

A catalogue is TOML nested by the dotted key: `password.too_short` is `too_short` in the
`[password]` table. Error codes are keys too (pages show `lookup(locale, error.code)`). TOML
cannot hold a value and a table under one name, so when a key is also the prefix of longer
keys (`a.b` beside `a.b.c`), its message is the `_` entry of its table: `[a.b] _ = "..."`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "de", "fr")
# The entry of a table that holds the message of the table's own key (see above).
TABLE_MESSAGE = "_"


@cache
def catalogue(locale: str) -> Mapping[str, str]:
    """All messages of one supported language, keyed by dotted id (`error.404.title`)."""
    if locale not in SUPPORTED_LOCALES:
        locale = DEFAULT_LOCALE
    with (TRANSLATIONS_DIR / f"{locale}.toml").open("rb") as fh:
        return flatten(tomllib.load(fh))


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested tables as dotted keys; a table's `_` entry is the message of the table's own key."""
    flat: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        elif key == TABLE_MESSAGE and prefix:
            flat[prefix[:-1]] = str(value)
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def lookup(locale: str, key: str) -> str | None:
    """The message in `locale`, else in English, else None."""
    return catalogue(locale).get(key) or catalogue(DEFAULT_LOCALE).get(key)


def translate(
    locale: str, key: str, /, *, texts: Mapping[str, str] | None = None, **params: Any
) -> str:
    """The message for `key` with `{name}` placeholders filled; the key itself if unknown.

    `texts` (a manager's wording, by key) go before the catalogue.
    """
    message = texts.get(key) if texts else None
    if message is None:
        message = lookup(locale, key)
    if message is None:
        return key
    return message.format(**params) if params else message


def translator(locale: str, texts: Mapping[str, str] | None = None) -> Callable[..., str]:
    """`translate` in `locale`, with `texts` (a manager's wording, by key) before the catalogue."""
    return partial(translate, locale, texts=texts)


def quality_list(header: str) -> list[tuple[str, float]]:
    """The values of an Accept-style header, lower-cased, highest quality first.

    Malformed quality values count as 0 (not acceptable) rather than failing the request.
    """
    items: list[tuple[str, float]] = []
    for part in header.split(","):
        value, *params = (piece.strip() for piece in part.split(";"))
        if not value:
            continue
        quality = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                quality = _quality(raw.strip())
        items.append((value.lower(), quality))
    # sorted() is stable, so equal qualities keep the client's order.
    return sorted(items, key=lambda item: -item[1])


def _quality(raw: str) -> float:
    try:
        quality = float(raw)
    except ValueError:
        return 0.0
    return quality if 0.0 <= quality <= 1.0 else 0.0


def best_locale(accept_language: str, supported: Sequence[str] = SUPPORTED_LOCALES) -> str | None:
    """The first supported language the header accepts (`de-CH` matches `de`), or None."""
    for tag, quality in quality_list(accept_language):
        if quality <= 0:
            continue
        for candidate in (tag, tag.split("-")[0]):
            if candidate in supported:
                return candidate
    return None


def negotiate(accept_language: str, supported: Sequence[str] = SUPPORTED_LOCALES) -> str:
    """The language to answer in: the best match, else English (or the first supported)."""
    fallback = DEFAULT_LOCALE if DEFAULT_LOCALE in supported else supported[0]
    return best_locale(accept_language, supported) or fallback
