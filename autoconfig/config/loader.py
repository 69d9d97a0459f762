"""providers.yaml -> validated providers, with every error located by file, line and field path.

The YAML is composed into nodes (which carry line numbers) and read node by node, so that an error
can say `providers.yaml:17: providers[0].incoming[1].port: 70000 is not a port (1-65535)`. Reading
never stops at the first problem: an admin sees every error of an edit at once.
"""

import difflib
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..address import (
    HOST_PLACEHOLDERS,
    PLACEHOLDERS,
    AddressError,
    normalize_domain,
    placeholder_errors,
)
from ..model import (
    NO_AUTH_METHODS,
    SERVICE_KINDS,
    Authentication,
    Documentation,
    Domain,
    IncomingType,
    OAuth2Settings,
    Provider,
    Redirect,
    Server,
    SocketType,
    WebService,
)
from . import spec
from .diagnostics import (
    GIVEN_TWICE,
    INVALID_VALUE,
    MISSING,
    NOT_HERE,
    NOT_YAML,
    TAKEN,
    UNKNOWN_KEY,
    UNREADABLE,
    WRONG_TYPE,
    ConfigInvalid,
    Diagnostic,
)
from .spec import (
    DEFAULT_AUTHENTICATION,
    DEFAULT_PORTS,
    DEFAULT_USERNAME,
    MAX_DISPLAY_NAME,
    MAX_SHORT_NAME,
)

TOP_LEVEL_KEYS = spec.TOP_LEVEL.names
PROVIDER_KEYS = spec.PROVIDER.names
DOMAIN_KEYS = spec.DOMAIN_ENTRY.names
SERVER_KEYS = spec.SERVER_KEYS
DOCUMENTATION_KEYS = spec.DOCUMENTATION.names
OAUTH2_KEYS = spec.OAUTH2.names
WEB_SERVICE_KEYS = spec.WEB_SERVICE.names

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML was built with it (ten times faster on big files), same nodes."""
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*\Z")
_HOST_SAMPLE_VALUES = {"%EMAILLOCALPART%": "user", "%EMAILDOMAIN%": "example.org"}


class _Invalid:
    """Marks a value that was reported as an error, so that later checks stay quiet about it."""


INVALID = _Invalid()


@dataclass
class _Reader:
    """Walks the composed YAML nodes of one file; errors and key lines go to shared lists."""

    file: str
    constructor: yaml.SafeLoader
    errors: list[Diagnostic] = field(default_factory=list)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def error(self, node: yaml.Node | None, path: str, code: str, message: str) -> _Invalid:
        line = node.start_mark.line + 1 if node is not None else None
        self.errors.append(Diagnostic(self.file, line, path, code, message))
        return INVALID

    def mapping(
        self, node: yaml.Node, path: str, allowed: tuple[str, ...]
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            message = f"must be a mapping (key: value), not {_describe(node)}"
            self.error(node, path, WRONG_TYPE, message)
            return None
        entries: dict[str, yaml.Node] = {}
        key_nodes: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                self.error(key_node, path, UNKNOWN_KEY, "keys must be plain names")
            elif key in entries:
                first_line = key_nodes[key].start_mark.line + 1
                message = f"is given twice (first on line {first_line})"
                self.error(key_node, where, GIVEN_TWICE, message)
            elif key not in allowed:
                self.error(key_node, where, UNKNOWN_KEY, _unknown_key_message(key, allowed))
            else:
                entries[key] = value_node
                key_nodes[key] = key_node
                self.lines[(self.file, where)] = key_node.start_mark.line + 1
        return entries

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, path, WRONG_TYPE, f"must be a list, not {_describe(node)}")
            return None
        for index, item in enumerate(node.value):
            self.lines[(self.file, f"{path}[{index}]")] = item.start_mark.line + 1
        return list(node.value)

    def scalar(self, node: yaml.Node, path: str, expected: type | tuple[type, ...]) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return self.wrong_type(node, path, expected)
        try:
            value = self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            return self.error(node, path, NOT_YAML, f"cannot be read: {problem}")
        if (isinstance(value, bool) and bool not in _as_tuple(expected)) or not isinstance(
            value, expected
        ):
            return self.wrong_type(node, path, expected)
        return value

    def wrong_type(self, node: yaml.Node, path: str, expected: type | tuple[type, ...]) -> _Invalid:
        message = f"must be {_type_name(expected)}, not {_describe(node)}"
        return self.error(node, path, WRONG_TYPE, message)

    def text(self, node: yaml.Node, path: str) -> str | _Invalid:
        value = self.scalar(node, path, str)
        if isinstance(value, _Invalid):
            return value
        if not value.strip():
            return self.error(node, path, MISSING, "must not be empty")
        if any(unicodedata.category(c) in ("Cc", "Cs", "Co") or c in "\ufffe\uffff" for c in value):
            message = "must not contain control or private-use characters"
            return self.error(node, path, INVALID_VALUE, message)
        return value


def _as_tuple(expected: type | tuple[type, ...]) -> tuple[type, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", bool: "true or false"}
    return " or ".join(names.get(kind, kind.__name__) for kind in _as_tuple(expected))


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "empty"
    kind = node.tag.rsplit(":", 1)[-1]
    article = {"str": "the text", "int": "the number", "bool": "the boolean"}.get(kind, kind)
    return f"{article} {node.value!r}" if kind == "str" else f"{article} {node.value}"


def _unknown_key_message(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; allowed here: {', '.join(allowed)}"


def _choice_message(value: str, choices: list[str], what: str) -> str:
    folded = {choice.lower(): choice for choice in choices}
    if value.lower() in folded:
        return f"{value!r} must be spelled {folded[value.lower()]!r}"
    return f"{value!r} is not {what} ({', '.join(choices)})"


def is_host_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return True
    try:
        return normalize_domain(name) == name.lower()
    except AddressError:
        return False


def _domain_name(text: str) -> tuple[str, bool] | str:
    """(normalised name, is wildcard) for `example.org` or `*.example.org`, else why not."""
    wildcard = text.startswith("*.")
    bare = text[2:] if wildcard else text
    if "*" in bare:
        return f"{text!r}: a wildcard is only allowed as '*.' at the start"
    try:
        return normalize_domain(bare), wildcard
    except AddressError as exc:
        return f"{text!r}: {exc}"


def url_problem(value: str, *, https_only: bool) -> str | None:
    """Why a URL is unusable for clients ("contains spaces", ...), or None when it is fine."""
    if any(char.isspace() for char in value):
        return "contains spaces"
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes:
        return f"does not start with {' or '.join(s + '://' for s in schemes)}"
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if not host or not is_host_name(host):
        return "has no valid host name"
    return None


def _check_url(value: str, *, https_only: bool) -> str | None:
    """The loader's message for an unusable URL, or None when it is fine."""
    problem = url_problem(value, https_only=https_only)
    if problem is None:
        return None
    if problem == "contains spaces":
        return f"{value!r} is not a URL (it contains spaces)"
    if problem.startswith("does not start"):
        return f"{value!r} must start" + problem.removeprefix("does not start")
    return f"{value!r} {problem}"


