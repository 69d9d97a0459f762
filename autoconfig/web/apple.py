"""HTTP for iPhone, iPad and Mac: the configuration profile of one address.

The profile is rendered by formats/mobileconfig.py (pre-rendered per provider, filled per
address) and signed by formats/profile_signing.py when a certificate is configured. It is made
for one address, so it is never cached.
"""

from aiohttp import web

from ..address import AddressError, check_host_local_part
from ..formats import mobileconfig
from ..formats.profile_signing import ProfileSigner
from ..reload import ConfigState
from .observe import ADDRESS_KEY
from .query import ANY_ADDRESS
from .request import ClientRequest
from .responses import NOT_SERVED_CACHE, not_served
from .routes import Route

PATHS = ("/email.mobileconfig", "/apple/mobileconfig")


class AppleEndpoints:
    """The profile handler, bound to the catalog state and the signer (None: unsigned)."""

    __slots__ = ("_keep_address", "_signer", "_state")

    def __init__(
        self, state: ConfigState, signer: ProfileSigner | None, keep_address: bool
    ) -> None:
        self._state = state
        self._signer = signer
        self._keep_address = keep_address

    def routes(self) -> tuple[Route, ...]:
        return (Route("GET", PATHS, self.profile, "mobileconfig", "apple"),)

    def profile(self, request: ClientRequest) -> web.Response:
        """An Apple configuration profile for the `emailaddress` (or `email`) parameter."""
        try:
            address = ANY_ADDRESS.address(request)
        except AddressError as exc:
            raise web.HTTPBadRequest(text=f"address: {exc}\n") from exc
        if address is None:
            raise web.HTTPBadRequest(text="Give ?emailaddress=you@your.domain\n")
        if self._keep_address:
            request[ADDRESS_KEY] = address
        match = self._state.catalog.lookup(address.ascii_domain)
        if match is None:
            return not_served(address.ascii_domain)
        entry = match.entry
        try:
            check_host_local_part(address, entry.hosts_need_local_part)
        except AddressError as exc:
            raise web.HTTPBadRequest(text=f"address: {exc}\n") from exc
        try:
            body = entry.mobileconfig.fill(address)
        except mobileconfig.ProfileUnavailable as exc:
            return web.Response(status=404, text=f"{exc}\n", headers=NOT_SERVED_CACHE)
        if self._signer is not None:
            body = self._signer.sign(body)
        return web.Response(body=body, headers=entry.mobileconfig_headers)
