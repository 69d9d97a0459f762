"""The DNS records a mail domain needs so that every supported client finds its settings.

Clients only reach this server if the domain's zone sends them here: Thunderbird asks
`autoconfig.<domain>`, Outlook `autodiscover.<domain>` or the `_autodiscover._tcp` SRV record, and
clients that follow RFC 6186 / RFC 8314 skip autoconfiguration entirely and read SRV records for
IMAP, POP3 and submission. Admins paste this output into their zone, so it is zone-file text with
absolute names (it works whatever `$ORIGIN` the zone file has), and everything that cannot be a
record (a host that depends on the user, guidance without a target host) is a comment next to
where the record would be. Pure: provider and domain in, text out.
"""

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from ..address import (
    EMAILDOMAIN,
    EMAILLOCALPART,
    MAX_DOMAIN_OCTETS,
    MAX_LABEL_OCTETS,
    is_ip_address,
)
from ..model import IncomingType, Provider, Server, SocketType
from . import pacc

MAX_TTL = 2**31 - 1
"""RFC 2181 §8: a TTL is an unsigned 31-bit number; larger values are read as 0 by resolvers."""

AUTODISCOVER_PORT = 443
"""Outlook only speaks HTTPS to an `_autodiscover._tcp` target, so the SRV port is fixed."""

WEIGHT = 1
"""As in RFC 6186's examples; the admin's order is carried by priority, so weight has no job."""


@dataclass(frozen=True, slots=True)
class _Service:
    """One RFC 6186 / RFC 8314 SRV service and which configured servers it advertises."""

    label: str
    server_type: str
    implicit_tls: bool


_SERVICES = (
    _Service("_imaps", IncomingType.IMAP, implicit_tls=True),
    _Service("_imap", IncomingType.IMAP, implicit_tls=False),
    _Service("_pop3s", IncomingType.POP3, implicit_tls=True),
    _Service("_pop3", IncomingType.POP3, implicit_tls=False),
    _Service("_submissions", "smtp", implicit_tls=True),
    _Service("_submission", "smtp", implicit_tls=False),
)
"""In the order the RFCs list them; SSL servers go to the implicit-TLS names, the rest
(STARTTLS and plain) to the names whose protocol starts in clear text."""

_Record = tuple[str, str, str]
"""(absolute owner name, record type, record data)."""

_Line = str | _Record
"""A comment (without its `;`), or a record; comments sit next to the record they explain."""


