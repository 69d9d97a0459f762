"""Running the app in production: listeners, TLS, workers, signals and a graceful stop.

Everything about HTTP answers lives in web/; this module only decides where and how the app
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

from .config.loader import Config
from .web import dispatch
from .web.app import SERVICE, AppOptions, create_app, metrics_app, plain_http_app
from .wording import counted

log = logging.getLogger("autoconfig.server")

GRACE = 0.3
"""After the listeners close, time for requests already on the wire to be read and answered
before idle connections are closed (aiohttp closes every connection not yet in a request)."""


@dataclass(frozen=True)
class ServerOptions:
    """How the process listens; how the app answers is web.app.AppOptions."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    """Processes sharing the port (SO_REUSEPORT); each loads the configuration itself."""
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


async def _listen(
    app: web.Application,
    options: ServerOptions,
    port: int,
    context: ssl.SSLContext | None = None,
    **runner_options: float,
) -> web.AppRunner:
    """Serve `app` on `port` through its fast table (web/dispatch.py)."""
    runner = web.AppRunner(
        app, access_log=None, keepalive_timeout=options.client_timeout, **runner_options
    )
    await runner.setup()
    dispatch.install(runner)
    site = web.TCPSite(
        runner, options.host, port, ssl_context=context, reuse_port=options.reuse_port
    )
    await site.start()
    return runner


async def serve(app_options: AppOptions, config: Config, options: ServerOptions) -> None:
    """Listen until SIGTERM or SIGINT, then drain and stop."""
    context = tls_context(options.tls_cert, options.tls_key) if options.tls_cert else None
    app = create_app(app_options, config)
    del config
    gc.collect()
    gc.freeze()  # the catalog leaves the collector's sight: full collections no longer walk it
    service = app[SERVICE]
    if context is not None and options.tls_cert is not None:
        cert, key = options.tls_cert, options.tls_key
        service.reloader.hooks.append(lambda: load_chain(context, cert, key))
        service.reloader.extra_files = tuple(p for p in (cert, key) if p is not None)
    runners = [
        await _listen(
            app, options, options.port, context, shutdown_timeout=options.shutdown_timeout
        )
    ]
    if options.http_port is not None:
        runners.append(await _listen(plain_http_app(app), options, options.http_port))
    if options.metrics_port is not None:
        runners.append(await _listen(metrics_app(app), options, options.metrics_port))
    catalog = service.state.catalog
    scheme = "https" if context else "http"
    host = f"[{options.host}]" if ":" in options.host else options.host
    print(
        f"autoconfig: serving {app_options.config_path} "
        f"({counted(len(catalog.entries), 'provider')}, "
        f"{counted(catalog.domain_count, 'domain')}) "
        f"on {scheme}://{host}:{options.port}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        service.draining.set()
        if options.drain_delay > 0:
            await asyncio.sleep(options.drain_delay)
        for runner in runners:
            for site in list(runner.sites):
                await site.stop()
        await asyncio.sleep(GRACE)
        deadline = loop.time() + options.shutdown_timeout
        while service.in_flight.count and loop.time() < deadline:
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
