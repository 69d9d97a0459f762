"""PACC (draft-ietf-mailmaint-pacc): one JSON document per domain, bound to it by a DNS digest.

Followed revision: -03 as its implementations read it (automx 3.0.0-beta.4 ships its JSON Schema
and cites -03 §5.2.2.2 for the TXT record), with -02's names kept where they differ (Stalwart);
only the front matter of -04 could be read. See ../shared/specs/pacc-draft.md for the open points.

The document can say much less than autoconfig: one host per protocol, implicit TLS on the
default port (IMAP 993, POP3 995, submission 465), the full address as login name, and
provider-wide authentication. So a server is listed only when it is exactly that; anything else
is left out (never misrepresented), and `unexpressed` says what, for `check` and `dns`.

Clients hash the exact bytes they receive and compare them with the TXT record, so the rendering
is byte-stable: fixed key order, compact separators, no trailing newline, no timestamp.
"""

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from ..address import EMAILADDRESS, EMAILDOMAIN, EMAILLOCALPART
from ..model import PASSWORD_METHODS, Provider, Server, SocketType

CONTENT_TYPE = "application/json"
PATH = "/.well-known/user-agent-configuration.json"
LEGACY_PATH = "/.well-known/user-agent-configuration"
HOST_PREFIX = "ua-auto-config."

_IMPLIED_PORTS = {"imap": 993, "pop3": 995, "smtp": 465}
_SUBMISSION_KEYS = ("submit", "smtp")
"""-03 says `submit`, -02 said `smtp`; clients ignore unknown keys, so both are sent."""


def _usable(server: Server) -> str | None:
    """Why PACC cannot carry this server, or None when it can."""
    if server.socket_type is not SocketType.SSL:
        return f"{server.type} {server.hostname}:{server.port} is not implicit TLS"
    implied = _IMPLIED_PORTS[server.type]
    if server.port != implied:
        return f"{server.type} {server.hostname} uses port {server.port}, not {implied}"
    if server.username != EMAILADDRESS:
        return f"{server.type} {server.hostname} logs in as {server.username}, not the address"
    if EMAILLOCALPART in server.hostname:
        return f"{server.type} {server.hostname} depends on the user"
    return None


def _first_usable(servers: tuple[Server, ...], kind: str) -> Server | None:
    return next((s for s in servers if s.type == kind and _usable(s) is None), None)


def unexpressed(provider: Provider) -> Iterator[str]:
    """The servers and settings the PACC document leaves out, in words for an admin."""
    for kind, servers in (
        ("imap", provider.incoming),
        ("pop3", provider.incoming),
        ("smtp", provider.outgoing),
    ):
        if _first_usable(servers, kind) is None:
            for server in servers:
                if server.type == kind:
                    yield str(_usable(server))


def _issuer_url(issuer: str) -> str:
    return issuer if issuer.startswith("https://") else f"https://{issuer}"


def document(provider: Provider) -> dict[str, Any]:
    """The PACC document as data, %EMAILDOMAIN% left in host names for `render` to fill."""
    protocols: dict[str, dict[str, str]] = {}
    jmap = provider.service("jmap")
    if jmap is not None:
        protocols["jmap"] = {"url": jmap.url}
    for kind in ("imap", "pop3"):
        server = _first_usable(provider.incoming, kind)
        if server is not None:
            protocols[kind] = {"host": server.hostname}
    submission = _first_usable(provider.outgoing, "smtp")
    if submission is not None:
        for key in _SUBMISSION_KEYS:
            protocols[key] = {"host": submission.hostname}
    for kind in ("caldav", "carddav"):
        service = provider.service(kind)
        if service is not None:
            protocols[kind] = {"url": service.url}
    servers = (*provider.incoming, *provider.outgoing)
    authentication: dict[str, Any] = {
        "password": any(PASSWORD_METHODS & set(s.authentication) for s in servers)
    }
    if provider.oauth2 is not None:
        authentication["oauth-public"] = {"issuer": _issuer_url(provider.oauth2.issuer)}
    info: dict[str, Any] = {
        "provider": {"name": provider.display_name, "shortName": provider.short_name}
    }
    help_page = next((d.url for d in provider.documentation if d.url.startswith("https://")), None)
    if help_page is not None:
        info["help"] = {"documentation": help_page}
    return {"protocols": protocols, "authentication": authentication, "info": info}


def render(provider: Provider, domain: str) -> bytes:
    """The exact bytes to serve for `domain` (normalised) and to hash for its TXT record."""
    text = json.dumps(document(provider), ensure_ascii=False, separators=(",", ":"))
    return text.replace(EMAILDOMAIN, domain).encode("utf-8")


def txt_record(body: bytes) -> str:
    """The `_ua-auto-config` TXT value binding these exact bytes to the domain."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    return f"v=UAAC1; a=sha256; d={digest}"
