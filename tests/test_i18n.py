"""Message catalogues and the choice of language: complete catalogues, Accept-Language rules."""

import json
from importlib import resources

import pytest

from autoconfig.i18n import (
    DEFAULT_LANGUAGE,
    Catalogue,
    CatalogueError,
    Catalogues,
    accepted_languages,
    best_match,
    choose_language,
    placeholders,
)

SHIPPED = Catalogues.load()
ENGLISH = SHIPPED[DEFAULT_LANGUAGE]
AVAILABLE = ("en", "fr", "de", "es")


def test_english_french_german_and_spanish_ship_english_first():
    assert SHIPPED.languages[0] == "en"
    assert set(SHIPPED.languages) == set(AVAILABLE)
    assert [catalogue.name for catalogue in SHIPPED] == [
        "English",
        "Deutsch",
        "Español",
        "Français",
    ]


@pytest.mark.parametrize("language", [code for code in SHIPPED.languages if code != "en"])
def test_every_catalogue_has_exactly_the_english_keys(language):
    keys = set(SHIPPED[language].messages)
    english = set(ENGLISH.messages)
    assert not english - keys, f"{language}.json misses {sorted(english - keys)}"
    assert not keys - english, f"{language}.json has keys English lacks: {sorted(keys - english)}"


@pytest.mark.parametrize("language", SHIPPED.languages)
def test_translations_keep_the_placeholders_and_say_something(language):
    for key, english in ENGLISH.messages.items():
        translated = SHIPPED[language].messages[key]
        assert translated.strip(), f"{language}.json: {key} is empty"
        assert placeholders(translated) == placeholders(english), f"{language}.json: {key}"


def test_the_shipped_files_are_the_loaded_catalogues():
    folder = resources.files("autoconfig.i18n")
    for code in SHIPPED.languages:
        data = json.loads(folder.joinpath(f"{code}.json").read_text(encoding="utf-8"))
        assert data == dict(SHIPPED[code].messages)


def test_a_missing_key_falls_back_to_english_and_an_unknown_key_is_an_error():
    catalogues = Catalogues.from_texts({"en": '{"a": "A {x}", "b": "B"}', "fr": '{"b": "Bé"}'})
    assert catalogues["fr"]("a", x="1") == "A 1"
    assert catalogues["fr"]("b") == "Bé"
    with pytest.raises(KeyError):
        catalogues["fr"]("c")


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"fr": "{}"}, "no en.json"),
        ({"en": "[]"}, "one JSON object of strings"),
        ({"en": '{"a": 1}'}, "one JSON object of strings"),
        ({"en": "{"}, "en.json"),
        ({"en": '{"a": "unclosed {brace"}'}, "en.json: a:"),
    ],
)
def test_broken_catalogues_are_refused(texts, message):
    with pytest.raises(CatalogueError, match=message):
        Catalogues.from_texts(texts)


def test_messages_are_plain_text_with_values_filled_in():
    catalogue = Catalogue("en", {"t": "Settings for {address}"})
    assert catalogue("t", address="<b>a@b.c</b>") == "Settings for <b>a@b.c</b>"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.8", ["fr-ca", "fr", "en"]),
        ("en;q=0.5, de;q=0.9, fr", ["fr", "de", "en"]),
        ("de, fr", ["de", "fr"]),
        ("fr;q=0, en", ["en"]),
        ("fr;q=1.0001, es;q=2, en;q=0.999", ["en"]),
        ("fr;q=abc, de;Q=0.3", ["de"]),
        ("*;q=0.1, es", ["es", "*"]),
        ("  ES-mx ;  q=0.7 ", ["es-mx"]),
        ("en_US, fr", ["fr"]),
        ("", []),
        (",,;q=1,", []),
        ("zh-Hant-TW", ["zh-hant-tw"]),
    ],
)
def test_accept_language_ranges_by_quality(header, expected):
    assert accepted_languages(header) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["fr-ca"], "fr"),
        (["pt-br", "es-mx", "en"], "es"),
        (["it", "ja"], None),
        (["*"], "en"),
        (["de-AT"], "de"),
        (["fr_CA"], "fr"),
    ],
)
def test_best_match_falls_back_from_region_to_language(tags, expected):
    assert best_match(tags, AVAILABLE) == expected


@pytest.mark.parametrize(
    ("requested", "header", "language", "explicit"),
    [
        (None, None, "en", False),
        (None, "fr-CA,fr;q=0.9", "fr", False),
        (None, "it, ja", "en", False),
        (None, "de;q=0.5, es;q=0.8", "es", False),
        ("de", "fr-CA", "de", True),
        ("DE", None, "de", True),
        ("es-AR", "fr", "es", True),
        ("xx", "fr", "fr", False),
        ("", "fr", "fr", False),
        ("fr;q=1", "de", "de", False),
    ],
)
def test_lang_parameter_wins_over_the_browser(requested, header, language, explicit):
    choice = choose_language(requested, header, AVAILABLE)
    assert (choice.language, choice.explicit) == (language, explicit)
