"""HTTP for PACC clients: the document of the domain the Host names (`ua-auto-config.<domain>`).

Whether it is served is answers.py's decision; the document is rendered by formats/pacc.py.
Clients hash the body they receive against the domain's TXT record, so it is served exactly as
rendered, identity-encoded.
"""

from aiohttp import web

from ..answers import pacc_answer
from ..formats import pacc
from ..reload import ConfigState
from .host import domain_of_host
from .proxies import ProxyPolicy
from .request import ClientRequest
from .responses import SHARED_CACHE_HEADERS, not_served
from .routes import Route

HOST_PREFIXES = (pacc.HOST_PREFIX,)


class PaccEndpoints:
    """The PACC handler, bound to the catalog state and the proxy policy."""

    __slots__ = ("_proxies", "_state")

    def __init__(self, state: ConfigState, proxies: ProxyPolicy) -> None:
        self._state = state
        self._proxies = proxies

    def routes(self) -> tuple[Route, ...]:
        paths = (pacc.PATH, pacc.LEGACY_PATH)
        return (Route("GET", paths, self.document, "user-agent-configuration", "pacc"),)

    def document(self, request: ClientRequest) -> web.Response:
        """The domain comes from the Host (`ua-auto-config.<domain>`, or `<domain>`)."""
        domain = domain_of_host(self._proxies.host(request) or "", HOST_PREFIXES)
        if domain is None:
            return not_served("this host name")
        body = pacc_answer(self._state.catalog.lookup(domain))
        if body is None:
            return not_served(domain)
        return web.Response(
            body=body,
            content_type=pacc.CONTENT_TYPE,
            charset="utf-8",
            headers=SHARED_CACHE_HEADERS,
        )