@dataclass
class _Seen:
    """What earlier providers (of any file) claimed, to report duplicates with their place."""

    domains: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)

    def where(self, file: str, other_file: str, other_path: str, other_line: int) -> str:
        place = f"line {other_line}" if other_file == file else f"{other_file}:{other_line}"
        return f"{other_path} ({place})"


class _ProviderReader:
    """Reads the providers of one file; duplicates are checked against every file read."""

    def __init__(
        self, reader: _Reader, seen: _Seen, base: Path, read: Callable[[Path], str]
    ) -> None:
        self.r = reader
        self.seen = seen
        self.base = base
        self.read = read
        self.domain_files: list[Path] = []

    def providers(self, node: yaml.Node) -> list[tuple[Provider, str, int]]:
        """Each valid provider with its path and line; invalid ones only leave errors."""
        items = self.r.sequence(node, "providers")
        result = []
        for index, item in enumerate(items or ()):
            path = f"providers[{index}]"
            provider = self.provider(item, path)
            if provider is None:
                continue
            if provider.id in self.seen.ids:
                other_file, other_path = self.seen.ids[provider.id]
                where = other_path if other_file == self.r.file else f"{other_file}: {other_path}"
                message = f"{provider.id!r} is already the id of {where}"
                self.r.error(item, f"{path}.id", TAKEN, message)
                continue
            self.seen.ids[provider.id] = (self.r.file, path)
            result.append((provider, path, item.start_mark.line + 1))
        return result

    def provider(self, node: yaml.Node, path: str) -> Provider | None:
        fields = self.r.mapping(node, path, PROVIDER_KEYS)
        if fields is None:
            return None
        errors_before = len(self.r.errors)

        def required(key: str) -> yaml.Node | None:
            if key not in fields:
                self.r.error(node, f"{path}.{key}", MISSING, "is missing")
                return None
            return fields[key]

        id_node = required("id")
        provider_id = self.host_like_id(id_node, f"{path}.id") if id_node else INVALID
        name_node = required("displayName")
        display_name = self.name(name_node, f"{path}.displayName", MAX_DISPLAY_NAME)
        short_name = self.short_name(fields, node, path, display_name)
        redirect = self.redirect(fields, path)
        domains = self.domains(fields, node, path)
        needs_servers = redirect is None
        incoming = self.servers(fields, node, path, "incoming", needs_servers)
        outgoing = self.servers(fields, node, path, "outgoing", needs_servers)
        either_invalid = isinstance(incoming, _Invalid) or isinstance(outgoing, _Invalid)
        if bool(incoming) != bool(outgoing) and not either_invalid:
            missing = "outgoing" if incoming else "incoming"
            message = "is needed too: clients need both directions"
            self.r.error(node, f"{path}.{missing}", MISSING, message)
        documentation = self.documentation(fields.get("documentation"), f"{path}.documentation")
        webmail = self.optional_url(fields.get("webMail"), f"{path}.webMail", https_only=False)
        oauth2 = self.oauth2(fields.get("oAuth2"), f"{path}.oAuth2")
        services = [
            (kind, self.web_service(fields[kind], f"{path}.{kind}"))
            for kind in SERVICE_KINDS
            if kind in fields
        ]
        if len(self.r.errors) != errors_before:
            return None
        assert isinstance(provider_id, str) and isinstance(display_name, str)
        assert isinstance(short_name, str) and isinstance(domains, tuple)
        assert isinstance(incoming, tuple) and isinstance(outgoing, tuple)
        assert not isinstance(webmail, _Invalid) and not isinstance(redirect, _Invalid)
        return Provider(
            id=provider_id,
            display_name=display_name,
            short_name=short_name,
            domains=domains,
            incoming=incoming,
            outgoing=outgoing,
            documentation=documentation,
            webmail=webmail,
            redirect=redirect,
            oauth2=oauth2 if isinstance(oauth2, OAuth2Settings) else None,
            services=tuple((k, s) for k, s in services if isinstance(s, WebService)),
        )

    def host_like_id(self, node: yaml.Node, path: str) -> str | _Invalid:
        value = self.r.text(node, path)
        if isinstance(value, _Invalid):
            return value
        if not is_host_name(value):
            message = f"{value!r} must look like a host name (Thunderbird requires it)"
            return self.r.error(node, path, INVALID_VALUE, message)
        return value.lower()

    def name(self, node: yaml.Node | None, path: str, limit: int) -> str | _Invalid:
        if node is None:
            return INVALID
        value = self.r.text(node, path)
        if isinstance(value, str) and len(value) > limit:
            message = f"is {len(value)} characters; at most {limit} fit"
            return self.r.error(node, path, INVALID_VALUE, message)
        return value

    def short_name(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str, display: str | _Invalid
    ) -> str | _Invalid:
        if "displayShortName" in fields:
            return self.name(fields["displayShortName"], f"{path}.displayShortName", MAX_SHORT_NAME)
        if isinstance(display, str) and len(display) > MAX_SHORT_NAME:
            return self.r.error(
                node,
                f"{path}.displayShortName",
                MISSING,
                f"is needed: displayName is over {MAX_SHORT_NAME} characters",
            )
        return display

    def domains(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str
    ) -> tuple[Domain, ...] | _Invalid:
        """Domains listed inline, then those of the domain-list file; at least one in all."""
        result: list[Domain] = []
        if "domains" in fields:
            items = self.r.sequence(fields["domains"], f"{path}.domains")
            if items is None:
                return INVALID
            if not items and "domainsFile" not in fields:
                message = "is empty: list at least one domain"
                return self.r.error(fields["domains"], f"{path}.domains", MISSING, message)
            for index, item in enumerate(items):
                item_path = f"{path}.domains[{index}]"
                domain = self.domain(item, item_path)
                if domain is not None and self.claim(domain, item_path, item.start_mark.line + 1):
                    result.append(domain)
        elif "domainsFile" not in fields:
            message = "is missing: list the mail domains this provider serves"
            return self.r.error(node, f"{path}.domains", MISSING, message)
        if "domainsFile" in fields:
            from_file = self.domains_file(fields["domainsFile"], f"{path}.domainsFile")
            if isinstance(from_file, _Invalid):
                return from_file
            result.extend(from_file)
        return tuple(result)

    def claim(self, domain: Domain, path: str, line: int, file: str | None = None) -> bool:
        """Record a domain for this provider, or report who listed it first."""
        file = file or self.r.file
        key = str(domain)
        if key in self.seen.domains:
            other_file, other_path, other_line = self.seen.domains[key]
            where = self.seen.where(file, other_file, other_path, other_line)
            message = f"{key} is already listed at {where}"
            self.r.errors.append(Diagnostic(file, line, path, TAKEN, message))
            return False
        self.seen.domains[key] = (file, path, line)
        return True

    def domains_file(self, node: yaml.Node, path: str) -> list[Domain] | _Invalid:
        """A plain list of domains, one a line, `#` comments: for hosters with many customers."""
        name = self.r.text(node, path)
        if isinstance(name, _Invalid):
            return name
        file = self.base / name
        self.domain_files.append(file)
        try:
            text = self.read(file)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            return self.r.error(node, path, UNREADABLE, f"{str(file)!r} cannot be read: {reason}")
        domains = []
        failed = False
        for number, raw in enumerate(text.splitlines(), start=1):
            entry = raw.split("#", 1)[0].strip()
            if not entry:
                continue
            parsed = _domain_name(entry)
            if isinstance(parsed, str):
                self.r.errors.append(Diagnostic(str(file), number, path, INVALID_VALUE, parsed))
                failed = True
                continue
            domain = Domain(name=parsed[0], wildcard=parsed[1], listed=False)
            if self.claim(domain, path, number, str(file)):
                domains.append(domain)
            else:
                failed = True
        if not domains and not failed:
            return self.r.error(node, path, UNREADABLE, f"{str(file)!r} lists no domain")
        return INVALID if failed else domains

    def domain(self, node: yaml.Node, path: str) -> Domain | None:
        redirect = None
        name_node = node
        if isinstance(node, yaml.MappingNode):
            fields = self.r.mapping(node, path, DOMAIN_KEYS)
            if fields is None:
                return None
            if "name" not in fields:
                self.r.error(node, f"{path}.name", MISSING, "is missing")
                return None
            name_node = fields["name"]
            path_of_name = f"{path}.name"
            found = self.redirect(fields, path)
            if isinstance(found, _Invalid):
                return None
            if found is None:
                message = "a domain written as a mapping needs a redirect"
                self.r.error(node, path, MISSING, message)
                return None
            redirect = found
        else:
            path_of_name = path
        text = self.r.text(name_node, path_of_name)
        if isinstance(text, _Invalid):
            return None
        parsed = _domain_name(text)
        if isinstance(parsed, str):
            self.r.error(name_node, path_of_name, INVALID_VALUE, parsed)
            return None
        return Domain(name=parsed[0], wildcard=parsed[1], redirect=redirect)

    def redirect(self, fields: dict[str, yaml.Node], path: str) -> Redirect | _Invalid | None:
        url_node, addr_node = fields.get("redirectUrl"), fields.get("redirectAddr")
        if url_node is not None and addr_node is not None:
            message = "cannot be combined with redirectUrl"
            return self.r.error(addr_node, f"{path}.redirectAddr", NOT_HERE, message)
        if url_node is not None:
            url = self.optional_url(url_node, f"{path}.redirectUrl", https_only=True)
            return Redirect(url=url) if isinstance(url, str) else INVALID
        if addr_node is not None:
            address = self.redirect_address(addr_node, f"{path}.redirectAddr")
            return Redirect(address=address) if isinstance(address, str) else INVALID
        return None

    def redirect_address(self, node: yaml.Node, path: str) -> str | _Invalid:
        value = self.r.text(node, path)
        if isinstance(value, _Invalid):
            return value
        problems = placeholder_errors(value, PLACEHOLDERS)
        local, at, domain = value.rpartition("@")
        if not problems and value != "%EMAILADDRESS%":
            if not at or not local:
                problems.append(f"{value!r} is not an address (local@domain)")
            elif not is_host_name(domain.replace("%EMAILDOMAIN%", "example.org")):
                problems.append(f"{value!r} has no valid domain")
        if problems:
            return self.r.error(node, path, INVALID_VALUE, "; ".join(problems))
        return value

    def servers(
        self,
        fields: dict[str, yaml.Node],
        node: yaml.Node,
        path: str,
        direction: str,
        required: bool,
    ) -> tuple[Server, ...] | _Invalid:
        path = f"{path}.{direction}"
        if direction not in fields:
            if required:
                message = f"is missing: list the {direction} servers"
                return self.r.error(node, path, MISSING, message)
            return ()
        items = self.r.sequence(fields[direction], path)
        if items is None:
            return INVALID
        if not items and required:
            message = "is empty: list at least one server"
            return self.r.error(fields[direction], path, MISSING, message)
        servers = [self.server(item, f"{path}[{i}]", direction) for i, item in enumerate(items)]
        if any(server is None for server in servers):
            return INVALID
        return tuple(server for server in servers if server is not None)

    def server(self, node: yaml.Node, path: str, direction: str) -> Server | None:
        fields = self.r.mapping(node, path, SERVER_KEYS)
        if fields is None:
            return None
        errors_before = len(self.r.errors)
        server_type = self.server_type(fields, node, path, direction)
        hostname = self.hostname(fields, node, path)
        socket_type = self.socket_type(fields, node, path)
        port = self.port(fields.get("port"), f"{path}.port", server_type, socket_type)
        authentication = self.authentication(fields.get("authentication"), node, path, direction)
        username = self.username(fields.get("username"), f"{path}.username")
        if len(self.r.errors) != errors_before:
            return None
        assert isinstance(server_type, str) and isinstance(hostname, str)
        assert isinstance(socket_type, SocketType) and isinstance(port, int)
        assert isinstance(authentication, tuple) and isinstance(username, str)
        return Server(server_type, hostname, port, socket_type, authentication, username)

    def server_type(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str, direction: str
    ) -> str | _Invalid:
        choices = [kind.value for kind in IncomingType] if direction == "incoming" else ["smtp"]
        if "type" not in fields:
            if direction == "outgoing":
                return "smtp"
            message = f"is missing ({', '.join(choices)})"
            return self.r.error(node, f"{path}.type", MISSING, message)
        value = self.r.text(fields["type"], f"{path}.type")
        if isinstance(value, str) and value not in choices:
            what = "an incoming server type" if direction == "incoming" else "an outgoing type"
            message = _choice_message(value, choices, what)
            return self.r.error(fields["type"], f"{path}.type", INVALID_VALUE, message)
        return value

    def hostname(self, fields: dict[str, yaml.Node], node: yaml.Node, path: str) -> str | _Invalid:
        if "hostname" not in fields:
            return self.r.error(node, f"{path}.hostname", MISSING, "is missing")
        value = self.r.text(fields["hostname"], f"{path}.hostname")
        if isinstance(value, _Invalid):
            return value
        problems = placeholder_errors(value, HOST_PLACEHOLDERS)
        sample = value
        for placeholder, example in _HOST_SAMPLE_VALUES.items():
            sample = sample.replace(placeholder, example)
        if not problems and not is_host_name(sample):
            problems.append(f"{value!r} is not a valid host name")
        if problems:
            message = "; ".join(problems)
            return self.r.error(fields["hostname"], f"{path}.hostname", INVALID_VALUE, message)
        return (
            value.lower()
            .replace("%emaillocalpart%", "%EMAILLOCALPART%")
            .replace("%emaildomain%", "%EMAILDOMAIN%")
        )

    def socket_type(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str
    ) -> SocketType | _Invalid:
        choices = [kind.value for kind in SocketType]
        if "socketType" not in fields:
            message = f"is missing ({', '.join(choices)})"
            return self.r.error(node, f"{path}.socketType", MISSING, message)
        value = self.r.text(fields["socketType"], f"{path}.socketType")
        if isinstance(value, _Invalid):
            return value
        if value not in choices:
            message = _choice_message(value, choices, "a socket type")
            return self.r.error(fields["socketType"], f"{path}.socketType", INVALID_VALUE, message)
        return SocketType(value)

    def port(
        self,
        node: yaml.Node | None,
        path: str,
        server_type: str | _Invalid,
        socket_type: SocketType | _Invalid,
    ) -> int | _Invalid:
        if node is None:
            if isinstance(server_type, str) and isinstance(socket_type, SocketType):
                return DEFAULT_PORTS[(server_type, socket_type)]
            return INVALID
        value = self.r.scalar(node, path, int)
        if isinstance(value, int) and not 1 <= value <= 65535:
            return self.r.error(node, path, INVALID_VALUE, f"{value} is not a port (1-65535)")
        return value

    def authentication(
        self, node: yaml.Node | None, server_node: yaml.Node, path: str, direction: str
    ) -> tuple[Authentication, ...] | _Invalid:
        path = f"{path}.authentication"
        if node is None:
            return DEFAULT_AUTHENTICATION
        if isinstance(node, yaml.SequenceNode):
            items = [(item, f"{path}[{index}]") for index, item in enumerate(node.value)]
            if not items:
                return self.r.error(node, path, MISSING, "is empty: list at least one method")
        else:
            items = [(node, path)]
        choices = [method.value for method in Authentication]
        methods: list[Authentication] = []
        failed = False
        for item, item_path in items:
            value = self.r.text(item, item_path)
            if isinstance(value, _Invalid):
                failed = True
            elif value not in choices:
                message = _choice_message(value, choices, "an authentication method")
                self.r.error(item, item_path, INVALID_VALUE, message)
                failed = True
            elif Authentication(value) in methods:
                self.r.error(item, item_path, GIVEN_TWICE, f"{value} is listed twice")
                failed = True
            elif direction == "incoming" and Authentication(value) in NO_AUTH_METHODS:
                message = f"{value} is only possible for outgoing servers"
                self.r.error(item, item_path, NOT_HERE, message)
                failed = True
            else:
                methods.append(Authentication(value))
        if failed:
            return INVALID
        return tuple(methods)

    def username(self, node: yaml.Node | None, path: str) -> str | _Invalid:
        if node is None:
            return DEFAULT_USERNAME
        value = self.r.text(node, path)
        if isinstance(value, _Invalid):
            return value
        problems = placeholder_errors(value, PLACEHOLDERS)
        if problems:
            return self.r.error(node, path, INVALID_VALUE, "; ".join(problems))
        return value

    def documentation(self, node: yaml.Node | None, path: str) -> tuple[Documentation, ...]:
        if node is None:
            return ()
        items = self.r.sequence(node, path)
        result = []
        for index, item in enumerate(items or ()):
            item_path = f"{path}[{index}]"
            fields = self.r.mapping(item, item_path, DOCUMENTATION_KEYS)
            if fields is None:
                continue
            if "url" not in fields:
                self.r.error(item, f"{item_path}.url", MISSING, "is missing")
                continue
            url = self.optional_url(fields["url"], f"{item_path}.url", https_only=False)
            descriptions = tuple(self.descriptions(fields.get("descr"), f"{item_path}.descr"))
            if isinstance(url, str):
                result.append(Documentation(url=url, descriptions=descriptions))
        return tuple(result)

    def descriptions(self, node: yaml.Node | None, path: str) -> Iterator[tuple[str | None, str]]:
        if node is None:
            return
        if isinstance(node, yaml.ScalarNode):
            title = self.r.text(node, path)
            if isinstance(title, str):
                yield None, title
            return
        if not isinstance(node, yaml.MappingNode):
            message = "must be a title, or map language codes to titles (en: Mail set-up)"
            self.r.error(node, path, WRONG_TYPE, message)
            return
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            language = self.r.scalar(key_node, path, str)
            if isinstance(language, _Invalid):
                continue
            if language in seen:
                message = f"is given twice (first on line {seen[language]})"
                self.r.error(key_node, f"{path}.{language}", GIVEN_TWICE, message)
                continue
            seen[language] = key_node.start_mark.line + 1
            if not _LANGUAGE.match(language):
                message = "is not a language code (en, fr...)"
                self.r.error(key_node, f"{path}.{language}", INVALID_VALUE, message)
                continue
            text = self.r.text(value_node, f"{path}.{language}")
            if isinstance(text, str):
                yield language, text

    def web_service(self, node: yaml.Node, path: str) -> WebService | _Invalid:
        """`kind: https://...` or `kind: {url: https://..., username: TEMPLATE}`."""
        if isinstance(node, yaml.MappingNode):
            fields = self.r.mapping(node, path, WEB_SERVICE_KEYS)
            if fields is None:
                return INVALID
            if "url" not in fields:
                return self.r.error(node, f"{path}.url", MISSING, "is missing")
            url = self.optional_url(fields["url"], f"{path}.url", https_only=True)
            username = self.username(fields.get("username"), f"{path}.username")
        else:
            url = self.optional_url(node, path, https_only=True)
            username = DEFAULT_USERNAME
        if not isinstance(url, str) or not isinstance(username, str):
            return INVALID
        return WebService(url=url, username=username)

    def oauth2(self, node: yaml.Node | None, path: str) -> OAuth2Settings | _Invalid | None:
        if node is None:
            return None
        fields = self.r.mapping(node, path, OAUTH2_KEYS)
        if fields is None:
            return INVALID
        values: dict[str, str | _Invalid | None] = {}
        for key in spec.OAUTH2.keys:
            key_path = f"{path}.{key.name}"
            if key.name not in fields:
                values[key.name] = (
                    self.r.error(node, key_path, MISSING, "is missing") if key.required else None
                )
            elif key.name.endswith("URL"):
                values[key.name] = self.optional_url(fields[key.name], key_path, https_only=True)
            else:
                values[key.name] = self.r.text(fields[key.name], key_path)
        if any(isinstance(value, _Invalid) for value in values.values()):
            return INVALID
        return OAuth2Settings(
            issuer=str(values["issuer"]),
            scope=str(values["scope"]),
            auth_url=str(values["authURL"]),
            token_url=str(values["tokenURL"]),
            client_id=values["clientID"] if isinstance(values["clientID"], str) else None,
        )

    def optional_url(
        self, node: yaml.Node | None, path: str, *, https_only: bool
    ) -> str | _Invalid | None:
        if node is None:
            return None
        value = self.r.text(node, path)
        if isinstance(value, _Invalid):
            return value
        problem = _check_url(value, https_only=https_only)
        return self.r.error(node, path, INVALID_VALUE, problem) if problem else value


