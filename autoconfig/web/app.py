"""HTTP in, HTTP out: the aiohttp application and its handlers.

Handlers only turn a request into (domain or address, format) and the rendered bytes back into a
response with the right status, content type and cache headers. No XML is built here.
"""

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from aiohttp import hdrs, web
from multidict import CIMultiDict
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..address import (
    AddressError,
    EmailAddress,
    check_host_local_part,
    domain_from_host,
    normalize_domain,
    parse_address,
    substitute,
)
from ..catalog import Catalog, Match
from ..config.loader import Config, load_config
from ..formats import autodiscover_json, mobileconfig, mobilesync, outlook, pacc
from ..formats.pox_request import AutodiscoverRequestError, Family, parse_request
from ..formats.profile_signing import ProfileSigner, SigningSetupError, load_signer
from ..reload import ConfigState, Reloader
from . import observe, settings_page
from .dispatch import FAST_ROUTES, FastHandler
from .host import MAX_HOST_OCTETS, HostError, public_base_url
from .limits import TokenBuckets, retry_after
from .observe import ADDRESS_KEY, LogFormat, Metrics, ObserveSettings
from .proxies import ProxyPolicy, parse_networks
from .query import ADDRESS_PARAMETERS, address_in_query, query_value

MAX_BODY_BYTES = 16 * 1024
"""Autodiscover requests are a few hundred bytes; anything past 16 KiB is refused with 413."""

THUNDERBIRD_PATHS = ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml")
AUTODISCOVER_PATH = r"/{path:(?i:autodiscover/autodiscover\.xml)}"
COMMON_AUTODISCOVER_PATHS = ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml")
"""The spellings clients send, as plain routes: found by a dict lookup, not the regex above."""
AUTODISCOVER_JSON_PATHS = (
    "/autodiscover/autodiscover.json",
    "/autodiscover/autodiscover.json/v1.0/{address}",
    r"/{path:(?i:autodiscover/autodiscover\.json(?:/v1\.0)?)}",
    r"/{path:(?i:autodiscover/autodiscover\.json/v1\.0)}/{address:.+}",
)
"""Autodiscover v2: the address as ?Email=..., or as the path segment after /v1.0/."""

THUNDERBIRD_HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "Access-Control-Allow-Origin": "*",
}
"""The Thunderbird answer is the same for every user of a domain, so shared caches may keep it."""

PRIVATE_HEADERS = {"Cache-Control": "no-store"}
"""Autodiscover answers carry the address; no cache should keep them."""

_XML = {"Content-Type": "text/xml; charset=utf-8"}
_TB_XML = CIMultiDict({**_XML, **THUNDERBIRD_HEADERS})
_PRIVATE_XML = CIMultiDict({**_XML, **PRIVATE_HEADERS})
_PRIVATE_JSON = CIMultiDict({"Content-Type": "application/json; charset=utf-8", **PRIVATE_HEADERS})
"""Whole header sets, built once: the hot paths then skip content-type parsing per request."""

_EMAILADDRESS = ("emailaddress",)
_EMAIL = ("email",)

ClientHandler = observe.Handler | observe.PlainHandler

APPLE_PROFILE_PATHS = ("/email.mobileconfig", "/apple/mobileconfig")


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
    settings_page: bool = True
    """Serve the page people read (`/`, `/settings`); off for providers that do not want it."""
    trusted_proxies: tuple[str, ...] = ()
    """Peers (addresses or networks) whose X-Forwarded-For/-Proto/-Host headers are believed."""
    observe: ObserveSettings = field(default_factory=ObserveSettings)
    rate_limit: float = 0.0
    """Requests a second per client IP; 0 turns the limit off."""
    rate_burst: float = 20.0
    body_timeout: float = 10.0
    """Seconds a client may take to send a request body before it gets 408."""
    metrics_on_main_port: bool = True


