"""HTTP in, HTTP out: the aiohttp application and its handlers.

Handlers only turn a request into (domain or address, format) and the rendered bytes back into a
response with the right status, content type and cache headers. No XML is built here.
"""

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .address import (
    AddressError,
    EmailAddress,
    domain_from_host,
    normalize_domain,
    parse_address,
    substitute,
)
from .autodiscover_request import AutodiscoverRequestError, parse_request
from .catalog import Catalog, Match
from .formats import outlook, pacc
from .loader import Config, load_config
from .reload import ConfigState, Reloader

MAX_BODY_BYTES = 16 * 1024
"""Autodiscover requests are a few hundred bytes; anything past 16 KiB is refused with 413."""

THUNDERBIRD_PATHS = ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml")
AUTODISCOVER_PATH = r"/{path:(?i:autodiscover/autodiscover\.xml)}"
ADDRESS_PARAMETERS = ("emailaddress", "email")

THUNDERBIRD_HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "Access-Control-Allow-Origin": "*",
}
"""The Thunderbird answer is the same for every user of a domain, so shared caches may keep it."""

PRIVATE_HEADERS = {"Cache-Control": "no-store"}
"""Autodiscover answers carry the address; no cache should keep them."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How the server is run; built by the CLI, passed to create_app, never changed."""

    config_path: Path = Path("providers.yaml")
    host: str = "127.0.0.1"
    port: int = 8080
    watch: bool = False
    """Reload when a loaded file changes (polled every `poll_interval` seconds)."""
    reload_on_sighup: bool = False
    poll_interval: float = 1.0
    public_url: str | None = None
    """Base URL clients reach this server at (https://autoconfig.example.com); behind a proxy
    the server cannot know it. Unset: https:// and the request's Host."""
    profile_cert: Path | None = None
    """PEM certificate chain that signs Apple profiles (the first certificate is the signer)."""
    profile_key: Path | None = None
    """PEM private key of the profile-signing certificate."""


STATE = web.AppKey("state", ConfigState)
RELOADER = web.AppKey("reloader", Reloader)


def _query_value(request: web.Request, names: Iterable[str]) -> str | None:
    """A query parameter by any of its names, in any letter case (clients are not consistent)."""
    wanted = set(names)
    for key, value in request.query.items():
        if key.lower() in wanted:
            return value
    return None


