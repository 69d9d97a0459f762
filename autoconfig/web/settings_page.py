"""HTTP for the settings page: its routes, the language of each request, and the headers that
keep it self-contained.

As in web.py, handlers only translate HTTP: they pick the language and the provider, and
formats.settings_page renders. Every page and static file goes out with a Content-Security-Policy
that allows only this server's own script and style sheet, no framing and no referrer, so neither
a value from providers.yaml nor anything typed into the form can run code or leak the address.
Pages that show an address are never cached and never indexed.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from ..address import AddressError, check_host_local_part, normalize_domain, parse_address
from ..catalog import Catalog
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
from .query import ADDRESS_PARAMETERS, query_value

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


@dataclass(frozen=True, slots=True)
class SettingsSite:
    """The renderer, built once, and the catalog of the moment (reloads swap it)."""

    renderer: PageRenderer
    catalog: Callable[[], Catalog]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters no HTML document may hold: dropped from what the page echoes of the input."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SITE = web.AppKey("settings_site", SettingsSite)


def _page(request: web.Request, path: str, query: tuple[tuple[str, str], ...] = ()) -> Page:
    renderer = request.app[SITE].renderer
    choice = choose_language(
        query_value(request, (LANGUAGE_PARAMETER,)),
        request.headers.get("Accept-Language"),
        renderer.catalogues.languages,
    )
    return renderer.page(choice.language, choice.explicit, path, query)


def _html(body: bytes, headers: dict[str, str], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=body,
        headers={**SECURITY_HEADERS, **headers, "Content-Type": CONTENT_TYPE},
    )


async def index(request: web.Request) -> web.Response:
    """The address form."""
    page = _page(request, "/")
    return _html(request.app[SITE].renderer.index(page), PUBLIC_PAGE)


async def settings_for_address(request: web.Request) -> web.Response:
    """`/settings?emailaddress=ADDR`: the provider's settings with the address filled in."""
    site = request.app[SITE]
    given = query_value(request, ADDRESS_PARAMETERS)
    if given is None:
        return _html(site.renderer.index(_page(request, "/settings")), PUBLIC_PAGE)
    given = given.strip()
    shown = _CONTROL.sub("", given)
    page = _page(request, "/settings", (("emailaddress", shown),))
    if not given:
        return _html(site.renderer.index(page, FormState("", "error.empty")), PRIVATE_PAGE, 400)
    try:
        address = parse_address(given)
    except AddressError:
        form = FormState(shown, "error.invalid_address")
        return _html(site.renderer.index(page, form), PRIVATE_PAGE, 400)
    match = site.catalog().lookup(address.ascii_domain)
    if match is None or not match.provider.has_settings:
        body = site.renderer.not_served(page, address.ascii_domain, shown)
        return _html(body, PRIVATE_PAGE, 404)
    try:
        check_host_local_part(address, match.provider.hosts_need_local_part)
    except AddressError:
        form = FormState(shown, "error.invalid_address")
        return _html(site.renderer.index(page, form), PRIVATE_PAGE, 400)
    has_profile = match.entry.mobileconfig.template is not None
    target = Target(match.domain, address)
    body = site.renderer.settings(page, match.provider, target, apple_profile=has_profile)
    return _html(body, PRIVATE_PAGE)


async def settings_for_domain(request: web.Request) -> web.Response:
    """`/settings/DOMAIN`: the same page for a whole domain, login names described in words."""
    site = request.app[SITE]
    try:
        domain = normalize_domain(request.match_info["domain"])
    except AddressError:
        page = _page(request, "/")
        body = site.renderer.index(page, FormState("", "error.invalid_domain"))
        return _html(body, PUBLIC_PAGE, 400)
    page = _page(request, f"/settings/{domain}")
    match = site.catalog().lookup(domain)
    if match is None or not match.provider.has_settings:
        return _html(site.renderer.not_served(page, domain, ""), PUBLIC_PAGE, 404)
    return _html(site.renderer.settings(page, match.provider, Target(domain)), PUBLIC_PAGE)


def _static(asset: Asset) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=asset.body,
            headers={**SECURITY_HEADERS, **STATIC_CACHE, "Content-Type": asset.content_type},
        )

    return handler


def add_routes(
    app: web.Application,
    catalog: Callable[[], Catalog],
    wrap: Callable[[Handler], Handler] = lambda handler: handler,
) -> None:
    """Serve the page on `app`: `/`, `/settings`, `/settings/{domain}` and its static files.

    `wrap` decorates each handler (the app's request ids, metrics and access log).
    """
    site = SettingsSite(shipped_renderer(), catalog)
    app[SITE] = site
    app.router.add_get("/", wrap(index))
    app.router.add_get("/settings", wrap(settings_for_address))
    app.router.add_get("/settings/{domain}", wrap(settings_for_domain))
    for asset in site.renderer.assets.values():
        app.router.add_get(asset.path, wrap(_static(asset)))
