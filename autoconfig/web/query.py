"""Query parameters as clients send them: any of several names, in any letter case."""

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from aiohttp import web

from ..address import (
    COMMON_DOMAIN,
    MAX_ADDRESS_OCTETS,
    MAX_DOMAIN_OCTETS,
    MAX_LOCAL_PART_OCTETS,
    EmailAddress,
    parse_address,
)

ADDRESS_PARAMETERS = ("emailaddress", "email")
"""The names clients give the address under (Thunderbird, Apple, the settings page)."""


def query_value(request: web.Request, names: Iterable[str]) -> str | None:
    """A query parameter by any of its lower-case names, in any letter case.

    The raw query string is scanned first: building aiohttp's decoded query mapping costs more
    than the rest of a Thunderbird request together. Keys that are themselves percent-encoded
    fall through to that mapping.
    """
    path = request.raw_path
    start = path.find("?")
    if start < 0:
        return None
    wanted = names if isinstance(names, tuple) else tuple(names)
    for pair in path[start + 1 :].split("&"):
        key, _, value = pair.partition("=")
        if key.lower() in wanted:
            value = value.replace("%40", "@")
            return unquote_plus(value) if "%" in value or "+" in value else value
    if "%" not in path[start:]:
        return None
    for key, value in request.query.items():
        if key.lower() in wanted:
            return value
    return None


_QUERY_ATOM = r"[A-Za-z0-9!$'*/?^_`{|}~-]++"
"""Address characters that mean themselves in a query string: not `%` (an escape), `+` (a
space), `&` and `=` (separators) or `#`."""
_ADDRESS_PARAMETER_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _address_parameter_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    pattern = _ADDRESS_PARAMETER_PATTERNS.get(names)
    if pattern is None:
        keys = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        pattern = _ADDRESS_PARAMETER_PATTERNS[names] = re.compile(
            rf"(?i:{keys})=({_QUERY_ATOM}(?:\.{_QUERY_ATOM})*+)(?:@|%40)({COMMON_DOMAIN})(\.?)(?:&|\Z)",
            re.ASCII,
        )
    return pattern


def address_parameter(request: web.Request, names: tuple[str, ...]) -> EmailAddress | None:
    """The address of a query whose first parameter is one of `names` and an everyday address.

    `?emailaddress=someone%40example.com`, as Thunderbird, Apple devices and Outlook send it,
    is read and checked by one regular expression instead of query_value and parse_address
    (half the cost of a whole answer under load). Anything else (another parameter first,
    escapes other than %40, quoted or non-ASCII addresses) gives None, and the caller then asks
    query_value and parse_address, which give the same address for every query this accepts.
    """
    path = request.raw_path
    start = path.find("?") + 1
    if not start:
        return None
    found = _address_parameter_pattern(names).match(path, start)
    if found is None:
        return None
    local, domain, dot = found.groups()
    if (
        len(local) > MAX_LOCAL_PART_OCTETS
        or len(domain) > MAX_DOMAIN_OCTETS
        or len(local) + len(domain) + len(dot) >= MAX_ADDRESS_OCTETS
    ):
        return None
    return EmailAddress(local, domain + dot, domain.lower())


def address_in_query(request: web.Request, names: tuple[str, ...]) -> EmailAddress | None:
    """The address a query gives under one of `names`: None when there is none (or it is
    empty), AddressError when it is not a valid address.

    The everyday form is read by `address_parameter`; any other by query_value and
    parse_address.
    """
    address = address_parameter(request, names)
    if address is not None:
        return address
    given = query_value(request, names)
    return parse_address(given) if given else None
