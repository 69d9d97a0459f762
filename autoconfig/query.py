"""Query parameters as clients send them: any of several names, in any letter case."""

from collections.abc import Iterable
from urllib.parse import unquote_plus

from aiohttp import web

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
