"""Helpers for the settings page tests: render pages and read them back as a parsed document."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import lxml.html

from autoconfig.address import parse_address
from autoconfig.catalog import Catalog
from autoconfig.config.loader import load_providers
from autoconfig.formats.settings_page import FormState, PageRenderer
from autoconfig.formats.settings_view import Target
from autoconfig.i18n import Catalogues

from .conftest import BUNDLED, DATA, VARIED

AUTH_METHODS = DATA / "settings-page.yaml"
"""A provider with the authentication methods the other files do not use."""


@cache
def renderer() -> PageRenderer:
    return PageRenderer.load()


@cache
def catalog(path: Path = BUNDLED) -> Catalog:
    return Catalog(load_providers(path))


def parse(body: bytes) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(body)


def text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


@dataclass(frozen=True)
class ServerShown:
    id: str
    kind: str
    heading: str
    values: dict[str, str]
    copyable: frozenset[str]
    notes: tuple[str, ...]


def servers(document: lxml.html.HtmlElement) -> list[ServerShown]:
    """Every server and service box, in page order, with each value as a person reads it."""
    shown = []
    for box in document.cssselect("article.server"):
        values = {
            dd.get("data-field"): text(dd.cssselect(".value, .described")[0])
            for dd in box.cssselect("dd")
        }
        copyable = frozenset(
            dd.get("data-field") for dd in box.cssselect("dd") if dd.cssselect("button.copy")
        )
        notes = tuple(text(note) for note in box.cssselect("p.note"))
        shown.append(
            ServerShown(
                box.get("id"),
                box.get("data-kind"),
                text(box.cssselect("h3")[0]),
                values,
                copyable,
                notes,
            )
        )
    return shown


def render_address(
    address: str, language: str = "en", path: Path = BUNDLED, catalogues: Catalogues | None = None
) -> bytes:
    parsed = parse_address(address)
    match = catalog(path).lookup(parsed.ascii_domain)
    assert match is not None
    pages = renderer() if catalogues is None else PageRenderer(catalogues, renderer().assets)
    page = pages.page(language, False, "/settings", (("emailaddress", address),))
    return pages.settings(page, match.provider, Target(match.domain, parsed))


def render_domain(
    domain: str, language: str = "en", path: Path = BUNDLED, catalogues: Catalogues | None = None
) -> bytes:
    match = catalog(path).lookup(domain)
    assert match is not None
    pages = renderer() if catalogues is None else PageRenderer(catalogues, renderer().assets)
    page = pages.page(language, False, f"/settings/{domain}")
    return pages.settings(page, match.provider, Target(domain))


def render_index(
    language: str = "en", form: FormState | None = None, catalogues: Catalogues | None = None
) -> bytes:
    pages = renderer() if catalogues is None else PageRenderer(catalogues, renderer().assets)
    return pages.index(pages.page(language, False, "/"), form)


def render_not_served(
    domain: str, typed: str, language: str = "en", catalogues: Catalogues | None = None
) -> bytes:
    pages = renderer() if catalogues is None else PageRenderer(catalogues, renderer().assets)
    return pages.not_served(pages.page(language, False, "/settings"), domain, typed)


def every_page(language: str = "en", catalogues: Catalogues | None = None) -> dict[str, bytes]:
    """One of each kind of page, over providers that use every feature the page shows."""
    pages = {
        "index": render_index(language, catalogues=catalogues),
        "not-served": render_not_served(
            "nowhere.example", "a@nowhere.example", language, catalogues
        ),
    }
    for error in ("error.empty", "error.invalid_address", "error.invalid_domain"):
        pages[f"index-{error}"] = render_index(language, FormState("x", error), catalogues)
    for address in (
        "alice@example.com",
        "alice@shop.customers.example.org",
        "alice@groupware.example.org",
    ):
        pages[address] = render_address(address, language, BUNDLED, catalogues)
    for address in ("alice@oauth.example", "alice@a.sites.hoster.example"):
        pages[address] = render_address(address, language, VARIED, catalogues)
    pages["alice@oauth-only.example"] = render_address(
        "alice@oauth-only.example", language, AUTH_METHODS, catalogues
    )
    for domain in ("example.com", "groupware.example.org"):
        pages[domain] = render_domain(domain, language, BUNDLED, catalogues)
    for domain in ("oauth.example", "hoster.example"):
        pages[domain] = render_domain(domain, language, VARIED, catalogues)
    return pages
