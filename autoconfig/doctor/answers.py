"""Reading the answers a public endpoint gave, to say how they differ from providers.yaml.

Byte equality with what this server would render proves an answer is ours. When the bytes differ,
both documents are read with the same parser, so the report can name the difference an admin
cares about ("announces imap.example.com:143 STARTTLS, providers.yaml says port 993 SSL") rather
than a diff of XML. Answers come from the network and are parsed with entities, DTDs and network
access off.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from ..formats.hardened_xml import hardened_parser

MAX_ANSWER_BYTES = 1024 * 1024
"""Autoconfig answers are a few KiB; more than this is not an answer worth parsing."""

_AUTODISCOVER_ENCRYPTION = {"ssl": "SSL", "tls": "STARTTLS", "none": "plain", "auto": "auto"}


class AnswerError(ValueError):
    """The answer cannot be read as the document it should be; the message says why."""


@dataclass(frozen=True, slots=True)
class Announced:
    """One mail server as an answer announces it."""

    type: str
    host: str
    port: str
    security: str

    def __str__(self) -> str:
        return f"{self.type} {self.host}:{self.port} {self.security}"


def _parse(body: bytes) -> etree._Element:
    try:
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise AnswerError(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise AnswerError("empty document")
    return root


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(parent: etree._Element, name: str) -> Iterator[etree._Element]:
    return (child for child in parent if _local(child) == name)


def _text(parent: etree._Element, name: str) -> str:
    child = next(_children(parent, name), None)
    return (child.text or "").strip() if child is not None else ""


def thunderbird_servers(body: bytes) -> list[Announced]:
    """The IMAP, POP3 and SMTP servers of a `config-v1.1.xml`, in document order."""
    root = _parse(body)
    if _local(root) != "clientConfig":
        raise AnswerError(f"the root element is <{_local(root)}>, not <clientConfig>")
    provider = next(_children(root, "emailProvider"), None)
    if provider is None:
        raise AnswerError("no <emailProvider> element")
    servers = []
    for element in provider:
        if _local(element) not in ("incomingServer", "outgoingServer"):
            continue
        kind = element.get("type", "")
        if kind not in ("imap", "pop3", "smtp"):
            continue
        servers.append(
            Announced(
                kind,
                _text(element, "hostname").lower(),
                _text(element, "port"),
                _text(element, "socketType"),
            )
        )
    return servers


def autodiscover_servers(body: bytes) -> list[Announced]:
    """The servers of an Autodiscover POX answer; AnswerError for an error or a redirect."""
    root = _parse(body)
    if _local(root) != "Autodiscover":
        raise AnswerError(f"the root element is <{_local(root)}>, not <Autodiscover>")
    response = next(_children(root, "Response"), None)
    if response is None:
        raise AnswerError("no <Response> element")
    error = next(_children(response, "Error"), None)
    if error is not None:
        code = _text(error, "ErrorCode")
        raise AnswerError(f"Autodiscover error {code}: {_text(error, 'Message')}")
    account = next(_children(response, "Account"), None)
    if account is None:
        raise AnswerError("no <Account> element")
    action = _text(account, "Action")
    if action == "redirectAddr":
        raise AnswerError(f"redirects to the address {_text(account, 'RedirectAddr')}")
    servers = []
    for protocol in _children(account, "Protocol"):
        encryption = _text(protocol, "Encryption").lower()
        if encryption:
            security = _AUTODISCOVER_ENCRYPTION.get(encryption, encryption)
        else:
            security = "SSL" if _text(protocol, "SSL").lower() != "off" else "plain"
        servers.append(
            Announced(
                _text(protocol, "Type").lower(),
                _text(protocol, "Server").lower(),
                _text(protocol, "Port"),
                security,
            )
        )
    return servers


def differences(expected: list[Announced], actual: list[Announced]) -> list[str]:
    """What an admin must know about how `actual` differs from `expected`; [] when the same."""
    if expected == actual:
        return []
    missing = [server for server in expected if server not in actual]
    extra = [server for server in actual if server not in expected]
    if not missing and not extra:
        return ["the same servers in another order (clients take the first they support)"]
    lines = []
    if extra:
        lines.append("announces " + ", ".join(map(str, extra)))
    if missing:
        lines.append("providers.yaml says " + ", ".join(map(str, missing)))
    return lines
