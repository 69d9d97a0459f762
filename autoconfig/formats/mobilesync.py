"""Exchange ActiveSync Autodiscover ("mobilesync"): where a phone finds the ActiveSync endpoint.

[MS-ASCMD] 2.2.1.1: an ActiveSync client POSTs to the Outlook POX URL, with the mobilesync request
namespace and the mobilesync response schema, and reads `Action/Settings/Server` (Type
`MobileSync`, `Url`, and `Name` carrying the same URL). The element order is the fixed sequence
of Microsoft's AutodiscoverMobileSync.xsd ([MS-ASCMD] 6.2): Culture, User, Action.

Answers that are not settings:
- a domain redirected to another address gets `Action/Redirect` with that address
  ([MS-ASCMD] 2.2.3.147: the client starts again with its domain);
- a domain this server does not know, or whose provider declares no ActiveSync URL, gets the
  provider-level error `Action/Error` with `Status` 2 ("protocol error", the only error status
  [MS-ASCMD] 2.2.3.177.1 defines), a Message the client may show and a DebugData token. This is
  the form Exchange's own MobileSync provider uses for "cannot find the e-mail address" or "cannot
  find mobile mailbox" (Remote Connectivity Analyzer docs), so clients read it as "no ActiveSync
  here" rather than as a broken server. `ErrorCode` is left out: [MS-ASCMD] 2.2.3.64 reserves it
  for the framework errors 600 and 601, which stay in the base-namespace Response (outlook.py).

The only per-request value is the address in `User/EMailAddress`, so settings are rendered once
per provider with a slot there and filled per request (`compile_provider`).
"""

from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from ..address import EmailAddress
from ..model import Provider
from .outlook import ENCODING, autodiscover_root
from .template import Template, slot
from .xml_writer import adder, scope, serialize

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
CULTURE = "en:us"
"""[MS-ASCMD] 2.2.3.38 writes the culture with a colon; every example and Exchange send en:us."""
SERVER_TYPE = "MobileSync"
PROTOCOL_ERROR_STATUS = 2
_ADDRESS_SLOT = "address"


class Problem(StrEnum):
    """Why an address gets no ActiveSync settings; the value is sent as DebugData."""

    UNKNOWN_DOMAIN = "UnknownDomain"
    NO_ACTIVESYNC = "NoActiveSync"

    def message(self, domain: str) -> str:
        if self is Problem.UNKNOWN_DOMAIN:
            return f"No settings are published here for {domain}."
        return f"ActiveSync is not offered for {domain}."


def activesync_url(provider: Provider) -> str | None:
    """The provider's Exchange ActiveSync endpoint, when providers.yaml declares one."""
    service = provider.service("activeSync")
    return service.url if service is not None else None


_add = adder(RESPONSE_NS)


def _response(address: str) -> tuple[etree._Element, etree._Element]:
    """Root, Culture and User: the part every mobilesync answer shares."""
    root = autodiscover_root()
    response = scope(RESPONSE_NS, "Response", root)
    _add(response, "Culture", CULTURE)
    user = _add(response, "User")
    _add(user, "EMailAddress", address)
    return root, _add(response, "Action")


def _settings(url: str, address: str) -> bytes:
    root, action = _response(address)
    server = _add(_add(action, "Settings"), "Server")
    _add(server, "Type", SERVER_TYPE)
    _add(server, "Url", url)
    _add(server, "Name", url)
    return serialize(root, ENCODING)


def render_settings(url: str, address: EmailAddress) -> bytes:
    """The ActiveSync endpoint for one address, built from scratch."""
    return _settings(url, str(address))


@dataclass(frozen=True, slots=True)
class CompiledMobileSync:
    """`render_settings` done once per provider; `fill` gives the same bytes for any address."""

    settings: Template

    def fill(self, address: EmailAddress) -> bytes:
        return self.settings.fill({_ADDRESS_SLOT: str(address)})


def compile_provider(provider: Provider) -> CompiledMobileSync | None:
    """The pre-rendered settings, or None when the provider offers no ActiveSync."""
    url = activesync_url(provider)
    if url is None:
        return None
    return CompiledMobileSync(Template.from_rendered(_settings(url, slot(_ADDRESS_SLOT))))


def render_redirect(address: EmailAddress, target: str) -> bytes:
    """Tell the client to start again with another address (the domain's `redirectAddr`)."""
    root, action = _response(str(address))
    _add(action, "Redirect", target)
    return serialize(root, ENCODING)


def render_error(address: EmailAddress, problem: Problem, domain: str) -> bytes:
    """No ActiveSync for this address: the provider-level error (see the module docstring)."""
    root, action = _response(str(address))
    error = _add(action, "Error")
    _add(error, "Status", str(PROTOCOL_ERROR_STATUS))
    _add(error, "Message", problem.message(domain))
    _add(error, "DebugData", problem.value)
    return serialize(root, ENCODING)
