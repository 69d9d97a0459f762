"""What a person copies into a mail app by hand, worked out from a provider, in one language.

The settings page shows exactly what the Thunderbird and Autodiscover answers already say, for
one address (values filled in) or one domain (placeholders described in words), so a page for
any address at a domain differs from another only by the address itself: nothing on it tells
whether a mailbox exists. Protocol words are translated here (SSL/TLS, "Normal password"), so
the templates only lay the result out.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import reduce
from urllib.parse import urlencode, urlsplit

import idna

from ..address import EMAILADDRESS, EMAILDOMAIN, EMAILLOCALPART, EmailAddress, substitute
from ..i18n import Catalogue
from ..model import SERVICE_KINDS, Authentication, Provider, Server

PROFILE_PATH = "/email.mobileconfig"
"""The Apple configuration profile of an address (served by the mobileconfig format)."""

INCOMING_ORDER = ("imap", "pop3")
"""IMAP first: mail stays on the server, the same on every device; POP3 after it."""

_PLACEHOLDER = re.compile(r"%[A-Z]+%")


@dataclass(frozen=True, slots=True)
class Target:
    """Who the page is for: an address, or only a domain (`/settings/DOMAIN`).

    `domain` is normalised (lower-case A-labels): host names are filled with it.
    """

    domain: str
    address: EmailAddress | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled value. `exact` is false when the value describes what to type ("your full
    e-mail address") instead of being it: such a value gets no copy button."""

    field: str
    label: str
    value: str
    exact: bool = True
    literal: bool = True
    """Typed as shown (host, port, login, URL), so set in a monospace face; else words."""


@dataclass(frozen=True, slots=True)
class Box:
    """One server or service, with an id that makes its values addressable in the page."""

    id: str
    kind: str
    heading: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    heading: str
    boxes: tuple[Box, ...]
    intro: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    """A link to the provider's pages; `language` is set when the text is in another language."""

    href: str
    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class SettingsView:
    provider_name: str
    title: str
    sections: tuple[Section, ...]
    links: tuple[Link, ...]
    profile_url: str | None


def _fill(template: str, target: Target, messages: Catalogue, *, host: bool) -> tuple[str, bool]:
    """The value to show for a host or login template, and whether it is the value itself."""
    if target.address is not None:
        return substitute(template, target.address, for_host=host), True
    if template == EMAILADDRESS:
        return messages("username.address"), False
    if template == EMAILLOCALPART:
        return messages("username.local_part"), False
    words = {
        EMAILADDRESS: messages("placeholder.address"),
        EMAILLOCALPART: messages("placeholder.local_part"),
        EMAILDOMAIN: target.domain,
    }
    value = _PLACEHOLDER.sub(lambda match: words.get(match.group(0), match.group(0)), template)
    return value, EMAILADDRESS not in template and EMAILLOCALPART not in template


def _authentication(methods: Iterable[Authentication], messages: Catalogue) -> str:
    names = [messages(f"auth.{method.value}") for method in methods]
    return reduce(lambda first, second: messages("list.or", first=first, second=second), names)


def _auth_notes(server: Server, messages: Catalogue) -> Iterator[str]:
    if Authentication.OAUTH2 in server.authentication:
        only = set(server.authentication) == {Authentication.OAUTH2}
        yield messages("auth.oauth2_only_help" if only else "auth.oauth2_help")


def _server_box(
    server: Server, box_id: str, alternative: bool, target: Target, messages: Catalogue
) -> Box:
    protocol = messages(f"protocol.{server.type}")
    host, host_exact = _fill(server.hostname, target, messages, host=True)
    rows = [
        Row("host", messages("field.host"), host, host_exact),
        Row("port", messages("field.port"), str(server.port)),
        Row(
            "encryption",
            messages("field.encryption"),
            messages(f"encryption.{server.socket_type.value}"),
            literal=False,
        ),
    ]
    if server.sends_credentials:
        username, exact = _fill(server.username, target, messages, host=False)
        rows.append(Row("username", messages("field.username"), username, exact))
    rows.append(
        Row(
            "authentication",
            messages("field.authentication"),
            _authentication(server.authentication, messages),
            literal=False,
        )
    )
    notes = [messages("server.alternative_help")] if alternative else []
    notes.extend(_auth_notes(server, messages))
    heading_key = "server.heading_alternative" if alternative else "server.heading"
    return Box(
        id=box_id,
        kind=server.type,
        heading=messages(heading_key, protocol=protocol),
        rows=tuple(rows),
        notes=tuple(notes),
    )


