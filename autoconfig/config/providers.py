"""A provider's fields: ids and names, servers, documentation, webmail, services and OAuth2.

Each field is read with the node reader (yaml_nodes.py) and judged by a value rule (rules.py) or a
table of spec.py: the allowed keys, the limits, the defaults (port from type and socket type,
password-cleartext, %EMAILADDRESS%). Domains and redirects are domains.py's. A provider with any
error is left out, so the loader returns providers that are valid as a whole or none at all.
"""

from collections.abc import Iterator
from functools import partial

import yaml

from ..model import (
    NO_AUTH_METHODS,
    SERVICE_KINDS,
    Authentication,
    Documentation,
    IncomingType,
    OAuth2Settings,
    Provider,
    Server,
    SocketType,
    WebService,
)
from . import spec
from .diagnostics import GIVEN_TWICE, INVALID_VALUE, MISSING, NOT_HERE, TAKEN, WRONG_TYPE
from .domains import DomainReader, read_redirect
from .rules import host_id_error, hostname_error, is_language_code, is_port, login_error, url_error
from .spec import (
    DEFAULT_AUTHENTICATION,
    DEFAULT_PORTS,
    DEFAULT_USERNAME,
    MAX_DISPLAY_NAME,
    MAX_SHORT_NAME,
)
from .yaml_nodes import INVALID, Invalid