def _not_served(domain: str) -> web.Response:
    return web.Response(
        status=404,
        text=f"No mail settings are published here for {domain}.\n",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _thunderbird_answer(match: Match) -> web.Response:
    if not match.provider.has_settings:
        return _not_served(match.domain)
    return web.Response(
        body=match.entry.thunderbird.fill(match.domain),
        content_type="text/xml",
        charset="utf-8",
        headers=THUNDERBIRD_HEADERS,
    )


async def thunderbird_config(request: web.Request) -> web.Response:
    """`config-v1.1.xml`: the domain comes from `emailaddress`, else from the Host header."""
    catalog = request.app[STATE].catalog
    address_problem = None
    given = _query_value(request, ("emailaddress",))
    if given:
        try:
            address = parse_address(given)
        except AddressError as exc:
            address_problem = str(exc)
        else:
            match = catalog.lookup(address.ascii_domain)
            return _thunderbird_answer(match) if match else _not_served(address.ascii_domain)
    try:
        domain = domain_from_host(request.host, ("autoconfig.",))
    except AddressError:
        domain = None
    match = catalog.lookup(domain) if domain else None
    if match is not None:
        return _thunderbird_answer(match)
    if address_problem is not None:
        raise web.HTTPBadRequest(text=f"emailaddress: {address_problem}\n")
    if domain is None:
        raise web.HTTPBadRequest(text="Give ?emailaddress=you@your.domain\n")
    return _not_served(domain)


async def thunderbird_ispdb(request: web.Request) -> web.Response:
    """`/v1.1/{domain}`: the ISPDB URL form, for clients pointed at this server as their ISPDB."""
    try:
        domain = normalize_domain(request.match_info["domain"])
    except AddressError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from exc
    match = request.app[STATE].catalog.lookup(domain)
    return _thunderbird_answer(match) if match else _not_served(domain)


def _autodiscover_xml(body: bytes) -> web.Response:
    return web.Response(
        body=body, content_type="text/xml", charset="utf-8", headers=PRIVATE_HEADERS
    )


def _autodiscover_error(code: outlook.ErrorCode, debug: str = "") -> web.Response:
    return _autodiscover_xml(outlook.render_error(code, debug))


def _autodiscover_answer(catalog: Catalog, address: EmailAddress) -> web.Response:
    match = catalog.lookup(address.ascii_domain)
    if match is None:
        return _autodiscover_error(outlook.ErrorCode.ADDRESS_NOT_FOUND)
    redirect = match.redirect
    if redirect is not None and redirect.url is not None:
        raise web.HTTPFound(redirect.url, headers=PRIVATE_HEADERS)
    if redirect is not None and redirect.address is not None:
        target = substitute(redirect.address, address)
        return _autodiscover_xml(outlook.render_redirect_address(target))
    return _autodiscover_xml(match.entry.outlook.fill(address))


async def autodiscover_post(request: web.Request) -> web.Response:
    """Outlook POX: the address comes from the XML body."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, request.content_length)
    body = await request.read()
    try:
        parsed = parse_request(body)
    except AutodiscoverRequestError as exc:
        return _autodiscover_error(exc.code, exc.reason)
    try:
        address = parse_address(parsed.email)
    except AddressError as exc:
        return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, f"EMailAddress: {exc}")
    return _autodiscover_answer(request.app[STATE].catalog, address)


async def autodiscover_get(request: web.Request) -> web.Response:
    """Clients that GET the POX URL: an address parameter, or the domain from the Host header."""
    catalog = request.app[STATE].catalog
    given = _query_value(request, ADDRESS_PARAMETERS)
    if given:
        try:
            address = parse_address(given)
        except AddressError as exc:
            return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, f"address: {exc}")
        return _autodiscover_answer(catalog, address)
    try:
        domain = domain_from_host(request.host, ("autodiscover.",))
    except AddressError:
        return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, "no address was given")
    match = catalog.lookup(domain)
    redirect = match.redirect if match else None
    if redirect is not None and redirect.url is not None:
        raise web.HTTPFound(redirect.url, headers=PRIVATE_HEADERS)
    provider = match.provider if match else None
    if provider is None or redirect is not None or not provider.has_settings:
        return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, "no address was given")
    if provider.hosts_need_local_part:
        return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, "the address is needed")
    return _autodiscover_xml(outlook.render_settings(provider, None, domain))


async def pacc_document(request: web.Request) -> web.Response:
    """PACC: the domain comes from the Host (`ua-auto-config.<domain>`, or `<domain>` itself).

    Served identity-encoded: clients hash the decoded body against the TXT record.
    """
    try:
        domain = domain_from_host(request.host, (pacc.HOST_PREFIX,))
    except AddressError:
        return _not_served("this host name")
    match = request.app[STATE].catalog.lookup(domain)
    if match is None or not match.provider.has_settings:
        return _not_served(domain)
    return web.Response(
        body=pacc.render(match.provider, match.domain),
        content_type=pacc.CONTENT_TYPE,
        charset="utf-8",
        headers=THUNDERBIRD_HEADERS,
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness with the configuration's story: generation, load time, last reload error."""
    return web.json_response(request.app[STATE].health(), headers={"Cache-Control": "no-store"})


def create_app(settings: Settings, config: Config | None = None) -> web.Application:
    """The application for one configuration, loaded from settings unless given.

    Raises ConfigInvalid when the file is broken: a server never starts without a good catalog.
    """
    if config is None:
        config = load_config(settings.config_path)
    state = ConfigState(
        catalog=Catalog.from_config(config), path=settings.config_path, files=config.files
    )
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE] = state
    app[RELOADER] = Reloader(state, poll_interval=settings.poll_interval)

    async def reloading(app: web.Application) -> AsyncIterator[None]:
        async with app[RELOADER].running(watch=settings.watch, sighup=settings.reload_on_sighup):
            yield

    app.cleanup_ctx.append(reloading)
    app.router.add_get("/healthz", healthz)
    for path in THUNDERBIRD_PATHS:
        app.router.add_get(path, thunderbird_config)
    app.router.add_get("/v1.1/{domain}", thunderbird_ispdb)
    for path in (pacc.PATH, pacc.LEGACY_PATH):
        app.router.add_get(path, pacc_document)
    app.router.add_post(AUTODISCOVER_PATH, autodiscover_post)
    app.router.add_get(AUTODISCOVER_PATH, autodiscover_get)
    return app
