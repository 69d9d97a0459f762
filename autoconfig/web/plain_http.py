"""The plain-HTTP listener (`--http-port`): Thunderbird's legacy `http://autoconfig.<domain>/`
URL and the probes are answered, every other request is sent to https.

Autodiscover clients re-POST after a 302 only to https, and a redirect is only ever made to
`--public-url` or to a name the catalog serves: a forged Host gets 404, never a redirect to
another site.
"""

from aiohttp import web

from ..reload import ConfigState
from .host import HostError, domain_of_host, parse_authority
from .proxies import ProxyPolicy
from .request import ClientRequest
from .routes import Route

SERVICE_PREFIXES = ("autoconfig.", "autodiscover.", "ua-auto-config.")


class PlainHttpEndpoints:
    """The redirect to https, bound to the public URL, the proxy policy and the catalog."""

    __slots__ = ("_proxies", "_public_url", "_state")

    def __init__(self, state: ConfigState, proxies: ProxyPolicy, public_url: str | None) -> None:
        self._state = state
        self._proxies = proxies
        self._public_url = public_url.rstrip("/") if public_url else None

    def routes(self) -> tuple[Route, ...]:
        """Everything the listener does not answer itself goes to https."""
        return (
            Route("*", (), self.to_https, "http-redirect", "redirect", patterns=("/{tail:.*}",)),
        )

    def _https_base(self, request: ClientRequest) -> str | None:
        """The configured URL, or https:// on a name the catalog serves; None for any other
        Host, so a forged one cannot make this server point anybody at another site."""
        if self._public_url:
            return self._public_url
        try:
            authority = parse_authority(self._proxies.host(request))
        except HostError:
            return None
        domain = domain_of_host(str(authority), SERVICE_PREFIXES)
        if domain is None or self._state.catalog.lookup(domain, use_default=False) is None:
            return None
        return f"https://{authority.name}"

    def to_https(self, request: ClientRequest) -> web.Response:
        """302 to the same path over https (Autodiscover clients re-POST only to https)."""
        base = self._https_base(request)
        if base is None:
            return web.Response(status=404, text="Nothing is served here over plain HTTP.\n")
        raise web.HTTPFound(base + request.path_qs, headers={"Cache-Control": "no-store"})
