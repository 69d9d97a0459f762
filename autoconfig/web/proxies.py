"""Who is asking: the client's address and the Host it asked for, proxies taken into account.

X-Forwarded-For, -Proto and -Host are set by whoever sends the request, so they are believed only
when the connection comes from a configured reverse proxy. Without that rule anybody could pose as
any client (to dodge a rate limit) or as any host (to steer answers that name the server).
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import hdrs

from .request import ClientRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Networks from `10.0.0.0/8`, `::1` or `127.0.0.1`; ValueError names a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or network") from exc
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class ProxyPolicy:
    """Which peers may speak for the client through X-Forwarded-* headers."""

    trusted: tuple[Network, ...] = ()

    def trusts(self, peer: str | None) -> bool:
        if not self.trusted or not peer:
            return False
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def client_ip(self, request: ClientRequest) -> str:
        """The client's address: the peer, or the last untrusted hop of X-Forwarded-For."""
        peer = request.remote or ""
        if not self.trusts(peer):
            return peer
        hops = [
            hop.strip()
            for header in request.headers.getall(hdrs.X_FORWARDED_FOR, ())
            for hop in header.split(",")
            if hop.strip()
        ]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer

    def host(self, request: ClientRequest) -> str | None:
        """The Host the client asked for; X-Forwarded-Host only from a trusted proxy."""
        if self.trusted and self.trusts(request.remote):
            forwarded = request.headers.get(hdrs.X_FORWARDED_HOST)
            if forwarded:
                return forwarded.split(",", 1)[0].strip()
        return request.headers.get(hdrs.HOST)
