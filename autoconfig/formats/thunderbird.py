"""Thunderbird autoconfig (`config-v1.1.xml`, the ISPDB / IETF mailmaint format).

The answer is the same for every user of a domain: login names keep their placeholders
(%EMAILADDRESS%...), which every client fills itself, so the document reveals nothing about any
mailbox and can be rendered once. Only %EMAILDOMAIN% in host names is filled here, with the domain
asked about, because the draft lets clients leave host names alone. What Thunderbird requires
(readFromXML.sys.mjs, releases 128 to current) shapes the output: a host-name id, at least one
domain, `port` and `username` on every server, socket types spelled exactly.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from ..address import EMAILDOMAIN
from ..model import OAuth2Settings, Provider, Server, WebService
from .template import Template, slot
from .xml_writer import adder, serialize

_DOMAIN_SLOT = "domain"
_add = adder()


def _server(parent: etree._Element, tag: str, server: Server, domain: str) -> None:
    element = _add(parent, tag, type=server.type)
    _add(element, "hostname", server.hostname.replace(EMAILDOMAIN, domain))
    _add(element, "port", str(server.port))
    _add(element, "socketType", server.socket_type.value)
    for method in server.authentication:
        _add(element, "authentication", method.value)
    _add(element, "username", server.username)


def _url_section(
    parent: etree._Element, tag: str, kind: str, service: WebService, oauth2: bool
) -> None:
    """A URL-based section as the IETF draft writes it, readable by every Thunderbird.

    Thunderbird skips an `<authentication>` that has an attribute, so the draft's
    `system="http"` method is followed by an attribute-less one it knows.
    """
    element = _add(parent, tag, type=kind)
    _add(element, "url", service.url)
    if oauth2:
        _add(element, "authentication", "OAuth2")
    _add(element, "authentication", "Basic", system="http")
    _add(element, "authentication", "password-cleartext")
    _add(element, "username", service.username)


def _oauth2(root: etree._Element, settings: OAuth2Settings) -> None:
    """The OAuth2 block, beside emailProvider as in the ISPDB and the IETF draft."""
    block = _add(root, "oAuth2")
    _add(block, "issuer", settings.issuer)
    _add(block, "scope", settings.scope)
    _add(block, "authURL", settings.auth_url)
    _add(block, "tokenURL", settings.token_url)
    if settings.client_id is not None:
        _add(block, "clientID", settings.client_id)


def _document(provider: Provider, domain: str, domains: Iterable[str]) -> bytes:
    root = etree.Element("clientConfig", version="1.1")
    body = _add(root, "emailProvider", id=provider.id)
    for name in domains:
        _add(body, "domain", name)
    _add(body, "displayName", provider.display_name)
    _add(body, "displayShortName", provider.short_name)
    oauth2 = provider.oauth2 is not None
    jmap = provider.service("jmap")
    if jmap is not None:
        _url_section(body, "incomingServer", "jmap", jmap, oauth2)
    for server in provider.incoming:
        _server(body, "incomingServer", server, domain)
    for kind in ("ews", "activeSync"):
        service = provider.service(kind)
        if service is not None:
            _url_section(body, "incomingServer", kind, service, oauth2)
    for server in provider.outgoing:
        _server(body, "outgoingServer", server, domain)
    for page in provider.documentation:
        documentation = _add(body, "documentation", url=page.url)
        for language, text in page.descriptions:
            if language is None:
                _add(documentation, "descr", text)
            else:
                _add(documentation, "descr", text, lang=language)
    if provider.webmail:
        _add(_add(body, "webMail"), "loginPage", url=provider.webmail)
    for tag, kind in (("calendar", "caldav"), ("addressbook", "carddav")):
        service = provider.service(kind)
        if service is not None:
            _url_section(root, tag, kind, service, oauth2)
    if provider.oauth2 is not None:
        _oauth2(root, provider.oauth2)
    return serialize(root, "UTF-8")


def render(provider: Provider, domain: str) -> bytes:
    """The document for a lookup of `domain` (normalised), built from scratch.

    A domain that matched through a wildcard is added to the domain list, so that the client
    finds the domain it asked about in the answer.
    """
    listed = provider.exact_domains
    return _document(provider, domain, listed if domain in listed else (*listed, domain))


def render_ispdb(provider: Provider) -> bytes:
    """The provider as an ISPDB file: every exact domain, host placeholders kept."""
    return _document(provider, EMAILDOMAIN, provider.all_exact_domains)


@dataclass(frozen=True, slots=True)
class CompiledThunderbird:
    """`render` done once per provider; `fill` gives the same bytes for any domain."""

    listed: Template
    unlisted: Template
    exact_domains: frozenset[str]

    def fill(self, domain: str) -> bytes:
        template = self.listed if domain in self.exact_domains else self.unlisted
        return template.fill_every(domain)


def compile_provider(provider: Provider) -> CompiledThunderbird:
    marker = slot(_DOMAIN_SLOT)
    compiled = CompiledThunderbird(
        listed=Template.from_rendered(_document(provider, marker, provider.exact_domains)),
        unlisted=Template.from_rendered(
            _document(provider, marker, (*provider.exact_domains, marker))
        ),
        exact_domains=frozenset(provider.exact_domains),
    )
    for template in (compiled.listed, compiled.unlisted):
        assert set(template.slots) <= {_DOMAIN_SLOT}, "fill_every needs one slot name"
    return compiled
