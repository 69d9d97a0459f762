"""The settings page as HTML: a provider's servers for a person who types them in by hand.

Pure once loaded: templates, catalogues and static files are read from the package when the
application starts, and each page is rendered from (provider, address or domain, catalogue)
with no I/O. Jinja escapes every value (autoescape on for every template), and messages are
plain text, so neither an admin's configuration nor a translator can put markup on the page.
The page needs no script (copy buttons stay hidden without one) and loads nothing from
elsewhere, so a strict Content-Security-Policy holds.
"""

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from urllib.parse import urlencode

import jinja2

from ..i18n import Catalogue, Catalogues
from ..model import Provider
from .settings_view import SettingsView, Target, build, readable_domain

CONTENT_TYPE = "text/html; charset=utf-8"
TEMPLATES = ("index.html", "settings.html", "not_served.html")
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
STATIC_PREFIX = "/static/"


@dataclass(frozen=True, slots=True)
class Asset:
    """A static file of the page; `url` carries a digest so that a new version is fetched anew."""

    name: str
    body: bytes
    content_type: str

    @property
    def path(self) -> str:
        return f"{STATIC_PREFIX}{self.name}"

    @property
    def url(self) -> str:
        return f"{self.path}?v={hashlib.sha256(self.body).hexdigest()[:12]}"


def load_assets() -> Mapping[str, Asset]:
    """The files of `autoconfig/static/`, read once."""
    assets = {}
    for entry in resources.files("autoconfig").joinpath("static").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if suffix in STATIC_TYPES:
            assets[entry.name] = Asset(entry.name, entry.read_bytes(), STATIC_TYPES[suffix])
    return MappingProxyType(assets)


@dataclass(frozen=True, slots=True)
class Page:
    """What every page needs besides its content: its language, and its own address for the
    language links (`path` and the query that identifies it, without `lang`)."""

    messages: Catalogue
    explicit_language: bool
    path: str
    query: tuple[tuple[str, str], ...] = ()

    @property
    def language(self) -> str:
        return self.messages.language


@dataclass(frozen=True, slots=True)
class LanguageLink:
    language: str
    name: str
    href: str
    current: bool


@dataclass(frozen=True, slots=True)
class FormState:
    """The address form: what was typed, and the catalogue key of what is wrong with it."""

    value: str = ""
    error: str | None = None


def environment() -> jinja2.Environment:
    """Templates from the package; autoescape for all of them, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("autoconfig", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class PageRenderer:
    """Renders the three pages; built once per application."""

    __slots__ = ("_templates", "assets", "catalogues")

    def __init__(
        self,
        catalogues: Catalogues,
        assets: Mapping[str, Asset],
        env: jinja2.Environment | None = None,
    ) -> None:
        env = env or environment()
        self.catalogues = catalogues
        self.assets = assets
        self._templates = {name: env.get_template(name) for name in TEMPLATES}

    @classmethod
    def load(cls) -> "PageRenderer":
        return cls(Catalogues.load(), load_assets())

    def page(
        self, language: str, explicit: bool, path: str, query: tuple[tuple[str, str], ...] = ()
    ) -> Page:
        return Page(self.catalogues[language], explicit, path, query)

    def _languages(self, page: Page) -> tuple[LanguageLink, ...]:
        return tuple(
            LanguageLink(
                language=messages.language,
                name=messages.name,
                href=f"{page.path}?{urlencode([*page.query, ('lang', messages.language)])}",
                current=messages.language == page.language,
            )
            for messages in self.catalogues
        )

    def _render(self, name: str, page: Page, **context: object) -> bytes:
        html = self._templates[name].render(
            _=page.messages,
            lang=page.language,
            languages=self._languages(page),
            form_language=page.language if page.explicit_language else None,
            home="/" + (f"?{urlencode({'lang': page.language})}" if page.explicit_language else ""),
            css=self.assets["settings.css"].url,
            script=self.assets["copy.js"].url,
            **context,
        )
        return html.encode("utf-8")

    def index(self, page: Page, form: FormState | None = None) -> bytes:
        """The address form, alone or with what was wrong with the last try."""
        return self._render("index.html", page, form=form or FormState())

    def settings(
        self, page: Page, provider: Provider, target: Target, *, apple_profile: bool = True
    ) -> bytes:
        """The provider's settings for an address or a domain (the provider has settings)."""
        view: SettingsView = build(provider, target, page.messages, apple_profile=apple_profile)
        address = str(target.address) if target.address is not None else ""
        return self._render("settings.html", page, view=view, form=FormState(address))

    def not_served(self, page: Page, domain: str, typed: str) -> bytes:
        """No provider here for the domain: say so, and offer the form again."""
        return self._render(
            "not_served.html", page, domain=readable_domain(domain), form=FormState(typed)
        )


@functools.cache
def shipped_renderer() -> PageRenderer:
    """The renderer of the files shipped in the package, built once per process.

    Those files do not change while the process runs, and the renderer never changes once built,
    so every application (the test suite makes hundreds) shares one instead of compiling the
    templates again.
    """
    return PageRenderer.load()
