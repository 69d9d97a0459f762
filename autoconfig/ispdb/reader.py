"""One ISPDB document read into a draft provider, with a note for all it does not carry over.

ISPDB files come from anywhere, so they are parsed like Autodiscover requests: no entities, no
DTD loading, no network, and a document that declares a DTD is refused outright. Every element and
attribute is either carried into the draft or noted with its line, because the ISPDB can say
things providers.yaml cannot (POP3 options, Exchange servers, webmail form fields...) and an import
must not guess in silence. Whether a value is usable (host names, ports, URLs, language codes,
login names, characters) is decided by config's own rules; the notes keep the import's wording.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from ..address import HOST_PLACEHOLDERS, AddressError, normalize_domain, placeholder_errors
from ..config.rules import (
    has_forbidden_characters,
    is_host_name,
    is_host_template,
    is_language_code,
    is_port,
    login_error,
    url_problem,
)
from ..config.spec import DEFAULT_USERNAME, MAX_DISPLAY_NAME, MAX_SHORT_NAME, OAUTH2
from ..formats.hardened_xml import hardened_parser
from ..model import NO_AUTH_METHODS, Authentication, IncomingType, SocketType

MAX_FILE_BYTES = 1024 * 1024
"""The largest ISPDB file is a few kilobytes; anything this big is not one."""

_ALIASES = {
    "plain": Authentication.PASSWORD_CLEARTEXT,
    "secure": Authentication.PASSWORD_ENCRYPTED,
}
"""Deprecated ISPDB spellings that Thunderbird still reads as the password methods."""

_METHODS = {method.value: method for method in Authentication}
_SOCKET_TYPES = {kind.value: kind for kind in SocketType}
_INCOMING_TYPES = tuple(kind.value for kind in IncomingType)

_WHY_NOT = {
    "pop3": "providers.yaml has no POP3 options (leaveMessagesOnServer, downloadOnBiff...)",
    "enable": "providers.yaml cannot tell users how to switch on IMAP or POP access",
    "instruction": "providers.yaml cannot carry instructions for users",
    "loginPageInfo": "providers.yaml keeps the webmail login page, not its form fields",
    "addThisServer": "providers.yaml has no equivalent of this Thunderbird SMTP option",
    "useGlobalPreferredServer": "providers.yaml has no equivalent of this Thunderbird option",
    "password": "providers.yaml never carries passwords",
    "inputField": "providers.yaml has no custom input fields",
    "restriction": (
        "providers.yaml cannot say that a server accepts only some clients "
        "(client-IP-address: only from the provider's network)"
    ),
    "clientSecret": "providers.yaml keeps no OAuth2 client secret",
    "clientConfigUpdate": "providers.yaml has no update URL",
}
_READ_ATTRIBUTES = {
    "clientConfig": {"version"},
    "emailProvider": {"id"},
    "domain": {"purpose"},
    "incomingServer": {"type"},
    "outgoingServer": {"type"},
    "documentation": {"url"},
    "descr": {"lang"},
    "loginPage": {"url"},
    "authentication": None,
}
"""Attributes read (or noted where they are read) per element; any other one gets a note."""
_NOT_MAIL = ("calendar", "addressbook", "fileShare", "chatServer", "videoConference", "setupServer")


@dataclass(frozen=True)
class ImportNote:
    """Something of an ISPDB file that the import could not carry over, and where it is."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class Unusable(Exception):
    """The file is not ISPDB, or nothing of it can be imported; it is skipped with this note.

    `notes` are those found before giving up: they often say why (an Exchange-only file).
    """

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.notes: list[ImportNote] = []


@dataclass(frozen=True)
class _DomainEntry:
    text: str
    key: str
    line: int


@dataclass
class Draft:
    """One emailProvider as read from its file, before it meets the other files.

    Servers, documentation and OAuth2 are in providers.yaml form already, except that a server's
    authentication is always a list: how it is written is the importer's business.
    """

    file: str
    line: int
    id: str | None
    id_line: int
    domains: list[_DomainEntry]
    display_name: str | None
    display_line: int
    short_name: str | None
    incoming: list[dict[str, Any]]
    outgoing: list[dict[str, Any]]
    documentation: list[dict[str, Any]]
    webmail: str | None
    oauth2: dict[str, str] | None
    notes: list[ImportNote] = field(default_factory=list)


def _clean(text: str | None) -> str:
    """Element text as clients read it: trimmed, inner runs of white space made one space."""
    return " ".join((text or "").split())


