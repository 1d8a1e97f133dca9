"""Message catalogues and language negotiation."""

from __future__ import annotations

import pytest

from zitui.i18n import SUPPORTED_LOCALES, catalogue, negotiate, translate


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-CH", "de"),
        ("de-CH,de;q=0.9,en;q=0.8", "de"),
        ("fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4", "fr"),
        ("ja-JP,ja;q=0.9,de;q=0.5,en;q=0.4", "de"),
        ("fr-CA", "fr"),
        ("en;q=0.2, de;q=0.8", "de"),
        ("de;q=0, en", "en"),
        ("ja, ko", "en"),
        ("", "en"),
        ("*", "en"),
        ("DE-at", "de"),
        (";;,q=,de;q=abc", "en"),
        ("de;q=2", "en"),
    ],
)
def test_negotiate_picks_the_best_supported_language(header: str, expected: str) -> None:
    assert negotiate(header) == expected


def test_negotiate_respects_the_supported_list() -> None:
    assert negotiate("de", supported=("en",)) == "en"
    assert negotiate("fr", supported=("de",)) == "de"
    assert negotiate("ja") == "en"


def test_every_language_has_every_message() -> None:
    assert SUPPORTED_LOCALES == ("en", "de", "fr")
    keys = {locale: set(catalogue(locale)) for locale in SUPPORTED_LOCALES}
    assert keys["en"] == keys["de"] == keys["fr"]
    for locale in ("de", "fr"):
        assert all(catalogue(locale)[key].strip() for key in keys[locale])


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert translate("de", "error.status", status=404) == "Fehler 404"
    assert translate("en", "error.status", status=404) == "Error 404"
    assert translate("fr", "error.status", status=404) == "Erreur 404"
    assert translate("fr", "error.404.title") == "Page introuvable"
    assert translate("ja", "error.404.title") == "Page not found"
    assert translate("de", "no.such.key") == "no.such.key"
