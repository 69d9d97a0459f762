"""HTTP for Outlook and Exchange ActiveSync devices at `/autodiscover/autodiscover.xml`.

Both families POST to the same URL and are told apart by the response schema they accept
(formats/pox_request.py reads the body); which answer an address gets is decided by
answers.py. Clients that GET the URL name the address as a parameter, or only the domain by
their Host. Here the body is read within its limits and the decision becomes HTTP.
"""

import asyncio

from aiohttp import web

from ..address import AddressError, parse_address
from ..answers import mobilesync_answer, outlook_answer, outlook_answer_for_domain
from ..formats import outlook
from ..formats.pox_request import AutodiscoverRequestError, Family, parse_request
from ..reload import ConfigState
from .host import domain_of_host
from .observe import ADDRESS_KEY
from .proxies import ProxyPolicy
from .query import ANY_ADDRESS
from .request import ClientRequest
from .responses import PRIVATE_XML, autodiscover_response
from .routes import Route

MAX_BODY_BYTES = 16 * 1024
"""Autodiscover requests are a few hundred bytes; anything past 16 KiB is refused with 413."""

PATHS = ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml")
"""The spellings clients send, as exact paths: found by a dict lookup, not the pattern below."""
ANY_CASE = (r"/{path:(?i:autodiscover/autodiscover\.xml)}",)
HOST_PREFIXES = ("autodiscover.",)


def _error(code: outlook.ErrorCode, debug: str) -> web.Response:
    return web.Response(body=outlook.render_error(code, debug), headers=PRIVATE_XML)


class AutodiscoverEndpoints:
    """The POX handlers, bound to the catalog state, the proxy policy and the body timeout."""

    __slots__ = ("_body_timeout", "_keep_address", "_proxies", "_state")

    def __init__(
        self, state: ConfigState, proxies: ProxyPolicy, body_timeout: float, keep_address: bool
    ) -> None:
        self._state = state
        self._proxies = proxies
        self._body_timeout = body_timeout
        """Seconds a client may take to send a request body before it gets 408."""
        self._keep_address = keep_address

    def routes(self) -> tuple[Route, ...]:
        labels = ("autodiscover.xml", "outlook")
        return (
            Route("POST", PATHS, self.post, *labels, patterns=ANY_CASE),
            Route("GET", PATHS, self.get, *labels, patterns=ANY_CASE),
        )

    async def post(self, request: ClientRequest) -> web.Response:
        """Outlook POX and ActiveSync: the address comes from the XML body."""
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, length)
        if request.content.is_eof():
            body = await request.read()
        else:
            try:
                async with asyncio.timeout(self._body_timeout):
                    body = await request.read()
            except TimeoutError:
                raise web.HTTPRequestTimeout(
                    text="the request body did not arrive in time\n"
                ) from None
        try:
            parsed = parse_request(body)
        except AutodiscoverRequestError as exc:
            return _error(exc.code, exc.reason)
        try:
            address = parse_address(parsed.email)
        except AddressError as exc:
            return _error(outlook.ErrorCode.INVALID_REQUEST, f"EMailAddress: {exc}")
        if self._keep_address:
            request[ADDRESS_KEY] = address
        match = self._state.catalog.lookup(address.ascii_domain)
        if parsed.family is Family.MOBILESYNC:
            return autodiscover_response(mobilesync_answer(match, address))
        return autodiscover_response(outlook_answer(match, address))

    def get(self, request: ClientRequest) -> web.Response:
        """Clients that GET the POX URL: an address parameter, or the domain from the Host."""
        catalog = self._state.catalog
        try:
            address = ANY_ADDRESS.address(request)
        except AddressError as exc:
            return _error(outlook.ErrorCode.INVALID_REQUEST, f"address: {exc}")
        if address is not None:
            match = catalog.lookup(address.ascii_domain)
            return autodiscover_response(outlook_answer(match, address))
        domain = domain_of_host(self._proxies.host(request) or "", HOST_PREFIXES)
        match = catalog.lookup(domain) if domain else None
        return autodiscover_response(outlook_answer_for_domain(match, domain or ""))
