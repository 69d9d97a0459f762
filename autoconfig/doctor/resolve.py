"""Every name the doctor looks up goes through one dnspython resolver.

One resolver for DNS checks, HTTPS and mail connections means the doctor sees exactly what the
nameservers it was pointed at publish (`--nameserver`, default: the system's), and that nothing
is resolved behind its back: aiohttp gets an adapter instead of its own resolver. Each question,
with dnspython's retries, ends within the timeout, and a failure says in plain words what the
nameserver did (no answer, refused, unreachable), never dnspython's trace of attempts.
"""

import asyncio
import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

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


class Failure(StrEnum):
    """Why a lookup gave no answer: the name's own fault, or the nameserver's."""

    MISSING = "missing"
    """DNS says the name or the record does not exist: publish it."""
    NO_ANSWER = "no answer"
    """The nameserver said nothing within the timeout."""
    REFUSED = "refused"
    """The nameserver refused to answer (not recursive for us, or not serving this zone)."""
    UNREACHABLE = "unreachable"
    """The nameserver cannot be reached at all (or none is configured)."""
    SERVFAIL = "servfail"
    """The nameserver answered SERVFAIL: it could not get an answer from the zone's servers."""
    OTHER = "other"


class ResolveError(Exception):
    """A name could not be resolved; the message says why in plain words."""

    def __init__(self, message: str, failure: Failure, reason: str = "") -> None:
        super().__init__(message)
        self.failure = failure
        self.reason = reason or message
        """What went wrong without the name asked: `the nameserver 192.0.2.1 did not answer
        within 5 s`, the same for every name, so it can be said once."""

    @property
    def missing(self) -> bool:
        """True when DNS says the name does not exist: publishing it is the fix."""
        return self.failure is Failure.MISSING


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

    def __str__(self) -> str:
        """As it is written on the command line (the port only when it is not 53)."""
        if self.port == 53:
            return self.address
        return (
            f"[{self.address}]:{self.port}"
            if ":" in self.address
            else f"{self.address}:{self.port}"
        )


def _server_failure(error: object) -> tuple[Failure, str]:
    """(failure, what the nameserver did) for one entry of dnspython's error trace."""
    if isinstance(error, dns.exception.Timeout | TimeoutError):
        return Failure.NO_ANSWER, "did not answer"
    if isinstance(error, OSError):
        reason = os.strerror(error.errno) if error.errno else str(error) or "network error"
        return Failure.UNREACHABLE, f"cannot be reached ({reason})"
    if error == "REFUSED":
        return Failure.REFUSED, "refused to answer"
    if error == "SERVFAIL":
        return Failure.SERVFAIL, "could not get an answer from the zone's servers (SERVFAIL)"
    if isinstance(error, str):
        return Failure.OTHER, f"answered with the error {error}"
    return Failure.OTHER, "sent an answer that cannot be read"


class Lookup:
    """Cached lookups, each bounded by the timeout; answers as plain values, errors as
    ResolveError with a message that names the nameserver and what it did."""

    def __init__(self, nameservers: Sequence[Nameserver] = (), timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.unconfigured: str | None = None
        """Why there is no nameserver to ask (no /etc/resolv.conf), or None."""
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(n.address, n.port) for n in nameservers
            ]
            names = [str(n) for n in nameservers]
            self.described = _described(names, system=False)
        else:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                resolver = dns.asyncresolver.Resolver(configure=False)
                self.unconfigured = (
                    "no nameserver is configured on this machine (/etc/resolv.conf): "
                    "name one with --nameserver"
                )
            names = [str(n) for n in resolver.nameservers]
            self.described = _described(names, system=True)
        self.subject = self.described.removeprefix("the ")
        """`nameserver 192.0.2.1`: what a finding about the nameserver itself is about."""
        resolver.lifetime = timeout
        resolver.timeout = min(resolver.timeout, timeout)
        resolver.cache = dns.resolver.Cache()
        self._resolver = resolver

    def _error(self, name: str, exc: BaseException) -> ResolveError:
        """A plain-words ResolveError: `cannot look up NAME: the nameserver X did not answer
        within 5 s`, never dnspython's trace of attempts."""
        if isinstance(exc, dns.exception.Timeout | TimeoutError):
            failure, what = Failure.NO_ANSWER, f"did not answer within {self.timeout:g} s"
        elif isinstance(exc, dns.resolver.NoNameservers):
            trace = exc.kwargs.get("errors") or []
            outcomes = [_server_failure(entry[3]) for entry in trace] or [
                (Failure.OTHER, "gave no usable answer")
            ]
            failure = outcomes[0][0]
            what = " and ".join(dict.fromkeys(text for _, text in outcomes))
        else:
            return ResolveError(f"cannot look up {name}: {exc}", Failure.OTHER)
        reason = f"{self.described} {what}"
        return ResolveError(f"cannot look up {name}: {reason}", failure, reason)

    async def _resolve(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        """One question with its retries, within the timeout; None for NXDOMAIN."""
        if self.unconfigured is not None:
            raise ResolveError(
                f"cannot look up {name}: {self.unconfigured}",
                Failure.UNREACHABLE,
                self.unconfigured,
            )
        try:
            async with asyncio.timeout(self.timeout):
                return await self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return None
        except (dns.exception.DNSException, TimeoutError) as exc:
            raise self._error(name, exc) from exc

    async def records(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        """The records of one type at `name` (CNAMEs followed); [] when there are none."""
        answer = await self._resolve(name, rdtype)
        if answer is None or answer.rrset is None:
            return []
        return list(answer.rrset)

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
        return await self._resolve(name, "A") is not None

    async def addresses(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of a host (an IP address is returned as it is).

        Both questions are asked at once, so finding the addresses is one step of the timeout.
        """
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        answers = await asyncio.gather(
            self.records(host, "A"), self.records(host, "AAAA"), return_exceptions=True
        )
        found: list[str] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            found.extend(r.to_text() for r in answer)
        if not found:
            raise ResolveError(f"{host} has no A or AAAA record", Failure.MISSING)
        return found


def _described(names: Sequence[str], *, system: bool) -> str:
    """`the nameserver 192.0.2.1`, `the nameservers 192.0.2.1 and 192.0.2.2`, `the system's
    nameserver 10.0.0.1 (/etc/resolv.conf)`: the subject of every resolver message."""
    shown = " and ".join(names) if names else "(none)"
    plural = "s" if len(names) > 1 else ""
    if system:
        return f"the system's nameserver{plural} {shown} (/etc/resolv.conf)"
    return f"the nameserver{plural} {shown}"


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
