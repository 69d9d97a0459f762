"""What operators see: request ids, Prometheus metrics and access logs.

One wrapper around each route handler does all three, so a request pays for one extra call, not
three. Access logs never
hold a full e-mail address unless the admin asks: by default only the domain (enough to see which
customers use the server), or a keyed hash (enough to count distinct users, not to name them).
"""

import asyncio
import bisect
import hashlib
import hmac
import itertools
import json
import logging
import math
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import istr
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from .. import __version__
from ..address import EmailAddress
from .proxies import ProxyPolicy
from .request import Answer, ClientRequest, PlainHandler, WaitingHandler


class LineWriter:
    """Access-log lines written in batches to standard error, not through `logging`.

    A LogRecord, a handler lock and a flush per request halved the server's throughput; lines
    are collected and written at most every `interval` seconds (or every `limit` lines), and
    the app flushes what is left when it stops.
    """

    def __init__(
        self, stream: IO[str] | None = None, interval: float = 0.2, limit: int = 512
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._limit = limit
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._clock: dict[str, tuple[int, str]] = {}

    def now(self, form: str) -> str:
        """The current second in `form`, formatted once a second rather than once a line."""
        second = int(time.time())
        cached = self._clock.get(form)
        if cached is None or cached[0] != second:
            cached = self._clock[form] = (second, time.strftime(form, time.gmtime(second)))
        return cached[1]

    def write(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= self._limit:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        stream = self._stream or sys.stderr
        stream.write("\n".join(self._lines) + "\n")
        stream.flush()
        self._lines.clear()


REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = istr(REQUEST_ID_HEADER)
"""Looked up and set on every request: the case-folded form is made once."""
ADDRESS_KEY = web.RequestKey("address", EmailAddress)
"""Handlers store the address they read here; the access log writes it as the admin chose (as
text only then: requests pay nothing for it while logs are off)."""
_UNPRINTABLE = re.compile(r'[\x00-\x1f\x7f"\\]')
"""Escaped in common-format lines, so a path cannot end a line or forge another one."""
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class LogFormat(StrEnum):
    JSON = "json"
    COMMON = "common"
    OFF = "off"


class AddressLogging(StrEnum):
    DOMAIN = "domain"
    HASH = "hash"
    FULL = "full"


@dataclass(frozen=True)
class ObserveSettings:
    log_format: LogFormat = LogFormat.OFF
    log_addresses: AddressLogging = AddressLogging.DOMAIN
    hash_key: bytes = b""
    """Key of the address hash; empty means a random key per process (hashes do not link
    across restarts, which is the private choice)."""
    writer: LineWriter = field(default_factory=LineWriter, compare=False)


def address_for_log(address: str, mode: AddressLogging, key: bytes) -> str:
    """The address as the log may show it: its domain, a keyed hash, or (if asked) itself."""
    if mode is AddressLogging.FULL:
        return address
    domain = address.rpartition("@")[2]
    if mode is AddressLogging.DOMAIN:
        return domain
    digest = hmac.new(key, address.lower().encode("utf-8"), hashlib.sha256).hexdigest()[:16]
    return f"{digest}@{domain}"


class _Catalog(Collector):
    """Configuration gauges read at scrape time, so requests pay nothing for them."""

    def __init__(
        self,
        describe: Callable[[], dict[str, float]],
        sources: Callable[[], Mapping[str, bool]],
    ) -> None:
        self._describe = describe
        self._sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        build = GaugeMetricFamily(
            "autoconfig_build_info", "The version serving, as a label.", labels=("version",)
        )
        build.add_metric((__version__,), 1.0)
        yield build
        failed = GaugeMetricFamily(
            "autoconfig_source_failed",
            "1 while the last reload of a source other than providers.yaml (tls) failed.",
            labels=("source",),
        )
        for name, failing in sorted(self._sources().items()):
            failed.add_metric((name,), 1.0 if failing else 0.0)
        yield failed
        values = self._describe()
        for name, help_text in (
            ("autoconfig_config_generation", "Catalog generation serving now (1 at start)."),
            ("autoconfig_catalog_providers", "Providers in the catalog."),
            ("autoconfig_catalog_domains", "Domains in the catalog."),
            ("autoconfig_reloads_succeeded", "Reloads that swapped in a new catalog."),
            ("autoconfig_reloads_failed", "Reloads refused; the previous catalog kept serving."),
            ("autoconfig_config_degraded", "1 while the last reload failed."),
        ):
            yield GaugeMetricFamily(name, help_text, value=values[name])


class _Latency:
    """One client family's latency histogram: a count per bucket and the sum of the seconds."""

    __slots__ = ("buckets", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(_LATENCY_BUCKETS) + 1)
        self.total = 0.0


class _Requests(Collector):
    """Request counts and latencies kept as plain numbers, exported at scrape time.

    The event loop is the only writer, so no locks: prometheus_client's own Counter and
    Histogram take a lock per update, a measurable share of a Thunderbird answer. Each route
    wrapper holds its own counters (status -> count) and its family's histogram, so a request
    updates them without building a key.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], defaultdict[int, int]] = {}
        self.latency: dict[str, _Latency] = {}

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        requests = CounterMetricFamily(
            "autoconfig_requests",
            "Requests answered, by endpoint, client family and status.",
            labels=("endpoint", "family", "status"),
        )
        rows = sorted(
            ((endpoint, family, status), count)
            for (endpoint, family), statuses in self.counts.items()
            for status, count in list(statuses.items())
        )
        for (endpoint, family, status), count in rows:
            requests.add_metric((endpoint, family, str(status)), count)
        yield requests
        latency = HistogramMetricFamily(
            "autoconfig_request_duration_seconds",
            "Time from routing to the handler's answer, by client family.",
            labels=("family",),
        )
        for family, histogram in sorted(self.latency.items()):
            cumulative, running = [], 0
            for bound, count in zip((*_LATENCY_BUCKETS, math.inf), histogram.buckets, strict=True):
                running += count
                cumulative.append((str(bound) if bound != math.inf else "+Inf", running))
            latency.add_metric((family,), cumulative, histogram.total)
        yield latency


class Metrics:
    """The Prometheus registry of one app: no module-level registry, so apps never share one."""

    def __init__(
        self,
        describe: Callable[[], dict[str, float]],
        sources: Callable[[], Mapping[str, bool]],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._requests = _Requests()
        self.registry.register(self._requests)
        self.registry.register(_Catalog(describe, sources))

    def route(self, endpoint: str, family: str) -> tuple[defaultdict[int, int], _Latency]:
        """The counters one route's requests update: by status, and its family's latency."""
        requests = self._requests
        statuses = requests.counts.setdefault((endpoint, family), defaultdict(int))
        return statuses, requests.latency.setdefault(family, _Latency())


class OneLineFormatter(logging.Formatter):
    """`2026-12-03T20:31:05Z autoconfig WARNING message`: UTC time, one line per event (a
    traceback is folded into its line with ` | `), so that logs can be read line by line."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s autoconfig %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def configure_logging(level: str, stream: IO[str] | None = None) -> None:
    """The process's application log on standard error, from `level` (debug, info, warning,
    error) up; aiohttp's records of requests it could not parse are left out."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.server").addFilter(quiet_bad_requests)


def quiet_bad_requests(record: logging.LogRecord) -> bool:
    """Drop aiohttp's log of a request it could not parse (answered 400 already).

    It is written at ERROR with a traceback and the raw request line, query string and any
    address included: a flood for whoever sends garbage, and a leak past --log-addresses.
    """
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, HttpProcessingError)


class InFlight:
    """Requests being handled now, so a stopping server can wait for them to finish."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


def _request_ids() -> Callable[[], str]:
    """A maker of ids unique to this process: a random prefix and a counter."""
    prefix = os.urandom(4).hex() + "-"
    counter = itertools.count(1).__next__
    return lambda: f"{prefix}{counter():x}"


_Begin = Callable[[ClientRequest], tuple[str, float]]
_End = Callable[[ClientRequest, Answer, float, str], Answer]
_Failed = Callable[[ClientRequest, BaseException, float, str], None]


class Observer:
    """Wraps route handlers: request id, metrics and access log around each one.

    Wrapping the routes, rather than adding an aiohttp middleware, spares every request the
    middleware machinery. Paths no route serves (404s from the router) are therefore not
    counted. `plain` keeps a handler that waits for nothing a plain function (the fast
    dispatcher calls it without any coroutine); `waiting` wraps a coroutine function.
    """

    def __init__(
        self, metrics: Metrics, settings: ObserveSettings, proxies: ProxyPolicy, in_flight: InFlight
    ) -> None:
        self._metrics = metrics
        self._settings = settings
        self._proxies = proxies
        self.in_flight = in_flight
        self._new_id = _request_ids()
        self._key = settings.hash_key or os.urandom(32)

    def request_id(self, request: ClientRequest) -> str:
        """The client's X-Request-Id when it is a sane one, else a new id."""
        given = request.headers.get(_REQUEST_ID)
        return given if given is not None and _GOOD_REQUEST_ID.match(given) else self._new_id()

    def _scope(self, endpoint: str, family: str) -> tuple[_Begin, _End, _Failed]:
        """What a request of one route does first, after its answer, and after an exception:
        take its id and the time, then count it, time it and log it."""
        statuses, latency = self._metrics.route(endpoint, family)
        settings, proxies, in_flight, key = self._settings, self._proxies, self.in_flight, self._key
        clock, request_id = time.perf_counter, self.request_id
        logging_on = settings.log_format is not LogFormat.OFF

        def begin(request: ClientRequest) -> tuple[str, float]:
            in_flight.count += 1
            return request_id(request), clock()

        def record(request: ClientRequest, status: int, started: float, request_id: str) -> None:
            in_flight.count -= 1
            elapsed = clock() - started
            statuses[status] += 1
            latency.buckets[bisect.bisect_left(_LATENCY_BUCKETS, elapsed)] += 1
            latency.total += elapsed
            if logging_on:
                line = _log_line(
                    request, status, elapsed, request_id, family, settings, key, proxies
                )
                settings.writer.write(line)

        def end(
            request: ClientRequest, response: Answer, started: float, request_id: str
        ) -> Answer:
            record(request, response.status, started, request_id)
            response.headers.add(_REQUEST_ID, request_id)  # no handler sets it: no search
            return response

        def failed(
            request: ClientRequest, error: BaseException, started: float, request_id: str
        ) -> None:
            if isinstance(error, web.HTTPException):
                error.headers[_REQUEST_ID] = request_id
                record(request, error.status, started, request_id)
            else:
                record(request, 500, started, request_id)

        return begin, end, failed

    def plain(self, handler: PlainHandler, endpoint: str, family: str) -> PlainHandler:
        """`handler` observed, still a plain function."""
        begin, end, failed = self._scope(endpoint, family)

        def observed(request: ClientRequest) -> Answer:
            request_id, started = begin(request)
            try:
                response = handler(request)
            except BaseException as error:
                failed(request, error, started, request_id)
                raise
            return end(request, response, started, request_id)

        return observed

    def waiting(self, handler: WaitingHandler, endpoint: str, family: str) -> WaitingHandler:
        """`handler`, a coroutine function, observed."""
        begin, end, failed = self._scope(endpoint, family)

        async def observed(request: ClientRequest) -> Answer:
            request_id, started = begin(request)
            try:
                response = await handler(request)
            except BaseException as error:
                failed(request, error, started, request_id)
                raise
            return end(request, response, started, request_id)

        return observed


def _log_line(
    request: ClientRequest,
    status: int,
    elapsed: float,
    request_id: str,
    family: str,
    settings: ObserveSettings,
    key: bytes,
    proxies: ProxyPolicy,
) -> str:
    address = request.get(ADDRESS_KEY)
    shown = address_for_log(str(address), settings.log_addresses, key) if address else None
    path = _path_for_log(request.path, settings.log_addresses, key)
    client = proxies.client_ip(request)
    if settings.log_format is LogFormat.JSON:
        record = {
            "time": settings.writer.now("%Y-%m-%dT%H:%M:%SZ"),
            "client": client,
            "method": request.method,
            "path": path,
            "status": status,
            "ms": round(elapsed * 1000, 3),
            "family": family,
            "address": shown,
            "request_id": request_id,
            "user_agent": request.headers.get("User-Agent", "")[:200],
        }
        return json.dumps(record, ensure_ascii=False)
    else:
        when = settings.writer.now("%d/%b/%Y:%H:%M:%S +0000")
        path = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", path)
        who = shown or "-"
        return f'{client} - {who} [{when}] "{request.method} {path}" {status} - {request_id}'


def _path_for_log(path: str, mode: AddressLogging, key: bytes) -> str:
    """The path without any address in it (autodiscover.json/v1.0/ADDR carries one)."""
    if "@" not in path or mode is AddressLogging.FULL:
        return path
    return "/".join(
        address_for_log(part, mode, key) if "@" in part else part for part in path.split("/")
    )