STATE = web.AppKey("state", ConfigState)
PROXIES = web.AppKey("proxies", ProxyPolicy)
METRICS = web.AppKey("metrics", Metrics)
IN_FLIGHT = web.AppKey("in_flight", observe.InFlight)
WRAP = web.AppKey("wrap", Callable[[observe.Handler | observe.PlainHandler], observe.Handler])
"""Adds request ids, metrics and access logs to a handler; other listeners' apps use it too."""
DRAINING = web.AppKey("draining", asyncio.Event)
"""Set on shutdown: /readyz then answers 503 so load balancers stop sending new requests."""
RELOADER = web.AppKey("reloader", Reloader)
SETTINGS = web.AppKey("settings", Settings)
PROFILE_SIGNER = web.AppKey("profile_signer", ProfileSigner)
"""Set only when profile signing is configured."""
CLIENTS = web.AppKey("clients", "ClientEndpoints")


def _not_served(domain: str) -> web.Response:
    return web.Response(
        status=404,
        text=f"No mail settings are published here for {domain}.\n",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _thunderbird_answer(match: Match) -> web.Response:
    if not match.entry.has_settings:
        return _not_served(match.domain)
    return web.Response(body=match.entry.thunderbird.fill(match.domain), headers=_TB_XML)


def _autodiscover_xml(body: bytes) -> web.Response:
    return web.Response(body=body, headers=_PRIVATE_XML)


def _autodiscover_error(code: outlook.ErrorCode, debug: str = "") -> web.Response:
    return _autodiscover_xml(outlook.render_error(code, debug))


def _autodiscover_answer(catalog: Catalog, address: EmailAddress) -> web.Response:
    match = catalog.lookup(address.ascii_domain)
    if match is None:
        return _autodiscover_error(outlook.ErrorCode.ADDRESS_NOT_FOUND)
    entry = match.entry
    try:
        check_host_local_part(address, entry.hosts_need_local_part)
    except AddressError as exc:
        return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, f"EMailAddress: {exc}")
    redirect = match.redirect
    if redirect is not None and redirect.url is not None:
        raise web.HTTPFound(redirect.url, headers=PRIVATE_HEADERS)
    if redirect is not None and redirect.address is not None:
        target = substitute(redirect.address, address)
        return _autodiscover_xml(outlook.render_redirect_address(target))
    return _autodiscover_xml(entry.outlook.fill(address))


def _mobilesync_answer(catalog: Catalog, address: EmailAddress) -> web.Response:
    """ActiveSync devices: the provider's ActiveSync URL, a redirect, or "no ActiveSync here"."""
    match = catalog.lookup(address.ascii_domain)
    if match is None:
        problem = mobilesync.Problem.UNKNOWN_DOMAIN
        return _autodiscover_xml(mobilesync.render_error(address, problem, address.domain))
    redirect = match.redirect
    if redirect is not None and redirect.url is not None:
        raise web.HTTPFound(redirect.url, headers=PRIVATE_HEADERS)
    if redirect is not None and redirect.address is not None:
        target = substitute(redirect.address, address)
        return _autodiscover_xml(mobilesync.render_redirect(address, target))
    if match.entry.mobilesync is None:
        problem = mobilesync.Problem.NO_ACTIVESYNC
        return _autodiscover_xml(mobilesync.render_error(address, problem, address.domain))
    return _autodiscover_xml(match.entry.mobilesync.fill(address))


def _json(body: bytes, status: int = 200) -> web.Response:
    """Autodiscover v2 answers; errors that mean "not here" are 404, so Outlook tries on."""
    return web.Response(status=status, body=body, headers=_PRIVATE_JSON)


@functools.lru_cache(maxsize=1024)
def _domain_named_by_host(name: str) -> str | None:
    """The domain a Host name stands for (service prefix removed), None for IPs and non-names.

    Memoised: a server is reached under a handful of names, and normalising one (the IP
    check, IDNA) costs more than the rest of an autodiscover.json request. Bounded, so that
    clients sending made-up names cannot grow it.
    """
    try:
        return domain_from_host(name, ("autodiscover.", "autoconfig."))
    except AddressError:
        return None


def _host_belongs_to(host: str, domain: str, match: Match, catalog: Catalog) -> bool:
    """Whether a Host names the address's own domain, or a domain of the same provider."""
    if not host or host.startswith("["):
        return False
    name = host.rsplit(":", 1)[0].lower().rstrip(".")
    if name == domain or name.endswith("." + domain):
        return True
    own = _domain_named_by_host(name)
    if own is None:
        return False
    other = catalog.lookup(own)
    return other is not None and other.entry is match.entry and other.listing.listed


