"""HTTP for the settings page: its routes, the language of each request, and the headers that
keep it self-contained.

As everywhere in web/, handlers only translate HTTP: they pick the language and the provider, and
formats.settings_page renders. Every page and static file goes out with a Content-Security-Policy
that allows only this server's own script and style sheet, no framing and no referrer, so neither
a value from providers.yaml nor anything typed into the form can run code or leak the address.
Pages that show an address are never cached and never indexed.
"""

import re

from aiohttp import web

from ..address import (
    AddressError,
    check_host_local_part,
    normalize_mail_domain,
    parse_address,
)
from ..formats.settings_page import (
    CONTENT_TYPE,
    Asset,
    FormState,
    Page,
    PageRenderer,
    shipped_renderer,
)
from ..formats.settings_view import Target
from ..i18n import choose_language
from ..reload import ConfigState
from .query import ANY_ADDRESS, address_text, query_value
from .request import ClientRequest, PlainHandler
from .routes import PathRoute, Route

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PUBLIC_PAGE = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Language"}
"""Pages without an address: the same for everyone who asks in the same language."""
PRIVATE_PAGE = {"Cache-Control": "no-store", "Vary": "Accept-Language", "X-Robots-Tag": "noindex"}
"""Pages that show the address someone typed."""
STATIC_CACHE = {"Cache-Control": "public, max-age=86400"}

LANGUAGE_PARAMETER = "lang"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters no HTML document may hold: dropped from what the page echoes of the input."""


def _html(body: bytes, headers: dict[str, str], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=body,
        headers={**SECURITY_HEADERS, **headers, "Content-Type": CONTENT_TYPE},
    )


def _static(asset: Asset) -> PlainHandler:
    headers = {**SECURITY_HEADERS, **STATIC_CACHE, "Content-Type": asset.content_type}

    def static_file(request: ClientRequest) -> web.Response:
        return web.Response(body=asset.body, headers=headers)

    return static_file


class SettingsPageEndpoints:
    """The page's handlers, bound to the renderer (built once) and the catalog state."""

    __slots__ = ("_renderer", "_state")

    def __init__(self, state: ConfigState, renderer: PageRenderer | None = None) -> None:
        self._state = state
        self._renderer = renderer or shipped_renderer()

    def routes(self) -> tuple[Route | PathRoute, ...]:
        """`/`, `/settings`, `/settings/{domain}` and the page's static files."""
        return (
            Route("GET", ("/",), self.index, "index", "people"),
            Route("GET", ("/settings",), self.for_address, "settings_for_address", "people"),
            PathRoute(
                "GET",
                ("/settings/{domain}",),
                "domain",
                self.for_domain,
                "settings_for_domain",
                "people",
            ),
            *(
                Route("GET", (asset.path,), _static(asset), "static", "people")
                for asset in self._renderer.assets.values()
            ),
        )

    def _page(
        self, request: ClientRequest, path: str, query: tuple[tuple[str, str], ...] = ()
    ) -> Page:
        choice = choose_language(
            query_value(request, (LANGUAGE_PARAMETER,)),
            request.headers.get("Accept-Language"),
            self._renderer.catalogues.languages,
        )
        return self._renderer.page(choice.language, choice.explicit, path, query)

    def index(self, request: ClientRequest) -> web.Response:
        """The address form."""
        return _html(self._renderer.index(self._page(request, "/")), PUBLIC_PAGE)

    def for_address(self, request: ClientRequest) -> web.Response:
        """`/settings?emailaddress=ADDR`: the provider's settings with the address filled in."""
        renderer = self._renderer
        given = query_value(request, ANY_ADDRESS.names)
        if given is None:
            return _html(renderer.index(self._page(request, "/settings")), PUBLIC_PAGE)
        given = address_text(given.strip())
        shown = _CONTROL.sub("", given)
        page = self._page(request, "/settings", (("emailaddress", shown),))
        if not given:
            return _html(renderer.index(page, FormState("", "error.empty")), PRIVATE_PAGE, 400)
        try:
            address = parse_address(given)
        except AddressError:
            form = FormState(shown, "error.invalid_address")
            return _html(renderer.index(page, form), PRIVATE_PAGE, 400)
        match = self._state.catalog.lookup(address.ascii_domain)
        if match is None or not match.provider.has_settings:
            body = renderer.not_served(page, address.ascii_domain, shown)
            return _html(body, PRIVATE_PAGE, 404)
        try:
            check_host_local_part(address, match.provider.hosts_need_local_part)
        except AddressError:
            form = FormState(shown, "error.invalid_address")
            return _html(renderer.index(page, form), PRIVATE_PAGE, 400)
        has_profile = match.entry.mobileconfig.template is not None
        target = Target(match.domain, address)
        body = renderer.settings(page, match.provider, target, apple_profile=has_profile)
        return _html(body, PRIVATE_PAGE)

    def for_domain(self, request: ClientRequest, given: str) -> web.Response:
        """`/settings/DOMAIN`: the same page for a whole domain, login names in words."""
        renderer = self._renderer
        try:
            domain = normalize_mail_domain(given)
        except AddressError:
            page = self._page(request, "/")
            body = renderer.index(page, FormState("", "error.invalid_domain"))
            return _html(body, PUBLIC_PAGE, 400)
        page = self._page(request, f"/settings/{domain}")
        match = self._state.catalog.lookup(domain)
        if match is None or not match.provider.has_settings:
            return _html(renderer.not_served(page, domain, ""), PUBLIC_PAGE, 404)
        return _html(renderer.settings(page, match.provider, Target(domain)), PUBLIC_PAGE)
