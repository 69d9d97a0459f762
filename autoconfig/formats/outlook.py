"""Microsoft Autodiscover "POX" answers for Outlook and the clients that copy it.

Rules from [MS-OXDSCLI] and the Exchange POX reference, plus what real readers need: default
namespaces only (Delta Chat matches raw tag names), `SPA` and `SSL` always explicit (absent means
on), `SSL` on for STARTTLS too with `Encryption` telling TLS from SSL (Thunderbird and Delta Chat
read `SSL` off as plaintext, some clients read only `Encryption`), and errors in the base-namespace
Response, where exchangelib looks for them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from lxml import etree

from ..address import EmailAddress, substitute
from ..model import Authentication, Provider, Server, SocketType
from .template import Template, slot
from .xml_writer import adder, scope, serialize

BASE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"


class ErrorCode(IntEnum):
    """Autodiscover error codes ([MS-OXDSCLI] 2.2.4.1.1.3.2) and the message sent with each."""

    ADDRESS_NOT_FOUND = 500
    INVALID_REQUEST = 600
    SCHEMA_NOT_SUPPORTED = 601

    @property
    def message(self) -> str:
        return {
            ErrorCode.ADDRESS_NOT_FOUND: "The e-mail address cannot be found.",
            ErrorCode.INVALID_REQUEST: "Invalid Request",
            ErrorCode.SCHEMA_NOT_SUPPORTED: "The requested response schema is not supported.",
        }[self]


ENCODING = "utf-8"
"""As Exchange writes it, in the declaration too."""
_PROTOCOL_TYPES = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}
_ENCRYPTION = {SocketType.SSL: "SSL", SocketType.STARTTLS: "TLS", SocketType.PLAIN: "None"}


_add = adder(OUTLOOK_NS)
_add_base = adder(BASE_NS)


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def autodiscover_root() -> etree._Element:
    """The base-namespace `Autodiscover` root that every answer at this URL has."""
    return scope(BASE_NS, "Autodiscover")


def _outlook_response() -> tuple[etree._Element, etree._Element]:
    root = autodiscover_root()
    return root, scope(OUTLOOK_NS, "Response", root)


@dataclass(frozen=True, slots=True)
class _Values:
    """Where the address-dependent text comes from: a real address, or template slots."""

    address: str | None
    hosts: dict[str, str]
    logins: dict[str, str]


def _protocol(account: etree._Element, server: Server, values: _Values) -> None:
    protocol = _add(account, "Protocol")
    _add(protocol, "Type", _PROTOCOL_TYPES[server.type])
    _add(protocol, "Server", values.hosts[server.hostname])
    _add(protocol, "Port", str(server.port))
    _add(protocol, "DomainRequired", "off")
    login = values.logins.get(server.username)
    if login is not None:
        _add(protocol, "LoginName", login)
    _add(protocol, "SPA", _on_off(server.authentication[0] is Authentication.NTLM))
    _add(protocol, "SSL", _on_off(server.socket_type is not SocketType.PLAIN))
    _add(protocol, "Encryption", _ENCRYPTION[server.socket_type])
    _add(protocol, "AuthRequired", _on_off(server.sends_credentials))
    if server.type == "smtp":
        _add(protocol, "UsePOPAuth", "off")
        _add(protocol, "SMTPLast", "off")


def _settings(provider: Provider, values: _Values) -> bytes:
    root, response = _outlook_response()
    user = _add(response, "User")
    if values.address is not None:
        _add(user, "DisplayName", values.address)
        _add(user, "AutoDiscoverSMTPAddress", values.address)
    else:
        _add(user, "DisplayName", provider.display_name)
    account = _add(response, "Account")
    _add(account, "AccountType", "email")
    _add(account, "Action", "settings")
    for server in (*provider.incoming, *provider.outgoing):
        _protocol(account, server, values)
    return serialize(root, ENCODING)


def _servers(provider: Provider) -> Iterable[Server]:
    return (*provider.incoming, *provider.outgoing)


def render_settings(provider: Provider, address: EmailAddress | None, domain: str) -> bytes:
    """Settings for one address, built from scratch.

    Without an address (a GET that named only the domain) login names that need the address
    are left out, and clients fall back to the address the user typed.
    """
    servers = list(_servers(provider))
    if address is None:
        hosts = {s.hostname: s.hostname.replace("%EMAILDOMAIN%", domain) for s in servers}
        logins = {s.username: s.username for s in servers if "%" not in s.username}
        return _settings(provider, _Values(None, hosts, logins))
    hosts = {s.hostname: substitute(s.hostname, address, for_host=True) for s in servers}
    logins = {s.username: substitute(s.username, address) for s in servers}
    return _settings(provider, _Values(str(address), hosts, logins))


@dataclass(frozen=True, slots=True)
class CompiledOutlook:
    """`render_settings` done once per provider; `fill` gives the same bytes for any address."""

    settings: Template
    sources: tuple[tuple[str, str, str], ...] = ()
    """(slot name, kind, template) for each distinct slot, worked out once at compile time."""

    def fill(self, address: EmailAddress) -> bytes:
        values: dict[str, str] = {}
        for name, kind, template in self.sources:
            if kind == "address":
                values[name] = f"{address.local_part}@{address.domain}"
            else:
                values[name] = substitute(template, address, for_host=kind == "host")
        return self.settings.fill(values)


def compile_provider(provider: Provider) -> CompiledOutlook:
    servers = list(_servers(provider))
    hosts = {
        s.hostname: slot(f"host:{s.hostname}") if "%" in s.hostname else s.hostname for s in servers
    }
    logins = {
        s.username: slot(f"login:{s.username}") if "%" in s.username else s.username
        for s in servers
    }
    values = _Values(slot("address:"), hosts, logins)
    template = Template.from_rendered(_settings(provider, values))
    sources = tuple((name, *name.split(":", 1)) for name in dict.fromkeys(template.slots))
    return CompiledOutlook(settings=template, sources=sources)


def render_redirect_address(address: str) -> bytes:
    """Tell the client to start over with another address (Action redirectAddr)."""
    root, response = _outlook_response()
    account = _add(response, "Account")
    _add(account, "AccountType", "email")
    _add(account, "Action", "redirectAddr")
    _add(account, "RedirectAddr", address)
    return serialize(root, ENCODING)


def render_error(code: ErrorCode, debug: str = "") -> bytes:
    """An Autodiscover error; in the base namespace, where every reader looks for it."""
    root = autodiscover_root()
    error = _add_base(_add_base(root, "Response"), "Error")
    _add_base(error, "ErrorCode", str(int(code)))
    _add_base(error, "Message", code.message)
    _add_base(error, "DebugData", debug)
    return serialize(root, ENCODING)
