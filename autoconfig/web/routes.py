"""The route table: every URL this server answers, written as data by the module that serves it.

Each client family's module (thunderbird.py, autodiscover.py, ...) lists its routes: method,
paths, handler, and the metrics labels its requests count under. `mount` puts a table on an app:
aiohttp's router gets every route, the fast dispatcher (dispatch.py) every exact path, and the
metrics every route's labels, so the three cannot disagree.

A handler is bound to what it needs when its family builds the table (the catalog state, the
options, the proxy policy...) and reads of a request only what `ClientRequest` offers: no
`app`, no `match_info`. That is what lets the fast dispatcher hand it a request the router has
never seen. A route whose path carries the value its handler reads (`/v1.1/{domain}`) is a
`PathRoute`: only the router can match it, and the handler is given that value.
"""

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from aiohttp import hdrs, web

from .observe import Observer
from .request import Answer, ClientRequest, FastHandler, Handler, PlainHandler, WaitingHandler


@dataclass(frozen=True, slots=True)
class Route:
    """Requests to `paths` (exact) and `patterns` (regular expressions, router only)."""

    method: str
    """`GET` (HEAD is answered too), `POST`, or `*` for any."""
    paths: tuple[str, ...]
    handler: Handler
    endpoint: str
    """Metrics label: which answer."""
    family: str
    """Metrics label: which kind of client asks."""
    patterns: tuple[str, ...] = ()
    plain_http: bool = False
    """Also served by the plain-HTTP listener (Thunderbird's legacy URL, the probes)."""


@dataclass(frozen=True, slots=True)
class PathRoute:
    """Requests whose path carries a value: `part` of the patterns is handed to the handler."""

    method: str
    patterns: tuple[str, ...]
    part: str
    handler: Callable[[ClientRequest, str], Answer]
    endpoint: str
    family: str


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


def _given_part(route: PathRoute) -> PlainHandler:
    """The handler as the router calls it: with the value of its path part."""
    handler, part = route.handler, route.part

    def with_part(request: ClientRequest) -> Answer:
        return handler(request, cast(web.Request, request).match_info[part])

    return with_part


def _as_coroutine(handler: PlainHandler) -> WaitingHandler:
    """A plain handler as the coroutine function aiohttp's router needs."""

    async def routed(request: ClientRequest) -> Answer:
        return handler(request)

    return routed


def mount(
    app: web.Application, table: Iterable[Route | PathRoute], observer: Observer | None
) -> Mapping[tuple[str, str], FastHandler]:
    """Add every route of `table` to `app`'s router, observed (request ids, metrics, access
    log) unless `observer` is None; return the fast table: (method, exact path) -> handler."""
    fast: dict[tuple[str, str], FastHandler] = {}
    for route in table:
        plain = route.handler if isinstance(route, Route) else _given_part(route)
        waits = inspect.iscoroutinefunction(plain)
        if observer is None:
            quick: FastHandler = plain
            routed = cast(WaitingHandler, plain) if waits else _as_coroutine(plain)
        elif waits:
            waiting = cast(WaitingHandler, plain)
            quick = routed = observer.waiting(waiting, route.endpoint, route.family)
        else:
            quick = observer.plain(cast(PlainHandler, plain), route.endpoint, route.family)
            routed = _as_coroutine(quick)
        paths = route.paths if isinstance(route, Route) else ()
        for path in (*paths, *route.patterns):
            if route.method == hdrs.METH_GET:  # and HEAD
                app.router.add_get(path, routed, expect_handler=expect_continue)
            else:
                app.router.add_route(route.method, path, routed, expect_handler=expect_continue)
        for path in paths:
            fast[(route.method, path)] = quick
    return fast
