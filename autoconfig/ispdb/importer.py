"""ISPDB files (Thunderbird's `config-v1.1.xml` database) into providers.yaml, and back.

Admins who move to this server already have ISPDB files, their own or Thunderbird's. The ISPDB
can say things providers.yaml cannot (POP3 options, Exchange servers, webmail form fields...), so
an import must not guess in silence: every element or value that is not carried over becomes a
note with its file and line, and the admin decides what to do about it. A file that is not ISPDB
at all is reported and skipped, and the rest is imported. Every provider is checked with the
loader itself before it is written, so the result always passes `autoconfig check`.

ISPDB files come from anywhere, so they are parsed like Autodiscover requests: no entities, no
DTD loading, no network, and a document that declares a DTD is refused outright.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from ..address import HOST_PLACEHOLDERS, AddressError, normalize_domain, placeholder_errors
from ..config.diagnostics import ConfigInvalid
from ..config.loader import parse_providers
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
from ..formats.thunderbird import render_ispdb
from ..model import NO_AUTH_METHODS, Authentication, IncomingType, Provider, SocketType

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


@dataclass(frozen=True)
class ImportResult:
    """The providers.yaml text, every note, the provider ids written and the files skipped."""

    yaml_text: str
    notes: tuple[ImportNote, ...]
    imported: tuple[str, ...]
    skipped: tuple[str, ...]


class _Unusable(Exception):
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
class _Draft:
    """One emailProvider as read from its file, before it meets the other files."""

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

    def read(self, data: bytes) -> _Draft:
        if not data.strip():
            raise _Unusable(None, "the file is empty: skipped")
        try:
            root = etree.fromstring(data, hardened_parser())
        except etree.XMLSyntaxError as exc:
            raise _Unusable(exc.lineno, f"not well-formed XML ({exc.msg}): skipped") from exc
        if root.getroottree().docinfo.doctype:
            line = data[: max(data.find(b"<!DOCTYPE"), 0)].count(b"\n") + 1
            raise _Unusable(
                line, "declares a DTD, which ISPDB files never do and which is refused: skipped"
            )
        if root.tag != "clientConfig":
            raise _Unusable(
                root.sourceline, f"the root element is <{root.tag}>, not <clientConfig>: skipped"
            )
        self.use(root)
        providers = [self.use(child) for child in root.iterchildren("emailProvider")]
        if not providers:
            raise _Unusable(root.sourceline, "there is no <emailProvider>: skipped")
        for extra in providers[1:]:
            self.note(
                extra.sourceline,
                "another <emailProvider> not imported: only the first of a file is read",
            )
            self.used.update(extra.iter())
        try:
            draft = self.provider(root, providers[0])
        except _Unusable as exc:
            exc.notes = self.notes
            raise
        self.note_unused(root)
        draft.notes = self.notes
        return draft

    def provider(self, root: etree._Element, element: etree._Element) -> _Draft:
        provider_id = _clean(element.get("id"))
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
            raise _Unusable(element.sourceline, "no usable <domain>: skipped")
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
            raise _Unusable(element.sourceline, "no usable IMAP or POP3 <incomingServer>: skipped")
        if not outgoing:
            raise _Unusable(element.sourceline, "no usable SMTP <outgoingServer>: skipped")
        return _Draft(
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
        result["authentication"] = methods[0] if len(methods) == 1 else _Flow(methods)

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
            url = _clean(element.get("url"))
            problem = url_problem(url, https_only=False) if url else "is missing"
            if problem:
                self.note(element.sourceline, f"<documentation> url {problem}: not imported")
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
                url = _clean(page.get("url"))
                problem = url_problem(url, https_only=False) if url else "is missing"
                if problem:
                    self.note(page.sourceline, f"<loginPage> url {problem}: not imported")
                elif kept is None:
                    kept = url
                elif url != kept:
                    self.note(
                        page.sourceline,
                        f"webmail {url} not imported: providers.yaml keeps one, {kept}",
                    )
        return kept

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


class _Flow(list[str]):
    """A list written on one line in YAML: `authentication: [OAuth2, password-cleartext]`."""


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, as the README's examples are."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "%" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(value), flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Flow, _represent_flow)


def _dump(value: Any) -> str:
    return yaml.dump(
        value,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,
    )


def _comment(text: str) -> str:
    """Text that fits on a comment line whatever a file name or message holds."""
    return " ".join(text.split())


@dataclass
class _Claims:
    """What earlier files put into the result: domains and ids are unique across providers."""

    domains: dict[str, tuple[str, int]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def _names(draft: _Draft, provider_id: str) -> tuple[str, str | None]:
    """displayName and displayShortName that the loader accepts, with a note for anything made up.

    A missing or too long name is never shortened: a made-up one is clearly labelled, so the admin
    sees it in the notes and can write a real one.
    """
    candidates = [provider_id, *(entry.key for entry in draft.domains)]
    display = draft.display_name
    if display is None:
        display = draft.short_name or provider_id
        draft.notes.append(
            ImportNote(
                draft.file,
                draft.display_line,
                f"no usable <displayName>: {display!r} is written instead, edit it",
            )
        )
    short = draft.short_name
    if short is None and len(display) > MAX_SHORT_NAME:
        short = next((c for c in candidates if len(c) <= MAX_SHORT_NAME), None)
        if short is None:
            raise _Unusable(
                draft.display_line,
                f"displayName is over {MAX_SHORT_NAME} characters and there is no usable "
                "displayShortName, nor an id or domain short enough to stand in: skipped",
            )
        draft.notes.append(
            ImportNote(
                draft.file,
                draft.display_line,
                f"displayName is over {MAX_SHORT_NAME} characters and there is no usable "
                f"displayShortName: {short!r} is written instead, edit it",
            )
        )
    return display, short


def _place(draft: _Draft, claims: _Claims) -> dict[str, Any]:
    """The provider's providers.yaml mapping, once the domains and id of earlier files are known."""
    domains = []
    for entry in draft.domains:
        if entry.key in claims.domains:
            other_file, other_line = claims.domains[entry.key]
            draft.notes.append(
                ImportNote(
                    draft.file,
                    entry.line,
                    f"domain {entry.text} not imported: it is already imported from "
                    f"{other_file}:{other_line}",
                )
            )
        else:
            domains.append(entry)
    if not domains:
        raise _Unusable(draft.line, "every domain is already imported from other files: skipped")
    draft.domains = domains

    provider_id = draft.id
    if provider_id is not None and provider_id.lower() in claims.ids:
        other = claims.ids[provider_id.lower()]
        replacement = next((d.key for d in domains if d.key not in claims.ids), None)
        if replacement is None:
            number = 2
            while f"{provider_id.lower()}-{number}" in claims.ids:
                number += 1
            replacement = f"{provider_id.lower()}-{number}"
        draft.notes.append(
            ImportNote(
                draft.file,
                draft.id_line,
                f"id {provider_id!r} is already the id of the provider from {other}: "
                f"{replacement!r} is written instead",
            )
        )
        provider_id = replacement
    elif provider_id is None:
        provider_id = next((d.key for d in domains if d.key not in claims.ids), None)
        if provider_id is None:
            raise _Unusable(draft.id_line, "no usable id, and every domain is taken as one")
        draft.notes.append(
            ImportNote(draft.file, draft.id_line, f"id {provider_id!r} is written instead")
        )

    display, short = _names(draft, provider_id)
    mapping: dict[str, Any] = {"id": provider_id, "displayName": display}
    if short is not None:
        mapping["displayShortName"] = short
    mapping["domains"] = [entry.text for entry in domains]
    mapping["incoming"] = draft.incoming
    mapping["outgoing"] = draft.outgoing
    if draft.documentation:
        mapping["documentation"] = draft.documentation
    if draft.webmail is not None:
        mapping["webMail"] = draft.webmail
    if draft.oauth2 is not None:
        mapping["oAuth2"] = draft.oauth2
    return mapping


