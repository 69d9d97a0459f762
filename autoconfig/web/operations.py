"""HTTP for operators: liveness, readiness, the catalog summary and Prometheus metrics."""

import asyncio
import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import catalog_summary
from ..catalog import Catalog
from ..reload import ConfigState
from .observe import Metrics
from .request import ClientRequest
from .routes import Route

NO_STORE = {"Cache-Control": "no-store"}
HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"
UNLIMITED = frozenset({HEALTHZ, READYZ, METRICS})
"""Never rate-limited: load balancers and Prometheus ask often, from one address."""


def _summary_body(catalog: Catalog, generation: int) -> bytes:
    """The /catalog document; off the event loop, since a hoster's 100,000 domains take a
    while to digest."""
    providers = [entry.provider for entry in catalog.entries]
    document = catalog_summary.summarise(providers, catalog.default_provider, generation)
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


class OperationsEndpoints:
    """The probes, the catalog summary and the metrics page, bound to the state, the stop signal
    and the registry."""

    __slots__ = ("_draining", "_metrics", "_state", "_summary")

    def __init__(self, state: ConfigState, draining: asyncio.Event, metrics: Metrics) -> None:
        self._state = state
        self._draining = draining
        """Set on shutdown: /readyz then answers 503, so load balancers stop sending."""
        self._metrics = metrics
        self._summary: tuple[int, bytes] | None = None
        """(generation, body) of the last /catalog answer: computed once per catalog, and keyed
        by the generation, not the catalog, so that a replaced catalog is not kept alive."""

    def probes(self) -> tuple[Route, ...]:
        """The main port's operator routes: the probes (on the plain-HTTP listener too) and the
        catalog summary."""
        return (
            Route("GET", (HEALTHZ,), self.healthz, "healthz", "operations", plain_http=True),
            Route("GET", (READYZ,), self.readyz, "readyz", "operations", plain_http=True),
            Route("GET", (catalog_summary.PATH,), self.catalog, "catalog", "operations"),
        )

    def metrics(self) -> tuple[Route, ...]:
        return (Route("GET", (METRICS,), self.metrics_page, "metrics", "operations"),)

    def healthz(self, request: ClientRequest) -> web.Response:
        """Liveness with the configuration's story: generation, load time, last reload error."""
        return web.json_response(self._state.health(), headers=NO_STORE)

    async def catalog(self, request: ClientRequest) -> web.Response:
        """What `check --against` compares a file with: per provider its id, the domains its
        answers list anyway, counts and digests (catalog_summary.py); no address."""
        state = self._state
        generation, catalog = state.generation, state.catalog
        cached = self._summary
        if cached is None or cached[0] != generation:
            body = await asyncio.to_thread(_summary_body, catalog, generation)
            cached = self._summary = (generation, body)
        return web.Response(
            body=cached[1], headers={**NO_STORE, "Content-Type": "application/json"}
        )

    def readyz(self, request: ClientRequest) -> web.Response:
        """Readiness: a catalog is loaded (always, once the app exists) and no shutdown is on."""
        if self._draining.is_set():
            return web.json_response({"ready": False, "reason": "shutting down"}, status=503)
        return web.json_response({"ready": True}, headers=NO_STORE)

    def metrics_page(self, request: ClientRequest) -> web.Response:
        """Prometheus text exposition of this server's own registry."""
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
