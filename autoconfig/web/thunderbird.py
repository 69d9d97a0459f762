"""HTTP for Thunderbird and the clients that read its format: `config-v1.1.xml` at
`autoconfig.<domain>` and `<domain>/.well-known/`, and the ISPDB URL form `/v1.1/{domain}`.

The document is rendered by formats/thunderbird.py when the catalog is built; here only the
domain is found (the address's, else the Host's) and the answer's status and headers are chosen.
"""

from aiohttp import web

from ..address import AddressError, normalize_mail_domain
from ..catalog import Match
from ..reload import ConfigState
from .host import domain_of_host
from .observe import ADDRESS_KEY
from .proxies import ProxyPolicy
from .query import EMAILADDRESS
from .request import ClientRequest
from .responses import SHARED_XML, not_served
from .routes import PathRoute, Route

PATHS = ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml")
HOST_PREFIXES = ("autoconfig.",)


def _answer(match: Match) -> web.Response:
    if not match.entry.has_settings:
        return not_served(match.domain)
    return web.Response(body=match.entry.thunderbird.fill(match.domain), headers=SHARED_XML)


class ThunderbirdEndpoints:
    """The Thunderbird handlers, bound to the catalog state and the proxy policy."""

    __slots__ = ("_keep_address", "_proxies", "_state")

    def __init__(self, state: ConfigState, proxies: ProxyPolicy, keep_address: bool) -> None:
        self._state = state
        self._proxies = proxies
        self._keep_address = keep_address
        """Whether the access log wants the address (stored on the request only then)."""

    def routes(self) -> tuple[Route | PathRoute, ...]:
        return (
            Route("GET", PATHS, self.config, "config-v1.1.xml", "thunderbird", plain_http=True),
            PathRoute("GET", ("/v1.1/{domain}",), "domain", self.ispdb, "ispdb", "thunderbird"),
        )

    def config(self, request: ClientRequest) -> web.Response:
        """`config-v1.1.xml`: the domain comes from `emailaddress`, else from the Host header."""
        catalog = self._state.catalog
        address_problem = None
        try:
            address = EMAILADDRESS.address(request)
        except AddressError as exc:
            address, address_problem = None, str(exc)
        if address is not None:
            if self._keep_address:
                request[ADDRESS_KEY] = address
            domain = address.ascii_domain
            match = catalog.lookup(domain)
            return _answer(match) if match else not_served(domain)
        domain = domain_of_host(self._proxies.host(request) or "", HOST_PREFIXES)
        match = catalog.lookup(domain) if domain else None
        if match is not None:
            return _answer(match)
        if address_problem is not None:
            raise web.HTTPBadRequest(text=f"emailaddress: {address_problem}\n")
        if domain is None:
            raise web.HTTPBadRequest(text="Give ?emailaddress=you@your.domain\n")
        return not_served(domain)

    def ispdb(self, request: ClientRequest, given: str) -> web.Response:
        """`/v1.1/{domain}`: the ISPDB URL form, for clients using this server as their ISPDB."""
        try:
            domain = normalize_mail_domain(given)
        except AddressError as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from exc
        match = self._state.catalog.lookup(domain)
        return _answer(match) if match else not_served(domain)