def _absolute(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def _service_of(server: Server) -> _Service:
    implicit_tls = server.socket_type is SocketType.SSL
    for service in _SERVICES:
        if service.server_type == server.type and service.implicit_tls == implicit_tls:
            return service
    raise ValueError(f"server type {server.type!r} has no SRV service")


def _unpublishable(host: str) -> str | None:
    """Why a filled-in host name cannot be an SRV target, or None when it can.

    DNS answers are the same for every user, so a host that needs the local part has no single
    value; RFC 2782 targets are domain names with address records, never IP addresses; and a
    name filled in with a long domain may exceed what DNS can carry.
    """
    if EMAILLOCALPART in host:
        return "its name depends on the user's local part (%EMAILLOCALPART%), which DNS cannot know"
    if is_ip_address(host):
        return "it is an IP address, and an SRV target must be a host name with A/AAAA records"
    too_long = len(host) > MAX_DOMAIN_OCTETS
    if too_long or any(len(label) > MAX_LABEL_OCTETS for label in host.split(".")):
        return f"with this domain its name is longer than DNS allows ({host})"
    return None


def _and(names: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _address_guidance(names: tuple[str, ...], ttl: int) -> Iterator[_Line]:
    """The A/AAAA records to make by hand, as comments: only the admin knows the addresses."""
    width = max(len(name) for name in names)
    for name in names:
        yield f"{name:<{width}} {ttl} IN A     <IPv4 address of this server>"
        yield f"{name:<{width}} {ttl} IN AAAA  <IPv6 address of this server>"


def _self_target(name: str) -> str:
    return (
        f"{name[:-1]} is the --target itself, so it cannot be a CNAME (it would point at "
        "itself): give it the addresses of the host that runs autoconfig; the other names "
        "point at it."
    )


def _client_names(
    domain: str, target: str | None, ttl: int, pacc_name: str | None, thunderbird: bool
) -> Iterator[_Line]:
    """autoconfig/autodiscover names and the Autodiscover SRV record.

    With a target, the SRV record points at the target itself rather than at
    autodiscover.<domain>, because RFC 2782 forbids an SRV target that is an alias (CNAME). A
    target that is one of the names published here names the host the server runs on: that
    name gets the addresses and the others point at it. `pacc_name` is the PACC host name when
    PACC records are published, for the list of names that need certificates. Without
    `thunderbird` (a provider with no servers, which Thunderbird clients get 404 for) only
    Outlook's name is published.
    """
    autodiscover = f"autodiscover.{domain}."
    if thunderbird:
        names: tuple[str, ...] = (f"autoconfig.{domain}.", autodiscover)
        yield f"Thunderbird asks {names[0]}, Outlook {names[1]}"
    else:
        names = (autodiscover,)
        yield (
            f"Outlook asks {autodiscover} (the provider has no servers, so Thunderbird clients "
            "get nothing from autoconfig and need no name)"
        )
    if target is None:
        both = "both names" if thunderbird else "this name"
        yield f"No target host given: point {both} at the addresses of the host that runs"
        yield "autoconfig (or run again with --target HOST to get CNAME records instead):"
        yield from _address_guidance(names, ttl)
    for name in names if target is not None else ():
        if name == target:
            yield _self_target(name)
            yield from _address_guidance((name,), ttl)
        else:
            yield (name, "CNAME", target)
    srv_target = target or autodiscover
    served = (*names, *filter(None, (pacc_name, target)))
    certified = [name[:-1] for name in dict.fromkeys(served)]
    yield f"The TLS reverse proxy in front of autoconfig needs certificates for {_and(certified)}."
    yield ""
    yield f"Outlook also finds Autodiscover through SRV, on port {AUTODISCOVER_PORT} of the target."
    yield (f"_autodiscover._tcp.{domain}.", "SRV", f"0 0 {AUTODISCOVER_PORT} {srv_target}")


def _mail_services(provider: Provider, domain: str) -> Iterator[_Line]:
    """The RFC 6186 / RFC 8314 SRV records, one per configured server.

    RFC 6186 §3.4 compares priorities across IMAP and POP3, so an incoming server's priority is
    its position in the whole incoming list (and an outgoing server's in the outgoing list): the
    admin's order of preference survives whichever protocols a client supports.
    """
    yield "Mail servers (RFC 6186, RFC 8314): lower priority is preferred;"
    yield '"0 0 0 ." tells clients that the service is not offered at all.'
    ranked = [*enumerate(provider.incoming), *enumerate(provider.outgoing)]
    for service in _SERVICES:
        owner = f"{service.label}._tcp.{domain}."
        servers = [(rank, s) for rank, s in ranked if _service_of(s) == service]
        if not servers:
            yield (owner, "SRV", "0 0 0 .")
            continue
        for priority, server in servers:
            host = server.hostname.replace(EMAILDOMAIN, domain)
            why_not = _unpublishable(host)
            if why_not is not None:
                yield (
                    f"{owner} not published: {server.type} server {server.hostname} "
                    f"port {server.port}: {why_not}"
                )
                continue
            if server.socket_type is SocketType.PLAIN:
                exposed = "passwords and mail cross" if server.sends_credentials else "mail crosses"
                yield (
                    f"WARNING: the next record advertises an unencrypted service ({server.type} "
                    f"on {host} port {server.port}, socketType plain): {exposed} the "
                    "network in clear text, and RFC 8314 advises against offering it."
                )
            yield (owner, "SRV", f"{priority} {WEIGHT} {server.port} {host}.")


def _pacc(provider: Provider, domain: str, target: str | None, ttl: int) -> Iterator[_Line]:
    """The PACC host name and the TXT digest of the exact document this server sends.

    Any change to the provider's entry changes the bytes and so the digest: publish the new
    record beside the old one, wait one TTL, then change the file.
    """
    body = pacc.render(provider, domain)
    name = f"{pacc.HOST_PREFIX}{domain}."
    yield "PACC (draft-ietf-mailmaint-pacc): clients fetch"
    yield f"https://{name[:-1]}{pacc.PATH} and check its SHA-256 against this TXT record."
    if target is None:
        yield f"Point {name} at this server (A/AAAA, or run again with --target HOST)."
    elif name == target:
        yield _self_target(name)
        yield from _address_guidance((name,), ttl)
    else:
        yield (name, "CNAME", target)
    for missing in pacc.unexpressed(provider):
        yield f"PACC cannot express {missing}; the document leaves it out."
    yield (f"_ua-auto-config.{domain}.", "TXT", f'"{pacc.txt_record(body)}"')


_COMMENT = textwrap.TextWrapper(
    width=100,
    initial_indent="; ",
    subsequent_indent="; ",
    break_long_words=False,
    break_on_hyphens=False,
)


def _format(lines: list[_Line], ttl: int) -> str:
    width = max((len(line[0]) for line in lines if isinstance(line, tuple)), default=0)
    out = []
    for line in lines:
        if isinstance(line, str):
            out.append(_COMMENT.fill(line) if line else "")
        else:
            name, rtype, rdata = line
            out.append(f"{name:<{width}} {ttl} IN {rtype:<5} {rdata}")
    return "\n".join(out) + "\n"


def render_zone(provider: Provider, domain: str, target: str | None = None, ttl: int = 3600) -> str:
    """Zone-file text with every record `domain` needs for the clients this server supports.

    `domain` is normalised (lower-case A-labels), and is used as it is even when it matched a
    wildcard, because records must exist under the name that clients ask about. `target` is the
    host name that runs this server; without it the admin gets A/AAAA guidance as comments,
    since only they know the server's addresses. A target that is one of the names published
    here (`autoconfig.<domain>`, say) gets that guidance instead of a CNAME to itself.
    """
    if not 0 <= ttl <= MAX_TTL:
        raise ValueError(f"{ttl} is not a DNS TTL (0-{MAX_TTL})")
    target = _absolute(target) if target else None
    has_servers = bool(provider.incoming or provider.outgoing)
    pacc_name = f"{pacc.HOST_PREFIX}{domain}." if has_servers else None
    lines: list[_Line] = [
        f"DNS records for {domain}",
        f"provider {provider.id} ({provider.display_name})",
        "",
        *_client_names(domain, target, ttl, pacc_name, has_servers),
        "",
    ]
    if has_servers:
        lines.extend(_mail_services(provider, domain))
        lines.append("")
        lines.extend(_pacc(provider, domain, target, ttl))
    else:
        why = " (it only redirects Autodiscover clients)" if provider.redirect else ""
        lines.append(
            f"Provider {provider.id} has no mail servers{why}, so there are no IMAP, POP3 or "
            "submission SRV records to publish."
        )
    return _format(lines, ttl)
