"""A per-client request rate limit: a token bucket per IP address, off unless configured.

Autoconfig answers are cheap, so the limit is there against floods and scraping, not load. Memory
is bounded: at most `max_clients` buckets are kept, the least recently seen dropped first, so a
flood from many addresses cannot grow the table without end.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from .proxies import ProxyPolicy
from .request import ClientRequest

RouterHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class TokenBuckets:
    """`rate` requests a second per client, with bursts of up to `burst`."""

    rate: float
    burst: float
    max_clients: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it would."""
        now = self.clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


class RateLimit:
    """The per-IP limit of one server: its buckets, shared by every listener and every path.

    Routed requests meet it as an aiohttp middleware; the fast dispatcher asks `refusal` itself
    before it calls a handler, so both answer alike and a client gets one budget in all.
    `unlimited` paths (the probes) are never refused: a load balancer probing from one address
    must not mark a healthy server down.
    """

    __slots__ = ("_buckets", "_proxies", "middleware", "unlimited")

    def __init__(
        self, buckets: TokenBuckets, proxies: ProxyPolicy, unlimited: frozenset[str] = frozenset()
    ) -> None:
        self._buckets = buckets
        self._proxies = proxies
        self.unlimited = unlimited

        @web.middleware
        async def limit(request: web.Request, handler: RouterHandler) -> web.StreamResponse:
            refused = None if request.path in unlimited else self.refusal(request)
            return refused if refused is not None else await handler(request)

        self.middleware = limit

    def refusal(self, request: ClientRequest) -> web.Response | None:
        """429 with Retry-After when this client is over its rate, else None."""
        wait = self._buckets.take(self._proxies.client_ip(request))
        if wait <= 0:
            return None
        return web.Response(
            status=429,
            text="Too many requests; try again later.\n",
            headers={"Retry-After": retry_after(wait), "Cache-Control": "no-store"},
        )
