"""The aiohttp applications of one server, built from the client families' route tables.

`create_app` loads the configuration and makes what every listener of the server shares (the
catalog state and its reloader, the proxy policy, the metrics, the rate limit: a `Service`);
the main app, the plain-HTTP listener's and the metrics listener's are then each one route
table mounted on an app (routes.py). Handlers only turn a request into (address or domain,
format) and the rendered bytes back into a response; no XML is built in web/.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from ..catalog import Catalog
from ..config.loader import Config, load_config
from ..formats.profile_signing import ProfileSigner, SigningSetupError, load_signer
from ..reload import ConfigState, Reloader
from .apple import AppleEndpoints
from .autodiscover import MAX_BODY_BYTES, AutodiscoverEndpoints
from .autodiscover_json import AutodiscoverJsonEndpoints
from .dispatch import FAST_TABLE, FastTable
from .limits import RateLimit, TokenBuckets
from .observe import InFlight, LogFormat, Metrics, Observer, ObserveSettings
from .operations import UNLIMITED, OperationsEndpoints
from .pacc import PaccEndpoints
from .plain_http import PlainHttpEndpoints
from .proxies import ProxyPolicy, parse_networks
from .routes import PathRoute, Route, mount
from .settings_page import SettingsPageEndpoints
from .thunderbird import ThunderbirdEndpoints


@dataclass(frozen=True, slots=True)
class AppOptions:
    """How the app behaves; built by the CLI (options.py), passed to create_app, never changed.

    Where and how it listens (host, port, TLS, workers) is the server's: server.ServerOptions.
    """

    config_path: Path = Path("providers.yaml")
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


@dataclass(frozen=True, slots=True)
class Service:
    """What every listener of one server shares: one catalog, one budget per client, one set
    of metrics."""

    options: AppOptions
    state: ConfigState
    reloader: Reloader
    proxies: ProxyPolicy
    metrics: Metrics
    observer: Observer
    in_flight: InFlight
    draining: asyncio.Event
    """Set on shutdown: /readyz then answers 503 so load balancers stop sending new requests."""
    limit: RateLimit | None
    signer: ProfileSigner | None
    """Set only when profile signing is configured."""
    operations: OperationsEndpoints


SERVICE = web.AppKey("service", Service)
TABLE = web.AppKey("table", tuple[Route | PathRoute, ...])
"""The main app's route table, which the plain-HTTP listener takes its routes from."""


def _profile_signer(options: AppOptions) -> ProfileSigner | None:
    """The signer, loaded now so that a bad file stops start-up instead of failing requests."""
    if options.profile_cert is None:
        if options.profile_key is not None:
            raise SigningSetupError("--profile-key needs --profile-cert (the certificate chain)")
        return None
    return load_signer(options.profile_cert, options.profile_key)


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


def _service(options: AppOptions, config: Config, signer: ProfileSigner | None) -> Service:
    state = ConfigState(
        catalog=Catalog.from_config(config), path=options.config_path, files=config.files
    )
    reloader = Reloader(state, poll_interval=options.poll_interval)
    proxies = ProxyPolicy(parse_networks(options.trusted_proxies))
    metrics = Metrics(
        _catalog_gauges(state, reloader),
        lambda: {source.name: source.name in state.source_errors for source in reloader.sources},
    )
    in_flight = InFlight()
    draining = asyncio.Event()
    limit = (
        RateLimit(TokenBuckets(options.rate_limit, options.rate_burst), proxies, UNLIMITED)
        if options.rate_limit > 0
        else None
    )
    return Service(
        options=options,
        state=state,
        reloader=reloader,
        proxies=proxies,
        metrics=metrics,
        observer=Observer(metrics, options.observe, proxies, in_flight),
        in_flight=in_flight,
        draining=draining,
        limit=limit,
        signer=signer,
        operations=OperationsEndpoints(state, draining, metrics),
    )


def client_routes(service: Service) -> list[Route | PathRoute]:
    """Every route of the main listener, in the order the router tries them."""
    options, state, proxies = service.options, service.state, service.proxies
    keep_address = options.observe.log_format is not LogFormat.OFF
    operations = service.operations
    table: list[Route | PathRoute] = [*operations.probes()]
    if options.metrics_on_main_port:
        table += operations.metrics()
    table += [
        *ThunderbirdEndpoints(state, proxies, keep_address).routes(),
        *PaccEndpoints(state, proxies).routes(),
        *AutodiscoverEndpoints(state, proxies, options.body_timeout, keep_address).routes(),
        *AutodiscoverJsonEndpoints(state, proxies, options.public_url, keep_address).routes(),
        *AppleEndpoints(state, service.signer, keep_address).routes(),
    ]
    if options.settings_page:
        table += SettingsPageEndpoints(state).routes()
    return table


def listener_app(
    service: Service, table: Iterable[Route | PathRoute], *, observed: bool = True
) -> web.Application:
    """An app serving `table` for `service`, guarded by its rate limit, with its fast table."""
    limit = service.limit
    middlewares = [limit.middleware] if limit is not None else []
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=middlewares)
    app[SERVICE] = service
    observer = service.observer if observed else None
    fast = mount(app, table, observer)
    request_id = observer.request_id if observer is not None else None
    app[FAST_TABLE] = FastTable(fast, limit, request_id)
    return app


def create_app(options: AppOptions, config: Config | None = None) -> web.Application:
    """The main application for one configuration, loaded from `options` unless given.

    Raises ConfigInvalid when the file is broken: a server never starts without a good catalog.
    Raises SigningSetupError when profile signing is configured with unusable files.
    """
    signer = _profile_signer(options)
    if config is None:
        config = load_config(options.config_path)
    service = _service(options, config, signer)
    table = tuple(client_routes(service))
    app = listener_app(service, table)
    app[TABLE] = table

    async def flush_access_log(app: web.Application) -> None:
        options.observe.writer.flush()

    async def reloading(app: web.Application) -> AsyncIterator[None]:
        async with service.reloader.running(watch=options.watch, sighup=options.reload_on_sighup):
            yield

    app.on_cleanup.append(flush_access_log)
    app.cleanup_ctx.append(reloading)
    return app


def plain_http_app(main: web.Application) -> web.Application:
    """The plain-HTTP listener's app: the main app's routes marked for it, then the redirect of
    everything else to https; same state, same rate-limit buckets, same metrics."""
    service = main[SERVICE]
    marked = [route for route in main[TABLE] if isinstance(route, Route) and route.plain_http]
    redirect = PlainHttpEndpoints(service.state, service.proxies, service.options.public_url)
    return listener_app(service, [*marked, *redirect.routes()])


def metrics_app(main: web.Application) -> web.Application:
    """The metrics listener's app (`--metrics-port`): /metrics alone, not itself counted."""
    service = main[SERVICE]
    return listener_app(service, service.operations.metrics(), observed=False)
