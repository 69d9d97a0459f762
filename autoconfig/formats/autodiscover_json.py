"""Autodiscover "v2": the JSON endpoint new Outlook and Outlook mobile ask before anything else.

`GET /autodiscover/autodiscover.json?Email=ADDR&Protocol=P` (or `.../autodiscover.json/v1.0/ADDR`)
names one protocol and gets one URL back: `AutodiscoverV1` points at the POX endpoint, where the
client then POSTs for the mail settings; `ActiveSync` points at the provider's Exchange ActiveSync
endpoint. Microsoft publishes no specification for it. The shapes follow what Exchange answers
as recorded by others: `{"Protocol": ..., "Url": ...}` with HTTP 200, and `{"ErrorCode": ...,
"ErrorMessage": ...}` with HTTP 400 for a protocol it does not serve (mailcow's
autodiscover-json.php, which copies Exchange). The protocol name is matched in any letter case
because Outlook sends `Autodiscoverv1`, and the answer spells it the canonical way.

Exchange Online answers an address it does not host with a 302 to the next Autodiscover hop
(gremwell/o365enum); this server has no next hop, so it answers 404, which Microsoft's client
guidance ("Handling Autodiscover error messages") tells clients to treat as "try the next URL".
The error codes other than InvalidProtocol are this server's own, in Exchange's naming style; the
HTTP status of each is chosen by the web layer.

Output is byte-stable: fixed key order, compact separators, ASCII only (anything else escaped).
"""

import json
import re
from enum import StrEnum

from ..address import MAX_DOMAIN_OCTETS
from ..model import Provider
from .mobilesync import activesync_url

POX_PATH = "/autodiscover/autodiscover.xml"
MAX_SHOWN_PROTOCOL = 40


class Protocol(StrEnum):
    AUTODISCOVER_V1 = "AutodiscoverV1"
    ACTIVESYNC = "ActiveSync"


SUPPORTED = ", ".join(Protocol)


_BY_FOLDED_NAME = {protocol.casefold(): protocol for protocol in Protocol}


def parse_protocol(value: str | None) -> Protocol | None:
    """The protocol a client asks for, in any letter case; None when it is not one we serve."""
    if value is None:
        return None
    return _BY_FOLDED_NAME.get(value.casefold())


class ErrorCode(StrEnum):
    """The `ErrorCode` values this endpoint sends; the web layer picks each one's HTTP status."""

    INVALID_PROTOCOL = "InvalidProtocol"
    MISSING_ADDRESS = "MandatoryParameterMissing"
    INVALID_ADDRESS = "InvalidEmailAddress"
    UNKNOWN_DOMAIN = "DomainNotFound"
    PROTOCOL_NOT_AVAILABLE = "ProtocolNotAvailable"
    INVALID_HOST = "InvalidHost"


def _dump(document: dict[str, str]) -> bytes:
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


_NEEDS_NO_ESCAPE = re.compile(r"[ !#-\[\]-~]*\Z")
"""Printable ASCII but `"` and backslash: text json.dumps writes unchanged (URLs, nearly always)."""


def render_url(protocol: Protocol, url: str) -> bytes:
    """`{"Protocol":...,"Url":...}`, written directly: json.dumps of the whole dict would cost
    more than the rest of the request; the URL alone is escaped by the JSON encoder."""
    quoted = f'"{url}"' if _NEEDS_NO_ESCAPE.match(url) else json.dumps(url, ensure_ascii=True)
    return f'{{"Protocol":"{protocol.value}","Url":{quoted}}}'.encode("ascii")


def pox_url(base_url: str) -> str:
    """This server's POX endpoint under its public base URL."""
    return base_url + POX_PATH


def usual_base_url(domain: str) -> str | None:
    """Where Outlook asks for a normalised domain, `https://autodiscover.<domain>`: this server's
    base URL when nothing better names it. None when that name is longer than DNS allows."""
    host = f"autodiscover.{domain}"
    return f"https://{host}" if len(host) <= MAX_DOMAIN_OCTETS else None


def render_autodiscover_v1(url: str) -> bytes:
    """Where to POST the POX request: this server's `pox_url`, or a redirect target."""
    return render_url(Protocol.AUTODISCOVER_V1, url)


def render_activesync(provider: Provider) -> bytes | None:
    """The provider's ActiveSync URL, or None when it declares none."""
    url = activesync_url(provider)
    return render_url(Protocol.ACTIVESYNC, url) if url is not None else None


def shown(value: str) -> str:
    """Client text made safe to quote in a message: letters and digits only, bounded."""
    return "'" + re.sub(r"[^A-Za-z0-9]", "", value)[:MAX_SHOWN_PROTOCOL] + "'"


def render_error(code: ErrorCode, message: str) -> bytes:
    return _dump({"ErrorCode": code.value, "ErrorMessage": message})


def render_protocol_error(given: str | None) -> bytes:
    """InvalidProtocol, for a missing Protocol as for one this server does not serve."""
    problem = f"{shown(given)} was given" if given else "it is missing"
    return render_error(
        ErrorCode.INVALID_PROTOCOL, f"The Protocol parameter must be one of {SUPPORTED}; {problem}."
    )


def render_missing_address() -> bytes:
    return render_error(
        ErrorCode.MISSING_ADDRESS, "Give the address as ?Email=... or as .../v1.0/<address>."
    )


def render_invalid_address(reason: str) -> bytes:
    return render_error(ErrorCode.INVALID_ADDRESS, f"The e-mail address is not valid: {reason}.")


def render_unknown_domain(domain: str) -> bytes:
    return render_error(ErrorCode.UNKNOWN_DOMAIN, f"No settings are published here for {domain}.")


def render_not_offered(protocol: Protocol, domain: str) -> bytes:
    return render_error(
        ErrorCode.PROTOCOL_NOT_AVAILABLE, f"{protocol} is not offered for {domain}."
    )


def render_invalid_host(reason: str) -> bytes:
    """This server cannot name its own URL: no `--public-url`, and a Host that is no host name."""
    return render_error(ErrorCode.INVALID_HOST, f"The Host header cannot be used: {reason}.")
