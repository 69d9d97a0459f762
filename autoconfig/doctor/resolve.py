"""Every name the doctor looks up goes through one dnspython resolver.

One resolver for DNS checks, HTTPS and mail connections means the doctor sees exactly what the
nameservers it was pointed at publish (`--nameserver`, default: the system's), and that nothing
is resolved behind its back: aiohttp gets an adapter instead of its own resolver.
"""

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdata
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.SRV
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult

SRV = tuple[int, int, str]
"""(priority, port, target in lower case with its final dot) of an SRV record; no weight."""


def srv_of(rdata: dns.rdata.Rdata) -> SRV:
    if not isinstance(rdata, dns.rdtypes.IN.SRV.SRV):
        raise TypeError(f"not an SRV record: {rdata}")
    return (rdata.priority, rdata.port, rdata.target.to_text().lower())


def text_of(rdata: dns.rdata.Rdata) -> str:
    """A TXT record's strings joined, as clients read them."""
    if not isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        raise TypeError(f"not a TXT record: {rdata}")
    return b"".join(rdata.strings).decode("utf-8", "replace")


class ResolveError(Exception):
    """A name could not be resolved; `missing` is True when DNS says it does not exist."""

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True, slots=True)
class Nameserver:
    """A nameserver to ask instead of the system's: `--nameserver IP[:PORT]`."""

    address: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> "Nameserver":
        """`192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1` or `[2001:db8::1]:5353`."""
        host, port = text, "53"
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"{text!r}: expected [IPv6]:PORT")
                port = rest[1:]
        elif text.count(":") == 1:
            host, port = text.split(":")
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(f"{text!r}: a nameserver must be an IP address") from None
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r}: {port!r} is not a port")
        return cls(address, int(port))


class Lookup:
    """Cached lookups with a bounded lifetime; answers as plain values, errors as ResolveError."""

    def __init__(self, nameservers: Sequence[Nameserver] = (), timeout: float = 5.0) -> None:
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(n.address, n.port) for n in nameservers
            ]
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.lifetime = timeout
        resolver.cache = dns.resolver.Cache()
        self._resolver = resolver

    async def records(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        """The records of one type at `name` (CNAMEs followed); [] when there are none."""
        try:
            answer = await self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except dns.exception.DNSException as exc:
            raise ResolveError(f"{name} {rdtype}: {exc}", missing=False) from exc
        return list(answer.rrset) if answer.rrset is not None else []

    async def srv(self, name: str) -> list[SRV]:
        return [srv_of(r) for r in await self.records(name, "SRV")]

    async def txt(self, name: str) -> list[str]:
        return [text_of(r) for r in await self.records(name, "TXT")]

    async def mx(self, name: str) -> list[tuple[int, str]]:
        return sorted(
            (r.preference, r.exchange.to_text().lower())
            for r in await self.records(name, "MX")
            if isinstance(r, dns.rdtypes.ANY.MX.MX)
        )

    async def exists(self, name: str) -> bool:
        """Whether the name exists at all (any record type), as opposed to NXDOMAIN."""
        try:
            await self._resolver.resolve(name, "A", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return False
        except dns.exception.DNSException as exc:
            raise ResolveError(f"{name}: {exc}", missing=False) from exc
        return True

    async def addresses(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of a host (an IP address is returned as it is)."""
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            found.extend(r.to_text() for r in await self.records(host, rdtype))
        if not found:
            raise ResolveError(f"{host} has no A or AAAA record", missing=True)
        return found


class AiohttpResolver(AbstractResolver):
    """Lets aiohttp connect only where the doctor's own lookups say a name points."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await self._lookup.addresses(host)
        except ResolveError as exc:
            raise OSError(str(exc)) from exc
        results: list[ResolveResult] = []
        for address in addresses:
            ip_family = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, ip_family):
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=ip_family,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise OSError(f"{host} has no address of the requested family")
        return results

    async def close(self) -> None:
        return None
