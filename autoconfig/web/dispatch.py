"""The exact paths go straight to their handler, without aiohttp's router.

aiohttp resolves every request through its router and builds match info for it before a handler
runs, which is a large part of a whole Thunderbird answer. A request for exactly one of the
table's paths (GET /mail/config-v1.1.xml, POST /autodiscover/autodiscover.xml, ...) is found in
a dict instead and given to the same observed handler the router would pick, after the same rate
limit. Everything else takes the router: other paths, percent-encoded or absolute-form
targets, HEAD and OPTIONS, and requests with an Expect header (the router's expect handler
answers those first).

`install` puts the table in front of the router of a server that is set up: `autoconfig serve`
and the test suite both call it, so the tests exercise the dispatch real clients get. It uses
aiohttp's public `Server.request_handler`: the handler a server gives each new connection.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import cast

from aiohttp import hdrs, web
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict, istr

from .limits import RateLimit
from .observe import REQUEST_ID_HEADER
from .request import ClientRequest, FastHandler

SERVER_NAME = "autoconfig"
"""The Server header of every answer: the product, not the Python and aiohttp versions."""
_SERVER = istr(hdrs.SERVER)
_REQUEST_ID = istr(REQUEST_ID_HEADER)


@dataclass(frozen=True, slots=True)
class FastTable:
    """(method, exact path) -> observed handler, and what every answer of the app gets: the
    rate limit, and the Server and X-Request-Id headers on answers the router makes itself
    (404, 405, 417, 429)."""

    routes: Mapping[tuple[str, str], FastHandler]
    limit: RateLimit | None = None
    request_id: Callable[[ClientRequest], str] | None = None
    """Ids for answers no observed handler made; None: such answers get none."""

    @property
    def middlewares(self) -> tuple[object, ...]:
        """The app middlewares the table does the work of itself: the rate limit, if any."""
        return (self.limit.middleware,) if self.limit is not None else ()


FAST_TABLE = web.AppKey("fast_table", FastTable)
"""Set by the app factory (app.py) on every app it builds."""

_ServerHandler = Callable[[BaseRequest], Awaitable[web.StreamResponse]]


def dispatcher(table: FastTable, routed: _ServerHandler) -> _ServerHandler:
    """A server handler: the fast table first, the app's routing for anything not in it."""
    routes, limit, request_id = table.routes, table.limit, table.request_id
    unlimited = limit.unlimited if limit is not None else frozenset()

    def stamp(headers: CIMultiDict[str], request: BaseRequest) -> None:
        headers[_SERVER] = SERVER_NAME
        if request_id is not None and _REQUEST_ID not in headers:
            headers[_REQUEST_ID] = request_id(request)

    async def dispatch(request: BaseRequest) -> web.StreamResponse:
        path, _, _ = request.raw_path.partition("?")
        handler = routes.get((request.method, path))
        try:
            if handler is None or hdrs.EXPECT in request.headers:
                answer = await routed(request)
                stamp(answer.headers, request)
                return answer
            if limit is not None and path not in unlimited:
                refused = limit.refusal(request)
                if refused is not None:
                    stamp(refused.headers, request)
                    return refused
            answer = handler(request)
            if not isinstance(answer, web.StreamResponse):
                answer = await answer
        except web.HTTPException as exc:
            stamp(exc.headers, request)
            raise
        answer.headers.add(_SERVER, SERVER_NAME)  # a fast handler's answer: observed, no search
        return answer

    return dispatch


def install(runner: web.AppRunner) -> bool:
    """Serve `runner`'s app through its fast table; True when it does.

    Middlewares and response hooks run only for routed requests, so an app with any that the
    table does not stand in for keeps routing every request.
    """
    app, server = runner.app, runner.server
    table = app.get(FAST_TABLE)
    if table is None or server is None or app.on_response_prepare:
        return False
    if tuple(app.middlewares) != table.middlewares:
        return False
    server.request_handler = cast(_ServerHandler, dispatcher(table, server.request_handler))
    return True
