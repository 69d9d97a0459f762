"""The https base URL under which clients reach this server, for answers that name it.

Autodiscover v2 tells a client where to POST next, so the server has to say its own address. Behind
a TLS reverse proxy it cannot see the scheme or the public name, so an admin sets it
(`--public-url`); otherwise it is `https://` and the request's Host header. The Host header comes
from the internet, so it is only echoed after it parsed as a host name or IP literal with an
optional port: anything else could inject text into an answer or a cached redirect.
"""

import ipaddress
import re

MAX_HOST_OCTETS = 253
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")


class HostError(ValueError):
    """The Host header cannot be used to name this server; the message says why."""


def _check_port(port: str) -> str:
    if not _PORT.match(port) or not 1 <= int(port) <= 65535:
        raise HostError("the port is not a number from 1 to 65535")
    return port


def _check_name(name: str) -> str:
    """A DNS name (lower-cased, one trailing dot dropped) or a dotted IPv4 address."""
    name = name.lower().removesuffix(".")
    if not name or len(name) > MAX_HOST_OCTETS:
        raise HostError("the host name is empty or too long")
    if name[-1].isdigit():
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            pass
    if not all(_LABEL.match(label) for label in name.split(".")):
        raise HostError("the Host header is not a host name")
    return name


def _check_ipv6(literal: str) -> str:
    if "%" in literal:
        raise HostError("zone identifiers name no public host")
    try:
        return f"[{ipaddress.IPv6Address(literal).compressed}]"
    except ValueError as exc:
        raise HostError("the Host header holds an invalid IPv6 address") from exc


def host_authority(host: str | None) -> str:
    """`name[:port]` from a Host header, normalised; HostError if it is not one."""
    if not host:
        raise HostError("the request has no Host header")
    if host.startswith("["):
        literal, bracket, rest = host[1:].partition("]")
        if not bracket:
            raise HostError("the IPv6 literal is not closed")
        name = _check_ipv6(literal)
        if not rest:
            return name
        if not rest.startswith(":"):
            raise HostError("text follows the IPv6 literal")
        return f"{name}:{_check_port(rest[1:])}"
    name, colon, port = host.partition(":")
    if not colon:
        return _check_name(name)
    return f"{_check_name(name)}:{_check_port(port)}"


def public_base_url(configured: str | None, host: str | None) -> str:
    """The configured base URL, else `https://` + the validated Host; no trailing slash."""
    if configured:
        return configured.rstrip("/")
    return f"https://{host_authority(host)}"