def _check(mapping: dict[str, Any], draft: _Draft) -> None:
    """Let the loader itself judge the provider, so that the written file passes `check`."""
    try:
        parse_providers(_dump({"providers": [mapping]}), draft.file)
    except ConfigInvalid as exc:
        problems = "; ".join(f"{error.path}: {error.message}" for error in exc.errors)
        raise _Unusable(
            draft.line, f"providers.yaml would refuse it ({problems}): skipped"
        ) from exc


def _files_in(directory: Path) -> list[Path]:
    """ISPDB files of a folder: `*.xml`, and files without extension that hold XML.

    The ISPDB repository names some files after the domain alone (`aol.com`), so the name cannot
    tell; a look at the first byte keeps READMEs and notes out.
    """
    found = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.name.lower().endswith(".xml"):
            found.append(path)
            continue
        try:
            with path.open("rb") as stream:
                head = stream.read(64)
        except OSError:
            continue
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            found.append(path)
    return found


def _expand(paths: Sequence[Path], notes: list[ImportNote], skipped: list[str]) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = _files_in(path)
            if not candidates:
                notes.append(ImportNote(str(path), None, "the folder holds no ISPDB files"))
        elif path.exists():
            candidates = [path]
        else:
            notes.append(ImportNote(str(path), None, "does not exist: skipped"))
            skipped.append(str(path))
            continue
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved in seen:
                notes.append(ImportNote(str(candidate), None, "is given twice: read once"))
                continue
            seen.add(resolved)
            files.append(candidate)
    return files


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise _Unusable(None, f"is over {MAX_FILE_BYTES} bytes, too large for an ISPDB file")
    return path.read_bytes()