def _reader_error(file: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    """A character YAML does not allow (a raw control character, say), at its line."""
    line = text.count("\n", 0, exc.position) + 1
    message = f"not valid YAML: character {exc.character!r} not allowed"
    return Diagnostic(file, line, "", NOT_YAML, message)


def _syntax_error(file: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    """A syntax error at the line an admin should look at.

    When the parser only notices the problem at the end of the file (an unclosed quote or
    bracket), the line where the construct started is the useful one; libyaml may place the end
    of the file one line past the last, so lines are kept within the text.
    """
    mark = exc.problem_mark
    if exc.context_mark is not None and (mark is None or mark.index >= len(text.rstrip())):
        mark = exc.context_mark
    last_line = text.rstrip().count("\n") + 1
    line = min(mark.line + 1, last_line) if mark is not None else None
    problem = " ".join(part for part in (exc.context, exc.problem) if part)
    return Diagnostic(file, line, "", NOT_YAML, f"not valid YAML: {problem}")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a provider is written: for messages that point an admin at the right line."""

    file: str
    path: str
    line: int


@dataclass(frozen=True)
class Config:
    """Everything read from a providers file and its includes, validated."""

    providers: tuple[Provider, ...]
    origins: tuple[Origin, ...]
    default_provider: str | None = None
    files: tuple[Path, ...] = ()
    lines: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def locate(self, index: int, subpath: str = "") -> tuple[str, int, str]:
        """(file, line, path) of a field of provider `index`, or of the provider itself."""
        origin = self.origins[index]
        path = f"{origin.path}{subpath}"
        while True:
            line = self.lines.get((origin.file, path))
            if line is not None or path == origin.path:
                return origin.file, line or origin.line, f"{origin.path}{subpath}"
            path = path.rsplit(".", 1)[0] if "." in path[len(origin.path) :] else origin.path


def _read_utf8(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _compose(file: str, text: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    try:
        loader = _YAML_LOADER(text)
    except yaml.reader.ReaderError as exc:
        raise ConfigInvalid([_reader_error(file, text, exc)]) from exc
    try:
        return loader, loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        loader.dispose()
        raise ConfigInvalid([_reader_error(file, text, exc)]) from exc
    except yaml.MarkedYAMLError as exc:
        loader.dispose()
        raise ConfigInvalid([_syntax_error(file, text, exc)]) from exc
    except yaml.YAMLError as exc:
        loader.dispose()
        error = Diagnostic(file, None, "", NOT_YAML, f"not valid YAML: {exc}")
        raise ConfigInvalid([error]) from exc


class _ConfigLoader:
    """Reads a main file and everything it includes; one instance per load."""

    def __init__(self, read: Callable[[Path], str]) -> None:
        self.read = read
        self.errors: list[Diagnostic] = []
        self.lines: dict[tuple[str, str], int] = {}
        self.seen = _Seen()
        self.files: list[Path] = []
        self.providers: list[Provider] = []
        self.origins: list[Origin] = []
        self.default: tuple[str, str, int] | None = None
        self.including: list[Path] = []

    def load(self, path: Path, main: bool) -> None:
        file = str(path)
        self.files.append(path)
        try:
            text = self.read(path)
        except UnicodeDecodeError as exc:
            self.errors.append(Diagnostic(file, None, "", UNREADABLE, f"is not UTF-8 text: {exc}"))
            return
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.errors.append(Diagnostic(file, None, "", UNREADABLE, f"cannot be read: {reason}"))
            return
        try:
            loader, root = _compose(file, text)
        except ConfigInvalid as exc:
            self.errors.extend(exc.errors)
            return
        try:
            if root is None:
                self.errors.append(Diagnostic(file, 1, "", UNREADABLE, "the file is empty"))
                return
            self.including.append(path.resolve())
            reader = _Reader(file, loader, self.errors, self.lines)
            self.read_document(reader, root, path, main)
            self.including.pop()
        finally:
            loader.dispose()

    def read_document(self, reader: _Reader, root: yaml.Node, path: Path, main: bool) -> None:
        top = reader.mapping(root, "", TOP_LEVEL_KEYS)
        if top is None:
            return
        if main and "providers" not in top and "include" not in top:
            message = "is missing: the file must list its providers"
            reader.error(root, "providers", MISSING, message)
            return
        if "providers" in top:
            node = top["providers"]
            empty = isinstance(node, yaml.SequenceNode) and not node.value
            if main and empty and "include" not in top:
                reader.error(node, "providers", MISSING, "is empty: list at least one provider")
            providers = _ProviderReader(reader, self.seen, path.parent, self.read)
            for provider, provider_path, line in providers.providers(node):
                self.providers.append(provider)
                self.origins.append(Origin(reader.file, provider_path, line))
            self.files.extend(providers.domain_files)
        if "defaultProvider" in top:
            node = top["defaultProvider"]
            if not main:
                reader.error(node, "defaultProvider", NOT_HERE, "is only allowed in the main file")
            else:
                value = reader.text(node, "defaultProvider")
                if isinstance(value, str):
                    self.default = (value.lower(), reader.file, node.start_mark.line + 1)
        if "include" in top:
            for child in self.includes(reader, top["include"], path.parent):
                self.load(child, main=False)

    def includes(self, reader: _Reader, node: yaml.Node, base: Path) -> list[Path]:
        """The files an `include` names: paths, directories (their *.yaml) and glob patterns."""
        entries = [(node, "include")]
        if isinstance(node, yaml.SequenceNode):
            entries = [(item, f"include[{i}]") for i, item in enumerate(node.value)]
            self.lines.update({(reader.file, p): n.start_mark.line + 1 for n, p in entries})
        found: list[Path] = []
        for item, item_path in entries:
            pattern = reader.text(item, item_path)
            if isinstance(pattern, _Invalid):
                continue
            target = base / pattern
            if any(char in pattern for char in "*?["):
                matches = sorted(base.glob(pattern))
                self.files.append(target.parent)
            elif target.is_dir():
                matches = sorted([*target.glob("*.yaml"), *target.glob("*.yml")])
                self.files.append(target)
            else:
                matches = [target]
            for match in matches:
                if match.resolve() in self.including:
                    message = f"{str(match)!r} includes itself (a loop)"
                    reader.error(item, item_path, NOT_HERE, message)
                elif match.resolve() in {f.resolve() for f in found}:
                    continue
                else:
                    found.append(match)
        return found

    def result(self, main: Path) -> Config:
        if not self.errors and not self.providers:
            error = Diagnostic(str(main), 1, "providers", MISSING, "no provider is defined")
            self.errors.append(error)
        default = None
        if self.default is not None:
            default, file, line = self.default
            if default not in self.seen.ids:
                message = f"{default!r} is not the id of any provider"
                self.errors.append(
                    Diagnostic(file, line, "defaultProvider", INVALID_VALUE, message)
                )
        if self.errors:
            raise ConfigInvalid(self.errors, files=tuple(self.files))
        return Config(
            providers=tuple(self.providers),
            origins=tuple(self.origins),
            default_provider=default,
            files=tuple(self.files),
            lines=self.lines,
        )


def load_config(path: Path, read: Callable[[Path], str] = _read_utf8) -> Config:
    """Read and validate a providers file and its includes; raise ConfigInvalid with every error.

    The error carries the files that were read (or wanted), so a watcher can wait for a fix.
    """
    loader = _ConfigLoader(read)
    loader.load(path, main=True)
    return loader.result(path)


def load_providers(path: Path, read: Callable[[Path], str] = _read_utf8) -> tuple[Provider, ...]:
    """The providers of a file and its includes (see load_config)."""
    return load_config(path, read).providers


def parse_providers(text: str, file: str) -> tuple[Provider, ...]:
    """Validate providers given as text; includes and domain lists are read from disk."""
    main = Path(file)
    return load_providers(main, read=lambda path: text if path == main else _read_utf8(path))
