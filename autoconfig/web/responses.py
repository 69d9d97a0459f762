"""Answers several families send alike, with their header sets built once.

Whole header sets are made at import: the hot paths then skip content-type parsing per request.
"""

from aiohttp import web
from multidict import CIMultiDict

from ..answers import AutodiscoverAnswer, Outcome

SHARED_CACHE_HEADERS = {
    "Cache-Control": "public, max-age=3600",
    "Access-Control-Allow-Origin": "*",
}
"""Answers that are the same for every user of a domain (Thunderbird's, PACC): shared caches
may keep them."""

PRIVATE_HEADERS = {"Cache-Control": "no-store"}
"""Answers that carry the address; no cache should keep them."""

_XML = {"Content-Type": "text/xml; charset=utf-8"}
SHARED_XML = CIMultiDict({**_XML, **SHARED_CACHE_HEADERS})
PRIVATE_XML = CIMultiDict({**_XML, **PRIVATE_HEADERS})
PRIVATE_JSON = CIMultiDict({"Content-Type": "application/json; charset=utf-8", **PRIVATE_HEADERS})
NOT_SERVED_CACHE = {"Cache-Control": "public, max-age=300"}


def not_served(domain: str) -> web.Response:
    """404 for a domain no provider serves (or one without servers), cacheable for a while."""
    return web.Response(
        status=404,
        text=f"No mail settings are published here for {domain}.\n",
        headers=NOT_SERVED_CACHE,
    )


def autodiscover_response(answer: AutodiscoverAnswer) -> web.Response:
    """An Autodiscover answer as HTTP: 302 for a redirect URL, else the document (errors too:
    Autodiscover errors are 200 with an ErrorCode inside)."""
    if answer.outcome is Outcome.REDIRECT_URL:
        raise web.HTTPFound(answer.detail, headers=PRIVATE_HEADERS)
    return web.Response(body=answer.body, headers=PRIVATE_XML)