def _draft(path: Path) -> _Draft:
    try:
        data = _read(path)
    except OSError as exc:
        raise _Unusable(None, f"cannot be read ({exc.strerror or exc}): skipped") from exc
    return _FileReader(str(path)).read(data)


def _header(files: Iterable[Path], skipped: Sequence[str]) -> list[str]:
    lines = [
        "# Imported from ISPDB files (config-v1.1.xml) by `autoconfig import-ispdb`.",
        "# Whatever providers.yaml cannot express is listed under each provider; check the",
        "# result with `autoconfig check` and review the notes before serving it.",
        "# Source files:",
        *(f"#   {_comment(str(path))}" for path in files),
    ]
    if skipped:
        lines.append("# Skipped (see the import notes):")
        lines.extend(f"#   {_comment(name)}" for name in skipped)
    return [*lines, ""]


def _provider_block(mapping: dict[str, Any], draft: _Draft) -> list[str]:
    lines = [f"  # from {_comment(draft.file)}"]
    for note in draft.notes:
        where = f"line {note.line}: " if note.line is not None else ""
        lines.append(f"  #   {where}{_comment(note.message)}")
    lines.extend(f"  {line}" if line else line for line in _dump([mapping]).splitlines())
    return lines


def _by_line(notes: list[ImportNote]) -> list[ImportNote]:
    """A file's notes in the order an admin reads the file."""
    return sorted(notes, key=lambda note: note.line or 0)


def import_files(paths: Sequence[Path]) -> ImportResult:
    """ISPDB files, or folders of them, as one providers.yaml text, with every note.

    Files are read in the order given (a folder's files sorted by name). A domain or id that an
    earlier file already brought stays with that file; the later provider loses it, with a note.
    """
    notes: list[ImportNote] = []
    skipped: list[str] = []
    files = _expand(paths, notes, skipped)
    claims = _Claims()
    blocks: list[str] = []
    imported: list[str] = []
    for path in files:
        draft: _Draft | None = None
        try:
            draft = _draft(path)
            mapping = _place(draft, claims)
            _check(mapping, draft)
        except _Unusable as exc:
            notes.extend(_by_line(draft.notes if draft is not None else exc.notes))
            notes.append(ImportNote(str(path), exc.line, exc.message))
            skipped.append(str(path))
            continue
        draft.notes = _by_line(draft.notes)
        notes.extend(draft.notes)
        for entry in draft.domains:
            claims.domains[entry.key] = (draft.file, entry.line)
        claims.ids[mapping["id"].lower()] = draft.file
        imported.append(mapping["id"].lower())
        blocks.extend(_provider_block(mapping, draft))
        blocks.append("")
    lines = _header(files, skipped)
    if blocks:
        lines.append("providers:")
        lines.extend(blocks)
    else:
        lines.append("providers: []")
    text = "\n".join(lines).rstrip("\n") + "\n"
    return ImportResult(text, tuple(notes), tuple(imported), tuple(skipped))


def export_losses(providers: Sequence[Provider]) -> tuple[str, ...]:
    """What the ISPDB form cannot carry, per provider, for the CLI to tell the admin.

    ISPDB files have exact domains only and no redirects, and clients reject one without servers.
    """
    losses = []
    for provider in providers:
        for domain in provider.domains:
            if domain.wildcard:
                losses.append(f"{provider.id}: wildcard domain {domain} is not exported")
            if domain.redirect is not None:
                losses.append(f"{provider.id}: the redirect of domain {domain} is not exported")
        if provider.redirect is not None:
            losses.append(f"{provider.id}: the provider's redirect is not exported")
        if not provider.has_settings:
            losses.append(f"{provider.id}: has no servers, so its file is not usable ISPDB")
    return tuple(losses)


def export_providers(providers: Sequence[Provider], directory: Path) -> list[Path]:
    """Write `<id>.xml` per provider in ISPDB form; return the paths in provider order.

    Ids are host-name-like and unique (the loader makes sure), so they make safe file names; a
    provider built some other way with an id that is not is refused rather than written elsewhere.
    """
    names = [f"{provider.id}.xml" for provider in providers]
    seen: set[str] = set()
    for provider, name in zip(providers, names, strict=True):
        if Path(name).name != name or name.startswith(".") or name in seen:
            raise ValueError(f"{provider.id!r} cannot name a file of its own")
        seen.add(name)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for provider, name in zip(providers, names, strict=True):
        target = directory / name
        target.write_bytes(render_ispdb(provider))
        written.append(target)
    return written
