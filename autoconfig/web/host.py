"""The Host a request names: split one way here, then read as a mail domain or as this server's
own name.

Clients that send no address are answered for the domain their Host names, minus a service
prefix (`autoconfig.example.com:443` means example.com). Answers that point at this server
(autodiscover.json, the plain-HTTP redirect) name it by its Host, and behind a TLS reverse proxy
only the admin knows that name (`--public-url`). The header comes from the internet, so it is
split by `_split` alone, and a name is used only after it parsed: as a domain
(`domain_of_host`), or, before it is ever echoed, as a host name or IP literal with an optional
port (`parse_authority`), so nothing can inject text into an answer or a cached redirect.
"""

import functools
import ipaddress
import re
from typing import NamedTuple

from ..address import (
    MAX_DOMAIN_OCTETS,
    AddressError,
    is_ascii_host_name,
    is_ip_address,
    normalize_domain,
)

_PORT = re.compile(r"[0-9]{1,5}\Z")


class HostError(ValueError):
    """The Host header cannot be used to name this server; the message says why."""


class _Parts(NamedTuple):
    name: str
    """Before the port; for an IP literal in brackets, what is inside them."""
    port: str | None
    """After the colon that ends the name, None without one."""
    bracketed: bool
    """`[...]`: an IPv6 literal (or nothing usable)."""
    colons: bool
    """Several colons outside brackets: an IPv6 address written bare, never a name."""


def _split(header: str) -> _Parts:
    """`[literal]:port`, `name:port` or `name`, as the text stands; nothing is validated."""
    if header.startswith("["):
        literal, _, rest = header[1:].partition("]")
        return _Parts(literal, rest, bracketed=True, colons=False)
    colons = header.count(":")
    if colons == 1:
        name, _, port = header.partition(":")
        return _Parts(name, port, bracketed=False, colons=False)
    return _Parts(header, None, bracketed=False, colons=colons > 1)


@functools.lru_cache(maxsize=1024)
def domain_of_host(header: str, prefixes: tuple[str, ...]) -> str | None:
    """The mail domain a Host names: port and one of `prefixes` removed, normalised; None for an
    IP address or anything that is no domain name.

    Memoised: a server is reached under a handful of names, and normalising one (the IP check,
    IDNA) costs more than the rest of some answers. Bounded, so that clients sending made-up
    names cannot grow it.
    """
    parts = _split(header)
    if parts.bracketed or is_ip_address(parts.name):
        return None
    try:
        name = normalize_domain(parts.name)
    except AddressError:
        return None
    for prefix in prefixes:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


@functools.lru_cache(maxsize=1024)
def host_name(header: str) -> str | None:
    """The name of a Host in lower case, without port or trailing dots; None for an IP literal
    (in brackets or bare) and for an empty header. For comparing, not for echoing; memoised
    like `domain_of_host`."""
    parts = _split(header)
    if not header or parts.bracketed or parts.colons:
        return None
    return parts.name.lower().rstrip(".")


class Authority(NamedTuple):
    """`name[:port]` of a Host that parsed: a lower-case DNS name or a normalised IP literal."""

    name: str
    port: str | None

    def __str__(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"


def _check_name(name: str) -> str:
    """A DNS name (lower-cased, one trailing dot dropped) or a dotted IPv4 address."""
    name = name.lower().removesuffix(".")
    if not name or len(name) > MAX_DOMAIN_OCTETS:
        raise HostError("the host name is empty or too long")
    if name[-1].isdigit():
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            pass
    if not is_ascii_host_name(name):
        raise HostError("the Host header is not a host name")
    return name


def _check_ipv6(literal: str) -> str:
    if "%" in literal:
        raise HostError("zone identifiers name no public host")
    try:
        return f"[{ipaddress.IPv6Address(literal).compressed}]"
    except ValueError as exc:
        raise HostError("the Host header holds an invalid IPv6 address") from exc


def _check_port(port: str) -> str:
    if not _PORT.match(port) or not 1 <= int(port) <= 65535:
        raise HostError("the port is not a number from 1 to 65535")
    return port


def parse_authority(header: str | None) -> Authority:
    """The Host as this server may name itself by it; HostError when it is no such name."""
    if not header:
        raise HostError("the request has no Host header")
    parts = _split(header)
    if parts.bracketed:
        if "]" not in header:
            raise HostError("the IPv6 literal is not closed")
        name = _check_ipv6(parts.name)
        if not parts.port:
            return Authority(name, None)
        if not parts.port.startswith(":"):
            raise HostError("text follows the IPv6 literal")
        return Authority(name, _check_port(parts.port[1:]))
    if parts.colons:
        name, _, port = header.partition(":")
        return Authority(_check_name(name), _check_port(port))
    name = _check_name(parts.name)
    return Authority(name, None if parts.port is None else _check_port(parts.port))


def public_base_url(configured: str | None, header: str | None) -> str:
    """The configured base URL, else `https://` + the Host once it parsed; no trailing slash."""
    if configured:
        return configured.rstrip("/")
    return f"https://{parse_authority(header)}"
