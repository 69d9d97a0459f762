"""HTTP for Autodiscover v2 (`autodiscover.json`), which new Outlook and Outlook mobile ask first.

The address comes as `?Email=` or as the path segment after `/v1.0/`; which answer it gets (one
URL, or an error) is decided by answers.py and written by formats/autodiscover_json.py. Here
this server's own URL is named (from `--public-url` or a believable Host) and each error's HTTP
status is chosen: "not here" errors are 404, so that Outlook tries its next URL.
"""

from aiohttp import web

from ..address import AddressError, EmailAddress, parse_address
from ..answers import POINT_AT_THIS_SERVER, Outcome, autodiscover_json_answer
from ..catalog import Catalog, Match
from ..formats import autodiscover_json
from ..reload import ConfigState
from .host import HostError, domain_of_host, host_name, public_base_url
from .observe import ADDRESS_KEY
from .proxies import ProxyPolicy
from .query import EMAIL, query_value
from .request import ClientRequest
from .responses import PRIVATE_JSON
from .routes import PathRoute, Route

PATHS = ("/autodiscover/autodiscover.json",)
ANY_CASE = (r"/{path:(?i:autodiscover/autodiscover\.json(?:/v1\.0)?)}",)
ADDRESS_IN_PATH = (
    "/autodiscover/autodiscover.json/v1.0/{address}",
    r"/{path:(?i:autodiscover/autodiscover\.json/v1\.0)}/{address:.+}",
)
OWN_NAME_PREFIXES = ("autodiscover.", "autoconfig.")
_ERROR = Outcome.ERROR


def _json(body: bytes, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, headers=PRIVATE_JSON)


def _host_belongs_to(host: str, domain: str, match: Match, catalog: Catalog) -> bool:
    """Whether a Host names the address's own domain, or a domain of the same provider."""
    name = host_name(host)
    if name is None:
        return False
    if name == domain or name.endswith("." + domain):
        return True
    own = domain_of_host(name, OWN_NAME_PREFIXES)
    if own is None:
        return False
    other = catalog.lookup(own)
    return other is not None and other.entry is match.entry and other.listing.listed


class AutodiscoverJsonEndpoints:
    """The v2 handlers, bound to the catalog state, the proxy policy and the public URL."""

    __slots__ = ("_keep_address", "_own_pox_answer", "_proxies", "_state")

    def __init__(
        self,
        state: ConfigState,
        proxies: ProxyPolicy,
        public_url: str | None,
        keep_address: bool,
    ) -> None:
        self._state = state
        self._proxies = proxies
        self._keep_address = keep_address
        self._own_pox_answer = (
            autodiscover_json.render_autodiscover_v1(
                autodiscover_json.pox_url(public_base_url(public_url, None))
            )
            if public_url
            else b""
        )
        """The answer pointing at this server, when its URL is configured (empty otherwise:
        the URL then comes from the request)."""

    def routes(self) -> tuple[Route | PathRoute, ...]:
        labels = ("autodiscover.json", "outlook-json")
        return (
            Route("GET", PATHS, self.address_in_query, *labels, patterns=ANY_CASE),
            PathRoute("GET", ADDRESS_IN_PATH, "address", self.address_in_path, *labels),
        )

    def address_in_query(self, request: ClientRequest) -> web.Response:
        """Address as `?Email=`: the URL of one protocol, or an error."""
        return self._answer(request, None)

    def address_in_path(self, request: ClientRequest, given: str) -> web.Response:
        """Address as the path segment after `/v1.0/`."""
        return self._answer(request, given)

    def _answer(self, request: ClientRequest, in_path: str | None) -> web.Response:
        """The answer for the address in the path, or (`in_path` None) in the query; the
        address is read only once the protocol is known to be one served here."""
        given_protocol = query_value(request, ("protocol",))
        protocol = autodiscover_json.parse_protocol(given_protocol)
        if protocol is None:
            return _json(autodiscover_json.render_protocol_error(given_protocol), 400)
        try:
            address = EMAIL.address(request) if in_path is None else parse_address(in_path)
        except AddressError as exc:
            return _json(autodiscover_json.render_invalid_address(str(exc)), 400)
        if address is None:
            return _json(autodiscover_json.render_missing_address(), 400)
        if self._keep_address:
            request[ADDRESS_KEY] = address
        match = self._state.catalog.lookup(address.ascii_domain)
        answer = autodiscover_json_answer(match, address, protocol)
        if answer is POINT_AT_THIS_SERVER and match is not None:
            return self._own_pox_url(request, match, address)
        return _json(answer.body, 404 if answer.outcome is _ERROR else 200)

    def _own_pox_url(
        self, request: ClientRequest, match: Match, address: EmailAddress
    ) -> web.Response:
        """This server's POX URL, under --public-url when it is given.

        Without it the Host names the server, but only a Host inside the address's own domain
        (autodiscover.example.com for example.com), or a name of the same provider, is
        believed: a forged Host must never send a client to someone else's server.
        """
        if self._own_pox_answer:
            return _json(self._own_pox_answer)
        host = self._proxies.host(request) or ""
        if not _host_belongs_to(host, address.ascii_domain, match, self._state.catalog):
            usual = autodiscover_json.usual_base_url(address.ascii_domain)
            if usual is not None:
                own = autodiscover_json.pox_url(usual)
                return _json(autodiscover_json.render_autodiscover_v1(own))
            host = f"autodiscover.{address.ascii_domain}"  # too long: public_base_url says so
        try:
            base = public_base_url(None, host)
        except HostError as exc:
            return _json(autodiscover_json.render_invalid_host(str(exc)), 400)
        return _json(autodiscover_json.render_autodiscover_v1(autodiscover_json.pox_url(base)))