def _profile_signer(settings: Settings) -> ProfileSigner | None:
    """The signer, loaded now so that a bad file stops start-up instead of failing requests."""
    if settings.profile_cert is None:
        if settings.profile_key is not None:
            raise SigningSetupError("--profile-key needs --profile-cert (the certificate chain)")
        return None
    return load_signer(settings.profile_cert, settings.profile_key)


class ClientEndpoints:
    """The handlers mail clients call, bound to one app's state, settings and proxies.

    They never read `request.app`, so the fast dispatcher (dispatch.py) can hand them requests
    without routing them first; the router calls the very same methods for everything else.
    Those that wait for nothing are plain functions: the route wrapper (observe.py) calls them
    without making a coroutine, which cost a twentieth of a Thunderbird answer.
    """

    __slots__ = (
        "_logging",
        "_own_pox_answer",
        "_proxies",
        "_settings",
        "_signer",
        "_state",
    )

    def __init__(
        self,
        state: ConfigState,
        settings: Settings,
        proxies: ProxyPolicy,
        signer: ProfileSigner | None,
    ) -> None:
        self._state = state
        self._settings = settings
        self._proxies = proxies
        self._signer = signer
        self._logging = settings.observe.log_format is not LogFormat.OFF
        """Whether the access log wants the address (stored on the request only then)."""
        self._own_pox_answer = (
            autodiscover_json.render_autodiscover_v1(
                autodiscover_json.pox_url(public_base_url(settings.public_url, None))
            )
            if settings.public_url
            else b""
        )
        """The autodiscover.json answer pointing at this server, when its URL is configured
        (empty otherwise: the URL then comes from the request)."""

    def _host(self, request: web.Request) -> str:
        """The Host asked for (X-Forwarded-Host only from a trusted proxy); empty when none."""
        return self._proxies.host(request) or ""

    def thunderbird_config(self, request: web.Request) -> web.Response:
        """`config-v1.1.xml`: the domain comes from `emailaddress`, else from the Host header."""
        catalog = self._state.catalog
        address_problem = None
        try:
            address = address_in_query(request, _EMAILADDRESS)
        except AddressError as exc:
            address, address_problem = None, str(exc)
        if address is not None:
            if self._logging:
                request[ADDRESS_KEY] = address
            domain = address.ascii_domain
            match = catalog.lookup(domain)
            return _thunderbird_answer(match) if match else _not_served(domain)
        try:
            domain = domain_from_host(self._host(request), ("autoconfig.",))
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

    def thunderbird_ispdb(self, request: web.Request) -> web.Response:
        """`/v1.1/{domain}`: the ISPDB URL form, for clients using this server as their ISPDB."""
        try:
            domain = normalize_domain(request.match_info["domain"])
        except AddressError as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from exc
        match = self._state.catalog.lookup(domain)
        return _thunderbird_answer(match) if match else _not_served(domain)

    async def autodiscover_post(self, request: web.Request) -> web.Response:
        """Outlook POX: the address comes from the XML body."""
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, length)
        if request.content.is_eof():
            body = await request.read()
        else:
            try:
                async with asyncio.timeout(self._settings.body_timeout):
                    body = await request.read()
            except TimeoutError:
                raise web.HTTPRequestTimeout(
                    text="the request body did not arrive in time\n"
                ) from None
        try:
            parsed = parse_request(body)
        except AutodiscoverRequestError as exc:
            return _autodiscover_error(exc.code, exc.reason)
        try:
            address = parse_address(parsed.email)
        except AddressError as exc:
            return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, f"EMailAddress: {exc}")
        if self._logging:
            request[ADDRESS_KEY] = address
        catalog = self._state.catalog
        if parsed.family is Family.MOBILESYNC:
            return _mobilesync_answer(catalog, address)
        return _autodiscover_answer(catalog, address)

    def autodiscover_get(self, request: web.Request) -> web.Response:
        """Clients that GET the POX URL: an address parameter, or the domain from the Host."""
        catalog = self._state.catalog
        try:
            address = address_in_query(request, ADDRESS_PARAMETERS)
        except AddressError as exc:
            return _autodiscover_error(outlook.ErrorCode.INVALID_REQUEST, f"address: {exc}")
        if address is not None:
            return _autodiscover_answer(catalog, address)
        try:
            domain = domain_from_host(self._host(request), ("autodiscover.",))
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

    def pacc_document(self, request: web.Request) -> web.Response:
        """PACC: the domain comes from the Host (`ua-auto-config.<domain>`, or `<domain>`).

        Served identity-encoded: clients hash the decoded body against the TXT record.
        """
        try:
            domain = domain_from_host(self._host(request), (pacc.HOST_PREFIX,))
        except AddressError:
            return _not_served("this host name")
        match = self._state.catalog.lookup(domain)
        if match is None or not match.provider.has_settings:
            return _not_served(domain)
        return web.Response(
            body=pacc.render(match.provider, match.domain),
            content_type=pacc.CONTENT_TYPE,
            charset="utf-8",
            headers=THUNDERBIRD_HEADERS,
        )

    def apple_profile(self, request: web.Request) -> web.Response:
        """An Apple configuration profile for the `emailaddress` (or `email`) parameter.

        Made for one address, so never cached; signed when a certificate is configured.
        """
        try:
            address = address_in_query(request, ADDRESS_PARAMETERS)
        except AddressError as exc:
            raise web.HTTPBadRequest(text=f"address: {exc}\n") from exc
        if address is None:
            raise web.HTTPBadRequest(text="Give ?emailaddress=you@your.domain\n")
        if self._logging:
            request[ADDRESS_KEY] = address
        match = self._state.catalog.lookup(address.ascii_domain)
        if match is None:
            return _not_served(address.ascii_domain)
        entry = match.entry
        try:
            check_host_local_part(address, entry.hosts_need_local_part)
        except AddressError as exc:
            raise web.HTTPBadRequest(text=f"address: {exc}\n") from exc
        try:
            body = entry.mobileconfig.fill(address)
        except mobileconfig.ProfileUnavailable as exc:
            return web.Response(
                status=404, text=f"{exc}\n", headers={"Cache-Control": "public, max-age=300"}
            )
        if self._signer is not None:
            body = self._signer.sign(body)
        return web.Response(body=body, headers=entry.mobileconfig_headers)

    def autodiscover_json_get(self, request: web.Request) -> web.Response:
        """Autodiscover v2 (JSON), address as `?Email=`: the URL of one protocol, or an error."""
        return self._autodiscover_json(request, None)

    def autodiscover_json_path(self, request: web.Request) -> web.Response:
        """Autodiscover v2 (JSON), address as the path segment after `/v1.0/`."""
        return self._autodiscover_json(request, request.match_info["address"])

    def _autodiscover_json(self, request: web.Request, in_path: str | None) -> web.Response:
        """The answer for the address in the path, or (`in_path` None) in the query."""
        given_protocol = query_value(request, ("protocol",))
        protocol = autodiscover_json.parse_protocol(given_protocol)
        if protocol is None:
            return _json(autodiscover_json.render_protocol_error(given_protocol), 400)
        try:
            address = (
                address_in_query(request, _EMAIL) if in_path is None else parse_address(in_path)
            )
        except AddressError as exc:
            return _json(autodiscover_json.render_invalid_address(str(exc)), 400)
        if address is None:
            return _json(autodiscover_json.render_missing_address(), 400)
        if self._logging:
            request[ADDRESS_KEY] = address
        match = self._state.catalog.lookup(address.ascii_domain)
        if match is None:
            return _json(autodiscover_json.render_unknown_domain(address.domain), 404)
        if protocol is autodiscover_json.Protocol.AUTODISCOVER_V1:
            return self._json_autodiscover_v1(request, match, address)
        body = (
            autodiscover_json.render_activesync(match.provider) if match.redirect is None else None
        )
        if body is None:
            return _json(autodiscover_json.render_not_offered(protocol, address.domain), 404)
        return _json(body)

    def _json_autodiscover_v1(
        self, request: web.Request, match: Match, address: EmailAddress
    ) -> web.Response:
        """The POX URL: the redirect target of a domain sent elsewhere, else this server's own.

        Without --public-url the Host names the server, but only a Host inside the address's
        own domain (autodiscover.example.com for example.com), or a name of the same provider,
        is believed: a forged Host must never send a client to someone else's server.
        """
        redirect = match.redirect
        if redirect is not None and redirect.url is not None:
            return _json(autodiscover_json.render_autodiscover_v1(redirect.url))
        if self._own_pox_answer:
            return _json(self._own_pox_answer)
        host = self._host(request)
        if not _host_belongs_to(host, address.ascii_domain, match, self._state.catalog):
            host = f"autodiscover.{address.ascii_domain}"
            if len(host) <= MAX_HOST_OCTETS:  # a normalised domain: a valid host name
                own = autodiscover_json.pox_url(f"https://{host}")
                return _json(autodiscover_json.render_autodiscover_v1(own))
        try:
            base = public_base_url(None, host)
        except HostError as exc:
            return _json(autodiscover_json.render_invalid_host(str(exc)), 400)
        return _json(autodiscover_json.render_autodiscover_v1(autodiscover_json.pox_url(base)))


