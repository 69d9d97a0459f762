"""Query parameters as clients send them: any of several names, in any letter case."""

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from ..address import EmailAddress, common_address, common_address_pattern, parse_address
from .request import ClientRequest


def query_value(request: ClientRequest, names: Iterable[str]) -> str | None:
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


def address_text(value: str) -> str:
    """An address as a query string gave it, with `+` where the query had one unencoded.

    In a query `+` means a space, so `?emailaddress=bob+tag@example.com`, as curl and
    hand-typed links send it, arrives as `bob tag@example.com`. Clients encode `+` as `%2B`,
    and no unquoted local part may hold a space, so such a space can only have been a `+`:
    it is read back as one rather than refused. Quoted local parts keep their spaces.
    """
    local, at, domain = value.rpartition("@")
    if at and " " in local and not local.startswith('"'):
        return f"{local.replace(' ', '+')}@{domain}"
    return value


_QUERY_ATOM = r"[A-Za-z0-9!$'*/?^_`{|}~-]"
"""Address characters that mean themselves in a query string: not `%` (an escape), `+` (a
space), `&` and `=` (separators) or `#`."""


class AddressQuery:
    """The address a query gives under one of `names` (lower case; matched in any case)."""

    __slots__ = ("_everyday", "names")

    def __init__(self, *names: str) -> None:
        self.names = names
        keys = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        self._everyday = re.compile(
            rf"(?i:{keys})={common_address_pattern(_QUERY_ATOM, '(?:@|%40)')}(?:&|\Z)",
            re.ASCII,
        )
        """The first parameter as clients send it: `emailaddress=someone%40example.com`."""

    def everyday(self, request: ClientRequest) -> EmailAddress | None:
        """The address of a query whose first parameter is one of the names and an everyday
        address, or None.

        `?emailaddress=someone%40example.com`, as Thunderbird, Apple devices and Outlook send
        it, is read and checked by one regular expression instead of query_value and
        parse_address (a large share of a whole answer under load). Anything else (another
        parameter first, escapes other than %40, quoted or non-ASCII addresses) gives None, and
        `address` then asks query_value and parse_address, which give the same address for
        every query this accepts.
        """
        path = request.raw_path
        start = path.find("?") + 1
        if not start:
            return None
        found = self._everyday.match(path, start)
        return common_address(*found.groups()) if found is not None else None

    def address(self, request: ClientRequest) -> EmailAddress | None:
        """None when the query has no such parameter (or an empty one), AddressError when it
        is not a valid address."""
        address = self.everyday(request)
        if address is not None:
            return address
        given = query_value(request, self.names)
        return parse_address(address_text(given)) if given else None


EMAILADDRESS = AddressQuery("emailaddress")
"""Thunderbird's name for it."""
ANY_ADDRESS = AddressQuery("emailaddress", "email")
"""Either name: Apple devices, the settings page, clients that GET the POX URL."""
EMAIL = AddressQuery("email")
"""autodiscover.json's name for it."""
