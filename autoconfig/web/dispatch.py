"""The URLs mail clients call go straight to their handler, without aiohttp's router.

aiohttp resolves every request through its router and builds match info for it before a handler
runs: about a sixth of the time of a whole Thunderbird answer. A request for exactly one of the
plain client paths (GET /mail/config-v1.1.xml, POST /autodiscover/autodiscover.xml, ...) is
found in a dict instead and given to the same handler the router would pick. Everything else
takes the router as before: other paths, percent-encoded or absolute-form targets, HEAD and
OPTIONS, requests with an Expect header (the router answers those), and every request of an app
with middlewares (the rate limiter must see them all; create_app then publishes no table).
"""

from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import hdrs, web
from aiohttp.web_request import BaseRequest

from .observe import Handler

FastHandler = Callable[[web.Request], web.StreamResponse | Awaitable[web.StreamResponse]]
"""A handler that answers at once (no coroutine made: most client handlers wait for nothing)
or gives an awaitable of its answer."""
FAST_ROUTES = web.AppKey("fast_routes", dict[tuple[str, str], FastHandler])
"""(method, path) -> handler for the plain client paths; set by create_app."""

ServerHandler = Callable[[BaseRequest], Awaitable[web.StreamResponse]]


def dispatcher(routes: dict[tuple[str, str], FastHandler], routed: Handler) -> Handler:
    """A server handler: the fast table first, the app's routing for anything not in it."""

    async def dispatch(request: web.Request) -> web.StreamResponse:
        path, _, _ = request.raw_path.partition("?")
        handler = routes.get((request.method, path))
        if handler is None or hdrs.EXPECT in request.headers:
            return await routed(request)
        answer = handler(request)
        if isinstance(answer, web.StreamResponse):
            return answer
        return await answer

    return dispatch


class Runner(web.AppRunner):
    """An AppRunner whose server looks in the app's fast table before routing.

    `autoconfig serve` and the test suite both serve apps through it, so tests exercise the
    dispatch real clients get.
    """

    async def setup(self) -> None:
        await super().setup()
        app = self.app
        routes = app.get(FAST_ROUTES)
        server = self.server
        # Middlewares and response hooks run only for routed requests: with any, route all.
        if routes and server is not None and not app.middlewares and not app.on_response_prepare:
            routed = cast(Handler, server.request_handler)
            server.request_handler = cast(ServerHandler, dispatcher(routes, routed))