async def expect_continue(request: web.Request) -> None:
    """`Expect: 100-continue` is honoured; anything else gets 417 without echoing the header.

    aiohttp's own handler quotes the header in its answer and fails (500) on bytes it cannot
    encode.
    """
    if request.version >= (1, 1) and request.headers.get(hdrs.EXPECT, "").lower() == (
        "100-continue"
    ):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return
    raise web.HTTPExpectationFailed(text="Unsupported Expect header.\n")


async def readyz(request: web.Request) -> web.Response:
    """Readiness: a catalog is loaded (always, once the app exists) and no shutdown is under way."""
    if request.app[DRAINING].is_set():
        return web.json_response({"ready": False, "reason": "shutting down"}, status=503)
    return web.json_response({"ready": True}, headers={"Cache-Control": "no-store"})


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus text exposition of this app's own registry."""
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _catalog_gauges(state: ConfigState, reloader: Reloader) -> Callable[[], dict[str, float]]:
    def describe() -> dict[str, float]:
        return {
            "autoconfig_config_generation": state.generation,
            "autoconfig_catalog_providers": len(state.catalog.entries),
            "autoconfig_catalog_domains": state.catalog.domain_count,
            "autoconfig_reloads_succeeded": reloader.succeeded,
            "autoconfig_reloads_failed": reloader.failed,
            "autoconfig_config_degraded": 1.0 if state.last_failure else 0.0,
        }

    return describe