class ProviderReader:
    """Reads the providers of one file; duplicates are checked against every file read.

    It shares the domain reader's node reader and claims, so one file's errors, lines and claims
    stay in one place.
    """

    def __init__(self, domain_reader: DomainReader) -> None:
        self.r = domain_reader.r
        self.claims = domain_reader.claims
        self.domain_reader = domain_reader

    def providers(self, node: yaml.Node) -> list[tuple[Provider, str, int]]:
        """Each valid provider with its path and line; invalid ones only leave errors."""
        items = self.r.sequence(node, "providers")
        result = []
        for index, item in enumerate(items or ()):
            path = f"providers[{index}]"
            provider = self.provider(item, path)
            if provider is None:
                continue
            if provider.id in self.claims.ids:
                other_file, other_path = self.claims.ids[provider.id]
                where = other_path if other_file == self.r.file else f"{other_file}: {other_path}"
                message = f"{provider.id!r} is already the id of {where}"
                self.r.error(item, f"{path}.id", TAKEN, message)
                continue
            self.claims.ids[provider.id] = (self.r.file, path)
            result.append((provider, path, item.start_mark.line + 1))
        return result

    def provider(self, node: yaml.Node, path: str) -> Provider | None:
        fields = self.r.mapping(node, path, spec.PROVIDER.names)
        if fields is None:
            return None
        errors_before = len(self.r.errors)
        id_node = self.r.required(fields, node, path, "id")
        provider_id = self.host_like_id(id_node, f"{path}.id") if id_node else INVALID
        name_node = self.r.required(fields, node, path, "displayName")
        display_name = self.name(name_node, f"{path}.displayName", MAX_DISPLAY_NAME)
        short_name = self.short_name(fields, node, path, display_name)
        redirect = read_redirect(self.r, fields, path)
        domains = self.domain_reader.domains(fields, node, path)
        needs_servers = redirect is None
        incoming = self.servers(fields, node, path, "incoming", needs_servers)
        outgoing = self.servers(fields, node, path, "outgoing", needs_servers)
        either_invalid = isinstance(incoming, Invalid) or isinstance(outgoing, Invalid)
        if bool(incoming) != bool(outgoing) and not either_invalid:
            missing = "outgoing" if incoming else "incoming"
            message = "is needed too: clients need both directions"
            self.r.error(node, f"{path}.{missing}", MISSING, message)
        documentation = self.documentation(fields.get("documentation"), f"{path}.documentation")
        webmail = self.url(fields.get("webMail"), f"{path}.webMail", https_only=False)
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
        assert not isinstance(webmail, Invalid) and not isinstance(redirect, Invalid)
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

    def host_like_id(self, node: yaml.Node, path: str) -> str | Invalid:
        value = self.r.checked(node, path, host_id_error)
        return value if isinstance(value, Invalid) else value.lower()

    def name(self, node: yaml.Node | None, path: str, limit: int) -> str | Invalid:
        if node is None:
            return INVALID
        value = self.r.text(node, path)
        if isinstance(value, str) and len(value) > limit:
            message = f"is {len(value)} characters; at most {limit} fit"
            return self.r.error(node, path, INVALID_VALUE, message)
        return value

    def short_name(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str, display: str | Invalid
    ) -> str | Invalid:
        if "displayShortName" in fields:
            return self.name(fields["displayShortName"], f"{path}.displayShortName", MAX_SHORT_NAME)
        if isinstance(display, str) and len(display) > MAX_SHORT_NAME:
            message = f"is needed: displayName is over {MAX_SHORT_NAME} characters"
            return self.r.error(node, f"{path}.displayShortName", MISSING, message)
        return display

    def servers(
        self,
        fields: dict[str, yaml.Node],
        node: yaml.Node,
        path: str,
        direction: str,
        required: bool,
    ) -> tuple[Server, ...] | Invalid:
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
        fields = self.r.mapping(node, path, spec.SERVER_KEYS)
        if fields is None:
            return None
        errors_before = len(self.r.errors)
        server_type = self.server_type(fields, node, path, direction)
        hostname = self.hostname(fields, node, path)
        socket_type = self.socket_type(fields, node, path)
        port = self.port(fields.get("port"), f"{path}.port", server_type, socket_type)
        authentication = self.authentication(fields.get("authentication"), path, direction)
        username = self.username(fields.get("username"), f"{path}.username")
        if len(self.r.errors) != errors_before:
            return None
        assert isinstance(server_type, str) and isinstance(hostname, str)
        assert isinstance(socket_type, SocketType) and isinstance(port, int)
        assert isinstance(authentication, tuple) and isinstance(username, str)
        return Server(server_type, hostname, port, socket_type, authentication, username)

    def server_type(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str, direction: str
    ) -> str | Invalid:
        choices = [kind.value for kind in IncomingType] if direction == "incoming" else ["smtp"]
        if "type" not in fields:
            if direction == "outgoing":
                return "smtp"
            message = f"is missing ({', '.join(choices)})"
            return self.r.error(node, f"{path}.type", MISSING, message)
        what = "an incoming server type" if direction == "incoming" else "an outgoing type"
        return self.r.choice(fields["type"], f"{path}.type", choices, what)

    def hostname(self, fields: dict[str, yaml.Node], node: yaml.Node, path: str) -> str | Invalid:
        """Stored in lower case, the placeholders kept as they are spelled."""
        found = self.r.required(fields, node, path, "hostname")
        if found is None:
            return INVALID
        value = self.r.checked(found, f"{path}.hostname", hostname_error)
        if isinstance(value, Invalid):
            return value
        return (
            value.lower()
            .replace("%emaillocalpart%", "%EMAILLOCALPART%")
            .replace("%emaildomain%", "%EMAILDOMAIN%")
        )

    def socket_type(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str
    ) -> SocketType | Invalid:
        choices = [kind.value for kind in SocketType]
        if "socketType" not in fields:
            message = f"is missing ({', '.join(choices)})"
            return self.r.error(node, f"{path}.socketType", MISSING, message)
        value = self.r.choice(fields["socketType"], f"{path}.socketType", choices, "a socket type")
        return value if isinstance(value, Invalid) else SocketType(value)

    def port(
        self,
        node: yaml.Node | None,
        path: str,
        server_type: str | Invalid,
        socket_type: SocketType | Invalid,
    ) -> int | Invalid:
        if node is None:
            if isinstance(server_type, str) and isinstance(socket_type, SocketType):
                return DEFAULT_PORTS[(server_type, socket_type)]
            return INVALID
        value = self.r.scalar(node, path, int)
        if isinstance(value, int) and not is_port(value):
            return self.r.error(node, path, INVALID_VALUE, f"{value} is not a port (1-65535)")
        return value

    def authentication(
        self, node: yaml.Node | None, path: str, direction: str
    ) -> tuple[Authentication, ...] | Invalid:
        """One method or a list in order of preference, each once; some only for outgoing."""
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
            value = self.r.choice(item, item_path, choices, "an authentication method")
            if isinstance(value, Invalid):
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

    def username(self, node: yaml.Node | None, path: str) -> str | Invalid:
        if node is None:
            return DEFAULT_USERNAME
        return self.r.checked(node, path, login_error)

    def documentation(self, node: yaml.Node | None, path: str) -> tuple[Documentation, ...]:
        if node is None:
            return ()
        items = self.r.sequence(node, path)
        result = []
        for index, item in enumerate(items or ()):
            item_path = f"{path}[{index}]"
            entry = self.r.keyed(item, item_path, spec.DOCUMENTATION.names, "url")
            if entry is None:
                continue
            fields, url_node = entry
            url = self.url(url_node, f"{item_path}.url", https_only=False)
            descriptions = tuple(self.descriptions(fields.get("descr"), f"{item_path}.descr"))
            if isinstance(url, str):
                result.append(Documentation(url=url, descriptions=descriptions))
        return tuple(result)

    def descriptions(self, node: yaml.Node | None, path: str) -> Iterator[tuple[str | None, str]]:
        """A title, or titles by language code; (None, title) for the first form."""
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
            if isinstance(language, Invalid):
                continue
            if language in seen:
                message = f"is given twice (first on line {seen[language]})"
                self.r.error(key_node, f"{path}.{language}", GIVEN_TWICE, message)
                continue
            seen[language] = key_node.start_mark.line + 1
            if not is_language_code(language):
                message = "is not a language code (en, fr...)"
                self.r.error(key_node, f"{path}.{language}", INVALID_VALUE, message)
                continue
            text = self.r.text(value_node, f"{path}.{language}")
            if isinstance(text, str):
                yield language, text

    def web_service(self, node: yaml.Node, path: str) -> WebService | Invalid:
        """`kind: https://...` or `kind: {url: https://..., username: TEMPLATE}`."""
        if isinstance(node, yaml.MappingNode):
            entry = self.r.keyed(node, path, spec.WEB_SERVICE.names, "url")
            if entry is None:
                return INVALID
            fields, url_node = entry
            url = self.url(url_node, f"{path}.url", https_only=True)
            username = self.username(fields.get("username"), f"{path}.username")
        else:
            url = self.url(node, path, https_only=True)
            username = DEFAULT_USERNAME
        if not isinstance(url, str) or not isinstance(username, str):
            return INVALID
        return WebService(url=url, username=username)

    def oauth2(self, node: yaml.Node | None, path: str) -> OAuth2Settings | Invalid | None:
        if node is None:
            return None
        fields = self.r.mapping(node, path, spec.OAUTH2.names)
        if fields is None:
            return INVALID
        values: dict[str, str | Invalid | None] = {}
        for key in spec.OAUTH2.keys:
            key_path = f"{path}.{key.name}"
            if key.name not in fields:
                values[key.name] = (
                    self.r.error(node, key_path, MISSING, "is missing") if key.required else None
                )
            elif key.name.endswith("URL"):
                values[key.name] = self.url(fields[key.name], key_path, https_only=True)
            else:
                values[key.name] = self.r.text(fields[key.name], key_path)
        if any(isinstance(value, Invalid) for value in values.values()):
            return INVALID
        return OAuth2Settings(
            issuer=str(values["issuer"]),
            scope=str(values["scope"]),
            auth_url=str(values["authURL"]),
            token_url=str(values["tokenURL"]),
            client_id=values["clientID"] if isinstance(values["clientID"], str) else None,
        )

    def url(self, node: yaml.Node | None, path: str, *, https_only: bool) -> str | Invalid | None:
        if node is None:
            return None
        return self.r.checked(node, path, partial(url_error, https_only=https_only))
