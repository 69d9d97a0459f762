"""Accessibility of the settings page: labels, language, headings, names, and colour contrast.

Contrast is computed from the shipped style sheet itself, for the light and the dark scheme: a
rule that sets both colours is checked as a pair; a text colour without its own background
against every background a container sets (the page, the server boxes); borders and focus
rings against the same backgrounds at 3:1 (WCAG 2.1 SC 1.4.3 and 1.4.11).
"""

import itertools
import re
from dataclasses import dataclass

import pytest

from autoconfig.i18n import Catalogues

from .settings_support import every_page, parse, renderer

LANGUAGES = Catalogues.load().languages
CSS = renderer().assets["settings.css"].body.decode("utf-8")
TEXT_CONTRAST = 4.5
NON_TEXT_CONTRAST = 3.0


@pytest.fixture(scope="module", params=LANGUAGES)
def pages(request):
    return request.param, {name: parse(body) for name, body in every_page(request.param).items()}


def test_the_page_says_its_language_and_fits_a_phone(pages):
    language, documents = pages
    for name, document in documents.items():
        assert document.get("lang") == language, name
        (viewport,) = document.cssselect("meta[name=viewport]")
        assert "width=device-width" in viewport.get("content"), name
        assert document.findtext(".//title").strip(), name


def test_every_field_has_a_label(pages):
    _, documents = pages
    for name, document in documents.items():
        for field in document.cssselect("input, select, textarea"):
            if field.get("type") == "hidden":
                continue
            labels = document.cssselect(f"label[for={field.get('id')}]")
            assert len(labels) == 1 and labels[0].text_content().strip(), name


def test_headings_start_at_one_h1_and_skip_no_level(pages):
    _, documents = pages
    for name, document in documents.items():
        levels = [int(h.tag[1]) for h in document.iter("h1", "h2", "h3", "h4", "h5", "h6")]
        assert levels.count(1) == 1 and levels[0] == 1, name
        for before, after in itertools.pairwise(levels):
            assert after <= before + 1, f"{name}: h{before} followed by h{after}"


def test_buttons_and_links_have_names_and_references_resolve(pages):
    _, documents = pages
    for name, document in documents.items():
        ids = [element.get("id") for element in document.iter() if element.get("id")]
        assert len(ids) == len(set(ids)), f"{name}: duplicate ids"
        for element in document.iter("a", "button"):
            named = element.text_content().strip() or element.get("aria-label")
            assert named, f"{name}: a {element.tag} without a name"
            label = element.get("aria-label")
            if label:
                visible = element.text_content().strip().lower()
                assert visible in label.lower(), f"{name}: {label!r} hides {visible!r}"
        for attribute in ("aria-labelledby", "aria-describedby", "data-copy", "for"):
            for element in document.xpath(f"//*[@{attribute}]"):
                for reference in element.get(attribute).split():
                    assert reference in ids, f"{name}: {attribute}={reference} points nowhere"


def test_language_links_say_their_language(pages):
    _, documents = pages
    for name, document in documents.items():
        links = document.cssselect("footer nav a")
        assert [a.get("lang") for a in links] == list(LANGUAGES), name
        assert len(document.cssselect("footer nav a[aria-current=page]")) == 1, name


# Colour contrast, from the style sheet.

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\b")
_VAR = re.compile(r"var\((--[\w-]+)\)")


@dataclass(frozen=True)
class Rule:
    selector: str
    declarations: dict[str, str]
    media: str


def _rules(css: str) -> list[Rule]:
    """Rules at the top level and one level inside @media, which is all this sheet uses."""
    css = _COMMENT.sub("", css)
    rules: list[Rule] = []
    position = 0
    while (opening := css.find("{", position)) != -1:
        prelude = css[position:opening].strip()
        if prelude.startswith("@media"):
            depth, end = 1, opening + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(css[end], 0)
                end += 1
            rules += [
                Rule(r.selector, r.declarations, prelude)
                for r in _rules(css[opening + 1 : end - 1])
            ]
            position = end
            continue
        closing = css.index("}", opening)
        declarations = {}
        for declaration in css[opening + 1 : closing].split(";"):
            name, _, value = declaration.partition(":")
            if value.strip():
                declarations[name.strip()] = value.strip()
        rules.append(Rule(prelude, declarations, ""))
        position = closing + 1
    return rules


RULES = _rules(CSS)


def _variables(dark: bool) -> dict[str, str]:
    variables: dict[str, str] = {}
    for rule in RULES:
        in_dark = "prefers-color-scheme: dark" in rule.media
        if rule.selector == ":root" and (not rule.media or (dark and in_dark)):
            variables.update({k: v for k, v in rule.declarations.items() if k.startswith("--")})
    return variables


def _colour(value: str, variables: dict[str, str]) -> tuple[float, float, float] | None:
    value = _VAR.sub(lambda match: variables[match.group(1)], value)
    found = _HEX.search(value)
    if found is None:
        return None
    digits = found.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))


def _luminance(rgb: tuple[float, float, float]) -> float:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: tuple[float, float, float], second: tuple[float, float, float]) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_contrast_formula_matches_wcag():
    assert contrast((0, 0, 0), (1, 1, 1)) == pytest.approx(21)
    assert contrast((1, 1, 1), (1, 1, 1)) == pytest.approx(1)
    assert contrast(_colour("#767676", {}), _colour("#ffffff", {})) == pytest.approx(4.54, 0.01)


def _background(rule: Rule) -> str | None:
    return rule.declarations.get("background-color") or rule.declarations.get("background")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_colour_pair_of_the_style_sheet_meets_wcag_aa(dark):
    variables = _variables(dark)
    scheme = [r for r in RULES if r.selector != ":root" and "min-width" not in r.media]
    containers = {
        r.selector: _colour(_background(r), variables)
        for r in scheme
        if _background(r) and ("color" not in r.declarations or r.selector == "body")
    }
    assert {"body", ".server"} <= set(containers)
    checked = 0
    for rule in scheme:
        text = rule.declarations.get("color")
        foreground = _colour(text, variables) if text else None
        own = _background(rule)
        if foreground is not None:
            backgrounds = (
                {rule.selector: _colour(own, variables)}
                if own and rule.selector != "body"
                else containers
            )
            for where, background in backgrounds.items():
                ratio = contrast(foreground, background)
                assert ratio >= TEXT_CONTRAST, f"{rule.selector} on {where}: {ratio:.2f}"
                checked += 1
        for name in ("border", "border-color", "border-top", "border-bottom", "outline"):
            line = _colour(rule.declarations.get(name, ""), variables)
            if line is None:
                continue
            for where, background in containers.items():
                ratio = contrast(line, background)
                assert ratio >= NON_TEXT_CONTRAST, f"{rule.selector} {name} on {where}: {ratio:.2f}"
                checked += 1
    assert checked >= 20


def test_every_colour_is_a_variable_of_both_schemes():
    """So that the dark scheme cannot forget one, and the contrast test sees them all."""
    light, dark = _variables(False), _variables(True)
    assert set(light) == set(dark)
    for rule in RULES:
        if rule.selector == ":root":
            continue
        for name, value in rule.declarations.items():
            if "color" in name or name.startswith(("background", "border", "outline")):
                assert not _HEX.search(value), f"{rule.selector} {name}: use a variable"
