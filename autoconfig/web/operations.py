"""HTTP for operators: liveness, readiness and Prometheus metrics."""

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..reload import ConfigState
from .observe import Metrics
from .request import ClientRequest
from .routes import Route

NO_STORE = {"Cache-Control": "no-store"}
HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"
UNLIMITED = frozenset({HEALTHZ, READYZ, METRICS})
"""Never rate-limited: load balancers and Prometheus ask often, from one address."""


class OperationsEndpoints:
    """The probes and the metrics page, bound to the state, the stop signal and the registry."""

    __slots__ = ("_draining", "_metrics", "_state")

    def __init__(self, state: ConfigState, draining: asyncio.Event, metrics: Metrics) -> None:
        self._state = state
        self._draining = draining
        """Set on shutdown: /readyz then answers 503, so load balancers stop sending."""
        self._metrics = metrics

    def probes(self) -> tuple[Route, ...]:
        return (
            Route("GET", (HEALTHZ,), self.healthz, "healthz", "operations", plain_http=True),
            Route("GET", (READYZ,), self.readyz, "readyz", "operations", plain_http=True),
        )

    def metrics(self) -> tuple[Route, ...]:
        return (Route("GET", (METRICS,), self.metrics_page, "metrics", "operations"),)

    def healthz(self, request: ClientRequest) -> web.Response:
        """Liveness with the configuration's story: generation, load time, last reload error."""
        return web.json_response(self._state.health(), headers=NO_STORE)

    def readyz(self, request: ClientRequest) -> web.Response:
        """Readiness: a catalog is loaded (always, once the app exists) and no shutdown is on."""
        if self._draining.is_set():
            return web.json_response({"ready": False, "reason": "shutting down"}, status=503)
        return web.json_response({"ready": True}, headers=NO_STORE)

    def metrics_page(self, request: ClientRequest) -> web.Response:
        """Prometheus text exposition of this server's own registry."""
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