def _server_boxes(
    servers: Iterable[Server], prefix: str, target: Target, messages: Catalogue
) -> tuple[Box, ...]:
    boxes = []
    seen: set[str] = set()
    for number, server in enumerate(servers, start=1):
        boxes.append(
            _server_box(server, f"{prefix}{number}", server.type in seen, target, messages)
        )
        seen.add(server.type)
    return tuple(boxes)


def _service_boxes(provider: Provider, target: Target, messages: Catalogue) -> tuple[Box, ...]:
    boxes = []
    for kind in SERVICE_KINDS:
        service = provider.service(kind)
        if service is None:
            continue
        username, exact = _fill(service.username, target, messages, host=False)
        rows = (
            Row("url", messages("field.url"), service.url),
            Row("username", messages("field.username"), username, exact),
        )
        boxes.append(
            Box(id=kind.lower(), kind=kind, heading=messages(f"service.{kind}"), rows=rows)
        )
    return tuple(boxes)


def readable_domain(domain: str) -> str:
    """A normalised domain as people write it (`xn--bcher-kva.example` -> `bücher.example`)."""
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError):
        return domain


def _is_web_url(url: str) -> bool:
    """The loader only accepts http(s) URLs; checked again because these become links."""
    return urlsplit(url).scheme in ("http", "https")


def _description(descriptions: tuple[tuple[str | None, str], ...], language: str) -> Link | None:
    """The page title in the reader's language, else the untagged one, else English, else any."""
    for wanted in (language, None, "en"):
        for tag, text in descriptions:
            if tag == wanted:
                return Link("", text, None if tag in (None, language) else tag)
    if descriptions:
        tag, text = descriptions[0]
        return Link("", text, tag)
    return None


def _links(provider: Provider, messages: Catalogue) -> tuple[Link, ...]:
    links = []
    if provider.webmail and _is_web_url(provider.webmail):
        links.append(Link(provider.webmail, messages("links.webmail")))
    for page in provider.documentation:
        if not _is_web_url(page.url):
            continue
        described = _description(page.descriptions, messages.language)
        if described is None:
            links.append(Link(page.url, messages("links.documentation")))
        else:
            links.append(Link(page.url, described.text, described.language))
    return tuple(links)


def profile_url(address: EmailAddress) -> str:
    return f"{PROFILE_PATH}?{urlencode({'emailaddress': str(address)})}"


def build(
    provider: Provider, target: Target, messages: Catalogue, *, apple_profile: bool = True
) -> SettingsView:
    """The page's content for a provider that has settings (`provider.has_settings`).

    `apple_profile` says whether the provider has an Apple profile (Apple Mail cannot use every
    provider: OAuth2-only servers, for one); without it the page offers no install button.
    """
    incoming = sorted(provider.incoming, key=lambda server: INCOMING_ORDER.index(server.type))
    sections = [
        Section(
            "incoming",
            messages("incoming.heading"),
            _server_boxes(incoming, "in", target, messages),
            messages("incoming.choose")
            if {server.type for server in incoming} == set(INCOMING_ORDER)
            else None,
        ),
        Section(
            "outgoing",
            messages("outgoing.heading"),
            _server_boxes(provider.outgoing, "out", target, messages),
        ),
    ]
    services = _service_boxes(provider, target, messages)
    if services:
        sections.append(Section("services", messages("services.heading"), services))
    if target.address is not None:
        title = messages("settings.title", address=str(target.address))
    else:
        title = messages("settings.title_domain", domain=readable_domain(target.domain))
    return SettingsView(
        provider_name=provider.display_name,
        title=title,
        sections=tuple(sections),
        links=_links(provider, messages),
        profile_url=profile_url(target.address)
        if target.address is not None and apple_profile
        else None,
    )
