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
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .certificates import CertificateError, load_identity
from .config.loader import Config
from .reload import Source, SourceError
from .web import dispatch
from .web.app import SERVICE, AppOptions, Service, create_app, metrics_app, plain_http_app
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
    log_level: str = "info"


class TLSSetupError(SourceError):
    """The certificate or key cannot be used; the message names the file and the problem."""


class ListenError(Exception):
    """A listener cannot be opened; the message names the address, the option and why."""


def server_option_problems(options: ServerOptions) -> list[str]:
    """What is wrong with a combination of listening options, in words for the admin; checked
    before anything listens, so that no half-started server has to be taken down."""
    problems = []
    if options.tls_key is not None and options.tls_cert is None:
        problems.append("--tls-key needs --tls-cert (the certificate chain)")
    ports = [("--port", options.port)]
    ports += [(flag, port) for flag, port in _extra_ports(options) if port is not None]
    for index, (flag, port) in enumerate(ports):
        for other, other_port in ports[:index]:
            if port == other_port and port != 0:
                problems.append(f"{flag} {port} is {other} too: give each listener its own port")
    return problems


def _extra_ports(options: ServerOptions) -> list[tuple[str, int | None]]:
    return [("--http-port", options.http_port), ("--metrics-port", options.metrics_port)]


def tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """A server context with TLS 1.2 as the floor; the chain is loaded by `load_chain`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(context, cert, key)
    return context


def load_chain(context: ssl.SSLContext, cert: Path, key: Path | None) -> None:
    """(Re)load a certificate chain: new handshakes use it, connections open keep theirs.

    The files are read and checked first, so that a problem is reported with its file and in
    words (a key of another certificate, a file without a certificate) rather than as
    OpenSSL's `PEM lib` or `KEY_VALUES_MISMATCH`; on error the context keeps its chain.
    """
    try:
        load_identity(cert, key, role="TLS", owner="server")
    except CertificateError as exc:
        raise TLSSetupError(str(exc)) from exc
    try:
        context.load_cert_chain(str(cert), str(key) if key else None)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        raise TLSSetupError(f"{cert} / {key or cert}: OpenSSL refuses them: {reason}") from exc


async def _listen(
    app: web.Application,
    options: ServerOptions,
    flag: str,
    port: int,
    context: ssl.SSLContext | None = None,
    **runner_options: float,
) -> tuple[web.AppRunner, int]:
    """Serve `app` on `port` through its fast table (web/dispatch.py): the runner and the port
    it got (the one asked for, or the one the system chose for 0)."""
    runner = web.AppRunner(
        app, access_log=None, keepalive_timeout=options.client_timeout, **runner_options
    )
    await runner.setup()
    try:
        dispatch.install(runner)
        site = web.TCPSite(
            runner, options.host, port, ssl_context=context, reuse_port=options.reuse_port
        )
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        where = f"{_url_host(options.host)}:{port}"
        raise ListenError(f"cannot listen on {where} ({flag}): {reason}") from exc
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve(app_options: AppOptions, config: Config, options: ServerOptions) -> None:
    """Listen until SIGTERM or SIGINT, then drain and stop; ListenError when a port cannot be
    opened (whatever was opened already is closed again)."""
    context = tls_context(options.tls_cert, options.tls_key) if options.tls_cert else None
    app = create_app(app_options, config)
    del config
    gc.collect()
    gc.freeze()  # the catalog leaves the collector's sight: full collections no longer walk it
    service = app[SERVICE]
    if context is not None and options.tls_cert is not None:
        cert, key = options.tls_cert, options.tls_key
        files = tuple(p for p in (cert, key) if p is not None)
        service.reloader.add_source(Source("tls", files, lambda: load_chain(context, cert, key)))
    runners: list[web.AppRunner] = []
    loop = asyncio.get_running_loop()
    try:
        main, port = await _listen(
            app, options, "--port", options.port, context, shutdown_timeout=options.shutdown_timeout
        )
        runners.append(main)
        lines = [_banner(app_options, service, "https" if context else "http", options, port)]
        if options.http_port is not None:
            runner, http_port = await _listen(
                plain_http_app(app), options, "--http-port", options.http_port
            )
            runners.append(runner)
            lines.append(_plain_http_line(options, http_port, tls=context is not None))
        if options.metrics_port is not None:
            runner, metrics_port = await _listen(
                metrics_app(app), options, "--metrics-port", options.metrics_port
            )
            runners.append(runner)
            lines.append(
                f"autoconfig: metrics on http://{_url_host(options.host)}:{metrics_port}/metrics"
            )
        print("\n".join(lines), flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info(
            "stopping: /readyz answers 503 for %s s, then the listeners close and requests in "
            "flight get %s s",
            options.drain_delay,
            options.shutdown_timeout,
        )
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


def _banner(
    app_options: AppOptions, service: Service, scheme: str, options: ServerOptions, port: int
) -> str:
    catalog = service.state.catalog
    return (
        f"autoconfig: serving {app_options.config_path} "
        f"({counted(len(catalog.entries), 'provider')}, {counted(catalog.domain_count, 'domain')}) "
        f"on {scheme}://{_url_host(options.host)}:{port}"
    )


def _plain_http_line(options: ServerOptions, port: int, *, tls: bool) -> str:
    where = f"http://{_url_host(options.host)}:{port}"
    line = f"autoconfig: plain HTTP on {where}: Thunderbird's legacy URL, the rest sent to https"
    if not tls:
        line += " (this server has no --tls-cert: a TLS proxy in front must answer https)"
    return line


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