def _rate_limiter(
    buckets: TokenBuckets, proxies: ProxyPolicy
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def limit(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        wait = buckets.take(proxies.client_ip(request))
        if wait > 0:
            return web.Response(
                status=429,
                text="Too many requests; try again later.\n",
                headers={"Retry-After": retry_after(wait), "Cache-Control": "no-store"},
            )
        return await handler(request)

    return limit


FAMILIES: dict[str, tuple[str, str]] = {
    "thunderbird_config": ("config-v1.1.xml", "thunderbird"),
    "thunderbird_ispdb": ("ispdb", "thunderbird"),
    "autodiscover_post": ("autodiscover.xml", "outlook"),
    "autodiscover_get": ("autodiscover.xml", "outlook"),
    "autodiscover_json_get": ("autodiscover.json", "outlook-json"),
    "autodiscover_json_path": ("autodiscover.json", "outlook-json"),
    "apple_profile": ("mobileconfig", "apple"),
    "pacc_document": ("user-agent-configuration", "pacc"),
    "healthz": ("healthz", "operations"),
    "readyz": ("readyz", "operations"),
    "metrics_page": ("metrics", "operations"),
    "to_https": ("http-redirect", "redirect"),
}
"""Metric labels per handler; the settings page's handlers count as family "people"."""


async def healthz(request: web.Request) -> web.Response:
    """Liveness with the configuration's story: generation, load time, last reload error."""
    return web.json_response(request.app[STATE].health(), headers={"Cache-Control": "no-store"})


def create_app(settings: Settings, config: Config | None = None) -> web.Application:
    """The application for one configuration, loaded from settings unless given.

    Raises ConfigInvalid when the file is broken: a server never starts without a good catalog.
    Raises SigningSetupError when profile signing is configured with unusable files.
    """
    signer = _profile_signer(settings)
    if config is None:
        config = load_config(settings.config_path)
    state = ConfigState(
        catalog=Catalog.from_config(config), path=settings.config_path, files=config.files
    )
    reloader = Reloader(state, poll_interval=settings.poll_interval)
    proxies = ProxyPolicy(parse_networks(settings.trusted_proxies))
    metrics = Metrics(_catalog_gauges(state, reloader))
    in_flight = observe.InFlight()
    observed = observe.Observer(metrics, settings.observe, proxies, in_flight)

    def labels(handler: object) -> tuple[str, str]:
        name = getattr(handler, "__name__", "")
        return FAMILIES.get(name, (name or "static", "people"))

    def wrap(handler: observe.Handler | observe.PlainHandler) -> observe.Handler:
        return observed(handler, *labels(handler))

    middlewares = []
    if settings.rate_limit > 0:
        middlewares.append(
            _rate_limiter(TokenBuckets(settings.rate_limit, settings.rate_burst), proxies)
        )
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)
    app[STATE] = state
    app[RELOADER] = reloader
    app[SETTINGS] = settings
    app[PROXIES] = proxies
    app[METRICS] = metrics
    app[DRAINING] = asyncio.Event()
    app[IN_FLIGHT] = in_flight
    app[WRAP] = wrap

    async def flush_access_log(app: web.Application) -> None:
        settings.observe.writer.flush()

    app.on_cleanup.append(flush_access_log)
    if signer is not None:
        app[PROFILE_SIGNER] = signer

    async def reloading(app: web.Application) -> AsyncIterator[None]:
        async with app[RELOADER].running(watch=settings.watch, sighup=settings.reload_on_sighup):
            yield

    app.cleanup_ctx.append(reloading)
    app.router.add_get("/healthz", wrap(healthz))
    app.router.add_get("/readyz", wrap(readyz))
    if settings.metrics_on_main_port:
        app.router.add_get("/metrics", wrap(metrics_page))
    clients = ClientEndpoints(state, settings, proxies, signer)
    app[CLIENTS] = clients
    fast: dict[tuple[str, str], FastHandler] = {}

    def add(method: str, paths: Iterable[str], handler: ClientHandler) -> None:
        """Routes for a client handler; plain paths also go into the fast dispatcher's table,
        as the handler observed without a coroutine when it waits for nothing."""
        quick: FastHandler
        if inspect.iscoroutinefunction(handler):
            quick = routed = wrap(handler)
        else:  # observed once; the router gets a coroutine around the same function
            quick = observed.plain(cast(observe.PlainHandler, handler), *labels(handler))
            routed = observe.as_coroutine(quick)
        for path in paths:
            if method == "GET":
                app.router.add_get(path, routed)  # and HEAD
            else:
                app.router.add_post(path, routed)
            if "{" not in path:
                fast[(method, path)] = quick

    add("GET", THUNDERBIRD_PATHS, clients.thunderbird_config)
    add("GET", ["/v1.1/{domain}"], clients.thunderbird_ispdb)
    add("GET", (pacc.PATH, pacc.LEGACY_PATH), clients.pacc_document)
    add("POST", (*COMMON_AUTODISCOVER_PATHS, AUTODISCOVER_PATH), clients.autodiscover_post)
    add("GET", (*COMMON_AUTODISCOVER_PATHS, AUTODISCOVER_PATH), clients.autodiscover_get)
    add(
        "GET",
        [p for p in AUTODISCOVER_JSON_PATHS if "{address" not in p],
        clients.autodiscover_json_get,
    )
    add(
        "GET",
        [p for p in AUTODISCOVER_JSON_PATHS if "{address" in p],
        clients.autodiscover_json_path,
    )
    add("GET", APPLE_PROFILE_PATHS, clients.apple_profile)
    if not middlewares:
        app[FAST_ROUTES] = fast
    if settings.settings_page:
        settings_page.add_routes(app, lambda: state.catalog, wrap)
    for route in app.router.routes():
        route._expect_handler = expect_continue  # type: ignore[attr-defined]
    return app
