"""Message catalogues for the pages people read, and the choice of language for a request.

Every string a person reads on the settings page lives in one JSON catalogue per language,
shipped inside the package: translators edit data, not templates, and the tests can prove that no
catalogue lacks a key. The language comes from `?lang=` when it names one we have (a person chose
it), else from the browser's `Accept-Language` (q-values honoured, `fr-CA` falling back to `fr`),
else English.
"""

import json
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

DEFAULT_LANGUAGE = "en"

_TAG = re.compile(r"(?:[a-z]{1,8}(?:-[a-z0-9]{1,8})*|\*)\Z")
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")
_MAX_RANGES = 32
"""A browser sends a handful; the rest of a long header is not worth parsing."""


class CatalogueError(ValueError):
    """A shipped catalogue is not a flat JSON object of strings, or its placeholders are broken."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's messages; a key it lacks is taken from the fallback (English).

    Messages are `str.format` templates (`"Settings for {address}"`). The result is plain text:
    the templates escape it like any other value, so a message can never inject markup.
    """

    language: str
    messages: Mapping[str, str]
    fallback: "Catalogue | None" = None

    def __call__(self, key: str, **values: str) -> str:
        text = self.messages.get(key)
        if text is None:
            if self.fallback is None:
                raise KeyError(f"no message {key!r} in the {self.language} catalogue")
            return self.fallback(key, **values)
        return text.format_map(values)

    @property
    def name(self) -> str:
        """The language's name in itself ("Français"), for the language switcher."""
        return self("language.name")


def placeholders(message: str) -> frozenset[str]:
    """The `{name}` fields of a message, which every translation of it must keep."""
    return frozenset(field for _, field, _, _ in string.Formatter().parse(message) if field)


def _parse_catalogue(language: str, text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{language}.json: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise CatalogueError(f"{language}.json: must be one JSON object of strings")
    for key, value in data.items():
        try:
            placeholders(value)
        except ValueError as exc:
            raise CatalogueError(f"{language}.json: {key}: {exc}") from exc
    return data


@dataclass(frozen=True, slots=True)
class Catalogues:
    """Every shipped language, English first, then by code."""

    by_language: Mapping[str, Catalogue]

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> "Catalogues":
        """Catalogues from JSON texts by language code; English must be among them."""
        if DEFAULT_LANGUAGE not in texts:
            raise CatalogueError(f"no {DEFAULT_LANGUAGE}.json catalogue")
        parsed = {language: _parse_catalogue(language, text) for language, text in texts.items()}
        english = Catalogue(DEFAULT_LANGUAGE, MappingProxyType(parsed[DEFAULT_LANGUAGE]))
        ordered = sorted(parsed, key=lambda code: (code != DEFAULT_LANGUAGE, code))
        return cls(
            MappingProxyType(
                {
                    code: english
                    if code == DEFAULT_LANGUAGE
                    else Catalogue(code, MappingProxyType(parsed[code]), english)
                    for code in ordered
                }
            )
        )

    @classmethod
    def load(cls) -> "Catalogues":
        """The catalogues shipped in this package (`autoconfig/i18n/<code>.json`)."""
        folder = resources.files(__name__)
        texts = {
            entry.name.removesuffix(".json"): entry.read_text(encoding="utf-8")
            for entry in folder.iterdir()
            if entry.name.endswith(".json")
        }
        return cls.from_texts(texts)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.by_language)

    def __getitem__(self, language: str) -> Catalogue:
        return self.by_language[language]

    def __iter__(self) -> Iterator[Catalogue]:
        return iter(self.by_language.values())


def accepted_languages(header: str) -> list[str]:
    """The language ranges of an Accept-Language header, most wanted first.

    Ranges with q=0 (not wanted) or a malformed tag or q-value are dropped; equal q-values keep
    the order the browser sent them in.
    """
    weighted: list[tuple[float, str]] = []
    for item in header.split(",")[:_MAX_RANGES]:
        tag, _, parameters = item.partition(";")
        tag = tag.strip().lower()
        if not _TAG.match(tag):
            continue
        quality = 1.0
        for parameter in parameters.split(";") if parameters else ():
            name, _, value = parameter.partition("=")
            if name.strip().lower() != "q":
                continue
            value = value.strip()
            quality = float(value) if _QVALUE.match(value) else -1.0
        if quality > 0:
            weighted.append((quality, tag))
    weighted.sort(key=lambda pair: -pair[0])
    return [tag for _, tag in weighted]


def best_match(tags: Iterable[str], available: Iterable[str]) -> str | None:
    """The first tag we have, exactly or by its primary language (`fr-CA` -> `fr`).

    `*` (any language) means the default one.
    """
    have = set(available)
    for tag in tags:
        tag = tag.strip().lower().replace("_", "-")
        if tag == "*":
            return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in have else None
        if tag in have:
            return tag
        primary = tag.split("-", 1)[0]
        if primary in have:
            return primary
    return None


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    language: str
    explicit: bool
    """Chosen with `?lang=`: links and the form carry it on, so the choice sticks."""


def choose_language(
    requested: str | None, accept_language: str | None, available: Iterable[str]
) -> LanguageChoice:
    """`?lang=` if we have it, else the browser's preference, else English."""
    have = tuple(available)
    if requested:
        chosen = best_match([requested], have)
        if chosen is not None and _TAG.match(requested.strip().lower().replace("_", "-")):
            return LanguageChoice(chosen, explicit=True)
    chosen = best_match(accepted_languages(accept_language or ""), have)
    return LanguageChoice(chosen or DEFAULT_LANGUAGE, explicit=False)
