"""Running the app in production: listeners, TLS, workers, signals and a graceful stop.

Everything about HTTP answers lives in web.py; this module only decides where and how the app
listens. One process serves: the main listener (TLS when a certificate is given), an optional
plain-HTTP listener for Thunderbird's legacy URL that sends everything else to https, and an
optional metrics listener. `--workers N` starts N such processes sharing one port (SO_REUSEPORT);
each loads and reloads the configuration on its own.
"""

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .address import AddressError, domain_from_host
from .config.loader import Config
from .web.app import (
    CLIENTS,
    DRAINING,
    IN_FLIGHT,
    METRICS,
    PROXIES,
    RELOADER,
    SETTINGS,
    STATE,
    THUNDERBIRD_PATHS,
    WRAP,
    Settings,
    create_app,
    healthz,
    metrics_page,
    readyz,
)
from .web.dispatch import FAST_ROUTES, Runner
from .web.host import HostError, host_authority

log = logging.getLogger("autoconfig.server")

SERVICE_PREFIXES = ("autoconfig.", "autodiscover.", "ua-auto-config.")
GRACE = 0.3
"""After the listeners close, time for requests already on the wire to be read and answered
before idle connections are closed (aiohttp closes every connection not yet in a request)."""


@dataclass(frozen=True)
class ServerOptions:
    """How the process listens; the app's behaviour is in web.Settings."""

    tls_cert: Path | None = None
    tls_key: Path | None = None
    http_port: int | None = None
    """Plain-HTTP listener: Thunderbird's legacy URL answered, everything else sent to https."""
    metrics_port: int | None = None
    client_timeout: float = 15.0
    """Seconds a connection may stay without a complete request (slow or silent clients)."""
    shutdown_timeout: float = 10.0
    """Seconds in-flight requests get to finish after SIGTERM."""
    drain_delay: float = 0.0
    """Seconds /readyz answers 503 before listeners close (load balancers need to notice)."""
    reuse_port: bool = False


class TLSSetupError(Exception):
    """The certificate or key cannot be used; the message names the file."""


def tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """A server context with TLS 1.2 as the floor; the chain is loaded by `load_chain`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(context, cert, key)
    return context


def load_chain(context: ssl.SSLContext, cert: Path, key: Path | None) -> None:
    """(Re)load a certificate chain: new handshakes use it, connections open keep theirs."""
    try:
        context.load_cert_chain(str(cert), str(key) if key else None)
    except (OSError, ssl.SSLError) as exc:
        raise TLSSetupError(f"{cert} / {key or cert}: {exc}") from exc


def _served_https_base(request: web.Request) -> str | None:
    """Where to send a plain-HTTP client: the configured URL, or https:// on a name we serve.

    A Host that names no domain of the catalog gets no redirect at all, so a forged Host cannot
    make this server point anybody at another site.
    """
    settings = request.app[SETTINGS]
    if settings.public_url:
        return settings.public_url.rstrip("/")
    try:
        authority = host_authority(request.app[PROXIES].host(request))
        domain = domain_from_host(authority, SERVICE_PREFIXES)
    except (HostError, AddressError):
        return None
    if request.app[STATE].catalog.lookup(domain, use_default=False) is None:
        return None
    return f"https://{authority.rsplit(':', 1)[0] if not authority.startswith('[') else ''}"


async def to_https(request: web.Request) -> web.Response:
    """302 to the same path over https (Autodiscover clients re-POST only to https)."""
    base = _served_https_base(request)
    if base is None:
        return web.Response(status=404, text="Nothing is served here over plain HTTP.\n")
    raise web.HTTPFound(base + request.path_qs, headers={"Cache-Control": "no-store"})


def plain_http_app(main: web.Application) -> web.Application:
    """The legacy-HTTP listener: the same state as the main app, fewer routes."""
    # The main app's middlewares (the per-IP rate limit, when on) guard this listener too,
    # sharing their buckets: a client is not allowed twice the rate by using both ports.
    app = web.Application(client_max_size=main._client_max_size, middlewares=main.middlewares)
    for key in (STATE, SETTINGS, PROXIES, METRICS, DRAINING, RELOADER, IN_FLIGHT, WRAP):
        app[key] = main[key]
    wrap = main[WRAP]
    thunderbird_config = wrap(main[CLIENTS].thunderbird_config)
    for path in THUNDERBIRD_PATHS:
        app.router.add_get(path, thunderbird_config)
    if FAST_ROUTES in main and not main.middlewares:
        app[FAST_ROUTES] = {("GET", path): thunderbird_config for path in THUNDERBIRD_PATHS}
    app.router.add_get("/healthz", wrap(healthz))
    app.router.add_get("/readyz", wrap(readyz))
    app.router.add_route("*", "/{tail:.*}", wrap(to_https))
    return app


def metrics_app(main: web.Application) -> web.Application:
    app = web.Application()
    app[METRICS] = main[METRICS]
    app.router.add_get("/metrics", metrics_page)
    return app


async def serve(settings: Settings, config: Config, options: ServerOptions) -> None:
    """Listen until SIGTERM or SIGINT, then drain and stop."""
    context = tls_context(options.tls_cert, options.tls_key) if options.tls_cert else None
    app = create_app(settings, config)
    del config
    gc.collect()
    gc.freeze()  # the catalog leaves the collector's sight: full collections no longer walk it
    if context is not None and options.tls_cert is not None:
        cert, key = options.tls_cert, options.tls_key
        app[RELOADER].hooks.append(lambda: load_chain(context, cert, key))
        app[RELOADER].extra_files = tuple(p for p in (cert, key) if p is not None)
    runners = []
    main = Runner(
        app,
        access_log=None,
        keepalive_timeout=options.client_timeout,
        shutdown_timeout=options.shutdown_timeout,
    )
    await main.setup()
    runners.append(main)
    await web.TCPSite(
        main, settings.host, settings.port, ssl_context=context, reuse_port=options.reuse_port
    ).start()
    extra = []
    if options.http_port is not None:
        extra.append((plain_http_app(app), options.http_port))
    if options.metrics_port is not None:
        extra.append((metrics_app(app), options.metrics_port))
    for sub_app, port in extra:
        runner = Runner(sub_app, access_log=None, keepalive_timeout=options.client_timeout)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, settings.host, port, reuse_port=options.reuse_port).start()
    catalog = app[STATE].catalog
    scheme = "https" if context else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(
        f"autoconfig: serving {settings.config_path} "
        f"({len(catalog.entries)} providers, {catalog.domain_count} domains) "
        f"on {scheme}://{host}:{settings.port}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        app[DRAINING].set()
        if options.drain_delay > 0:
            await asyncio.sleep(options.drain_delay)
        for runner in runners:
            for site in list(runner.sites):
                await site.stop()
        await asyncio.sleep(GRACE)
        deadline = loop.time() + options.shutdown_timeout
        while app[IN_FLIGHT].count and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def run_workers(count: int, argv: Sequence[str]) -> int:
    """Start `count` copies of this command sharing the port; relay signals; wait for them.

    The copies share nothing but the listening port (SO_REUSEPORT) and the files they read: a
    worker that dies is started again, SIGHUP reaches every worker, SIGTERM stops them all.
    """
    command = [sys.executable, "-m", "autoconfig", *argv, "--workers", "1", "--reuse-port"]
    children = [subprocess.Popen(command) for _ in range(count)]
    stopping = False

    def relay(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, relay)
    status = 0
    while children:
        still = []
        for child in children:
            try:
                code = child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                still.append(child)
                continue
            if stopping:
                status = status or max(code, 0)
            else:
                log.error("worker %d exited with %s; starting it again", child.pid, code)
                time.sleep(1.0)
                still.append(subprocess.Popen(command))
        children[:] = still
    return status