class _FileReader:
    """Reads one ISPDB document; records which elements were carried over, notes the rest."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.notes: list[ImportNote] = []
        self.used: set[etree._Element] = set()

    def note(self, line: int | None, message: str) -> None:
        self.notes.append(ImportNote(self.file, line, message))

    def use(self, element: etree._Element) -> etree._Element:
        self.used.add(element)
        return element

    def text(self, element: etree._Element, what: str) -> str | None:
        """The element's text, or None (noted) when it is empty or holds forbidden characters."""
        value = _clean(element.text)
        if not value:
            self.note(element.sourceline, f"{what} is empty: not imported")
            return None
        if has_forbidden_characters(value):
            self.note(
                element.sourceline,
                f"{what} contains control or private-use characters: not imported",
            )
            return None
        return value

    def first(self, parent: etree._Element, tag: str) -> etree._Element | None:
        """The first child `tag`, as Thunderbird reads it; any further ones are noted."""
        found = [self.use(child) for child in parent.iterchildren(tag)]
        for extra in found[1:]:
            self.note(extra.sourceline, f"another <{tag}> not imported: only the first is read")
        return found[0] if found else None

    def read(self, data: bytes) -> Draft:
        if not data.strip():
            raise Unusable(None, "the file is empty: skipped")
        try:
            root = etree.fromstring(data, hardened_parser())
        except etree.XMLSyntaxError as exc:
            raise Unusable(exc.lineno, f"not well-formed XML ({exc.msg}): skipped") from exc
        if root.getroottree().docinfo.doctype:
            line = data[: max(data.find(b"<!DOCTYPE"), 0)].count(b"\n") + 1
            raise Unusable(
                line, "declares a DTD, which ISPDB files never do and which is refused: skipped"
            )
        if root.tag != "clientConfig":
            raise Unusable(
                root.sourceline, f"the root element is <{root.tag}>, not <clientConfig>: skipped"
            )
        self.use(root)
        providers = [self.use(child) for child in root.iterchildren("emailProvider")]
        if not providers:
            raise Unusable(root.sourceline, "there is no <emailProvider>: skipped")
        for extra in providers[1:]:
            self.note(
                extra.sourceline,
                "another <emailProvider> not imported: only the first of a file is read",
            )
            self.used.update(extra.iter())
        try:
            draft = self.provider(root, providers[0])
        except Unusable as exc:
            exc.notes = self.notes
            raise
        self.note_unused(root)
        draft.notes = self.notes
        return draft

    def provider(self, root: etree._Element, element: etree._Element) -> Draft:
        provider_id: str | None = _clean(element.get("id"))
        if not provider_id:
            self.note(element.sourceline, "<emailProvider> has no id: one is made up")
            provider_id = None
        elif not is_host_name(provider_id):
            self.note(
                element.sourceline,
                f"id {provider_id!r} is not host-name-like, as providers.yaml requires: "
                "one is made up",
            )
            provider_id = None
        domains = self.domains(element)
        if not domains:
            raise Unusable(element.sourceline, "no usable <domain>: skipped")
        names: dict[str, str | None] = {}
        for tag, limit in (("displayName", MAX_DISPLAY_NAME), ("displayShortName", MAX_SHORT_NAME)):
            found = self.first(element, tag)
            value = self.text(found, f"<{tag}>") if found is not None else None
            if found is not None and value is not None and len(value) > limit:
                self.note(
                    found.sourceline,
                    f"<{tag}> is {len(value)} characters, providers.yaml allows {limit}: "
                    "not imported",
                )
                value = None
            names[tag] = value
        display = element.find("displayName")
        incoming = self.servers(element, "incomingServer", _INCOMING_TYPES)
        outgoing = self.servers(element, "outgoingServer", ("smtp",))
        if not incoming:
            raise Unusable(element.sourceline, "no usable IMAP or POP3 <incomingServer>: skipped")
        if not outgoing:
            raise Unusable(element.sourceline, "no usable SMTP <outgoingServer>: skipped")
        return Draft(
            file=self.file,
            line=element.sourceline,
            id=provider_id,
            id_line=element.sourceline,
            domains=domains,
            display_name=names["displayName"],
            display_line=display.sourceline if display is not None else element.sourceline,
            short_name=names["displayShortName"],
            incoming=incoming,
            outgoing=outgoing,
            documentation=self.documentation(element),
            webmail=self.webmail(root, element),
            oauth2=self.oauth2(root),
        )

    def domains(self, provider: etree._Element) -> list[_DomainEntry]:
        result: list[_DomainEntry] = []
        first_line: dict[str, int] = {}
        for element in provider.iterchildren("domain"):
            self.use(element)
            line = element.sourceline
            text = self.text(element, "<domain>")
            if text is None:
                continue
            if "*" in text:
                self.note(line, f"domain {text!r} is not a domain name: not imported")
                continue
            try:
                key = normalize_domain(text)
            except AddressError as exc:
                self.note(line, f"domain {text!r} not imported: {exc}")
                continue
            if key in first_line:
                self.note(
                    line,
                    f"domain {text} not imported again: already listed on line {first_line[key]}",
                )
                continue
            first_line[key] = line
            if element.get("purpose") is not None:
                self.note(
                    line,
                    f'purpose="{element.get("purpose")}" of domain {text} not imported: '
                    "providers.yaml serves it as an ordinary domain",
                )
            result.append(_DomainEntry(text, key, line))
        return result

    def servers(
        self, provider: etree._Element, tag: str, types: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        result = []
        for element in provider.iterchildren(tag):
            self.use(element)
            server_type = element.get("type")
            if server_type not in types:
                shown = f'<{tag} type="{server_type}">' if server_type else f"<{tag}> without type"
                self.note(
                    element.sourceline,
                    f"{shown} not imported: providers.yaml has only "
                    f"{' or '.join(types)} {tag.removesuffix('Server')} servers",
                )
                self.used.update(element.iter())
                continue
            server = self.server(element, tag, server_type)
            if server is not None:
                result.append(server)
        return result

    def server(self, element: etree._Element, tag: str, server_type: str) -> dict[str, Any] | None:
        """One server in providers.yaml form, or None (noted) when it cannot be expressed."""
        where = f'<{tag} type="{server_type}">'

        def skip(line: int | None, why: str) -> None:
            place = "" if line == element.sourceline else f" of line {element.sourceline}"
            self.note(line, f"{where}{place} not imported: {why}")
            self.used.update(element.iter())

        result: dict[str, Any] = {"type": server_type}
        hostname_element = self.first(element, "hostname")
        if hostname_element is None:
            return skip(element.sourceline, "it has no <hostname>")
        hostname = self.text(hostname_element, "<hostname>")
        if hostname is None:
            return skip(hostname_element.sourceline, "its <hostname> is unusable")
        problems = placeholder_errors(hostname, HOST_PLACEHOLDERS)
        if problems or not is_host_template(hostname):
            why = "; ".join(problems) or f"{hostname!r} is not a host name"
            return skip(hostname_element.sourceline, why)
        result["hostname"] = hostname

        port_element = self.first(element, "port")
        if port_element is not None:
            text = _clean(port_element.text)
            if not (text.isascii() and text.isdigit() and is_port(int(text))):
                return skip(port_element.sourceline, f"<port> {text!r} is not a port (1-65535)")
            result["port"] = int(text)

        socket_type = None
        for candidate in element.iterchildren("socketType"):
            self.use(candidate)
            value = _clean(candidate.text)
            if socket_type is not None:
                self.note(
                    candidate.sourceline,
                    f"another <socketType> {value!r} not imported: the first known one is used",
                )
            elif value in _SOCKET_TYPES:
                socket_type = value
            else:
                self.note(
                    candidate.sourceline,
                    f"<socketType> {value!r} not imported: only SSL, STARTTLS and plain exist",
                )
        if socket_type is None:
            return skip(element.sourceline, "it has no usable <socketType>")
        result["socketType"] = socket_type
        if port_element is None:
            self.note(
                element.sourceline,
                f"{where} has no <port>: the standard port for {server_type} with "
                f"{socket_type} applies",
            )

        methods = self.authentication(element, tag)
        if not methods:
            return skip(element.sourceline, "it has no authentication method to import")
        result["authentication"] = methods

        username_element = self.first(element, "username")
        if username_element is None:
            self.note(
                element.sourceline,
                f"{where} has no <username>: the default {DEFAULT_USERNAME} applies",
            )
        else:
            username = self.text(username_element, "<username>")
            if username is None:
                return skip(username_element.sourceline, "its <username> is unusable")
            problem = login_error(username)
            if problem is not None:
                return skip(username_element.sourceline, problem)
            result["username"] = username
        return result

    def authentication(self, server: etree._Element, tag: str) -> list[str]:
        methods: list[str] = []
        for element in server.iterchildren("authentication"):
            self.use(element)
            line = element.sourceline
            value = _clean(element.text)
            if element.attrib:
                attributes = " ".join(f'{k}="{v}"' for k, v in element.attrib.items())
                self.note(
                    line,
                    f"<authentication {attributes}>{value} not imported: providers.yaml has "
                    "no SASL or HTTP mechanisms (and Thunderbird skips them)",
                )
                continue
            method = _METHODS.get(value)
            if method is None and value in _ALIASES:
                method = _ALIASES[value]
                self.note(
                    line,
                    f"authentication {value!r} is the deprecated spelling of {method.value!r}: "
                    f"imported as {method.value}",
                )
            if method is None:
                self.note(line, f"authentication {value!r} is not a known method: not imported")
            elif method.value in methods:
                self.note(line, f"authentication {method.value} is listed twice: not imported")
            elif tag == "incomingServer" and method in NO_AUTH_METHODS:
                self.note(
                    line,
                    f"authentication {method.value} is only possible for outgoing servers: "
                    "not imported",
                )
            else:
                methods.append(method.value)
        return methods

    def documentation(self, provider: etree._Element) -> list[dict[str, Any]]:
        result = []
        for element in provider.iterchildren("documentation"):
            self.use(element)
            url = self.url_attribute(element)
            if url is None:
                self.used.update(element.iter())
                continue
            entry: dict[str, Any] = {"url": url}
            descr = self.descriptions(element)
            if descr is not None:
                entry["descr"] = descr
            result.append(entry)
        return result

    def descriptions(self, documentation: etree._Element) -> str | dict[str, str] | None:
        """Titles by language, or one title without language: providers.yaml has no mixture."""
        by_language: dict[str, str] = {}
        without: list[tuple[int, str]] = []
        for element in documentation.iterchildren("descr"):
            self.use(element)
            text = self.text(element, "<descr>")
            if text is None:
                continue
            language = element.get("lang")
            if language is None:
                without.append((element.sourceline, text))
            elif not is_language_code(language):
                self.note(
                    element.sourceline,
                    f'<descr lang="{language}"> not imported: not a language code (en, pt-BR...)',
                )
            elif language in by_language:
                self.note(
                    element.sourceline,
                    f'another <descr lang="{language}"> not imported: one title per language',
                )
            else:
                by_language[language] = text
        if by_language:
            for line, text in without:
                self.note(
                    line,
                    f"<descr> {text!r} without lang not imported: providers.yaml cannot mix it "
                    "with titles that have a language",
                )
            return by_language
        for line, text in without[1:]:
            self.note(
                line,
                f"<descr> {text!r} not imported: only one title without lang can be kept",
            )
        return without[0][1] if without else None

    def webmail(self, root: etree._Element, provider: etree._Element) -> str | None:
        """The login page URL, from webMail inside emailProvider or beside it (both exist)."""
        kept: str | None = None
        for block in (*provider.iterchildren("webMail"), *root.iterchildren("webMail")):
            self.use(block)
            for page in block.iterchildren("loginPage"):
                self.use(page)
                url = self.url_attribute(page)
                if url is None:
                    continue
                if kept is None:
                    kept = url
                elif url != kept:
                    self.note(
                        page.sourceline,
                        f"webmail {url} not imported: providers.yaml keeps one, {kept}",
                    )
        return kept

    def url_attribute(self, element: etree._Element) -> str | None:
        """The element's http(s) `url` attribute, or None (noted) when it is missing or unusable."""
        url = _clean(element.get("url"))
        problem = url_problem(url, https_only=False) if url else "is missing"
        if problem:
            self.note(element.sourceline, f"<{element.tag}> url {problem}: not imported")
            return None
        return url

    def oauth2(self, root: etree._Element) -> dict[str, str] | None:
        block = self.first(root, "oAuth2")
        if block is None:
            return None
        values: dict[str, str] = {}
        problems: list[str] = []
        for key in OAUTH2.keys:
            element = self.first(block, key.name)
            if element is None:
                if key.required:
                    problems.append(f"<{key.name}> is missing")
                continue
            value = _clean(element.text)
            if not value or has_forbidden_characters(value):
                problems.append(f"<{key.name}> is empty or holds control characters")
            elif key.name.endswith("URL") and (why := url_problem(value, https_only=True)):
                problems.append(f"<{key.name}> {why}")
            else:
                values[key.name] = value
        if problems:
            self.note(block.sourceline, f"<oAuth2> not imported: {'; '.join(problems)}")
            self.used.update(block.iter())
            return None
        return values

    def note_unused(self, root: etree._Element) -> None:
        """Every element and attribute that was not carried over (of an element, the topmost)."""
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if element not in self.used:
                parent = element.getparent()
                if parent is None or parent in self.used:
                    self.note(element.sourceline, f"<{element.tag}> not imported: {_why(element)}")
                continue
            known = _READ_ATTRIBUTES.get(element.tag)
            if known is None:
                continue
            for name, value in element.attrib.items():
                if name not in known:
                    self.note(
                        element.sourceline,
                        f'attribute {name}="{value}" of <{element.tag}> not imported: '
                        "providers.yaml has no equivalent",
                    )


def _why(element: etree._Element) -> str:
    tag = element.tag
    if tag in _WHY_NOT:
        return _WHY_NOT[tag]
    if tag in _NOT_MAIL:
        return "providers.yaml describes mail servers only"
    return "providers.yaml has no equivalent"


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise Unusable(None, f"is over {MAX_FILE_BYTES} bytes, too large for an ISPDB file")
    return path.read_bytes()


def read_draft(path: Path) -> Draft:
    """The draft of one file; Unusable, with its notes, when the file cannot be imported."""
    try:
        data = _read(path)
    except OSError as exc:
        raise Unusable(None, f"cannot be read ({exc.strerror or exc}): skipped") from exc
    return _FileReader(str(path)).read(data)
