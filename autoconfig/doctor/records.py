"""DNS checks: what the domain's zone publishes against what `autoconfig dns` recommends.

The expected records are read back from `dns.render_zone`, the text admins are told to paste, so
the doctor and the `dns` command can never disagree, and every fix is a line of that text.
"""

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.rdatatype
import dns.rrset
import dns.zone

from ..formats import zone
from ..model import Provider
from .context import Context
from .findings import Finding, failed, lookup_failed, passed, warned
from .resolve import SRV, ResolveError, srv_of, text_of

_NOT_OFFERED: SRV = (0, 0, ".")


@dataclass(frozen=True, slots=True)
class Recommended:
    """The records `autoconfig dns` prints for a domain, by (owner, type)."""

    rrsets: dict[tuple[str, str], dns.rrset.RRset]

    @classmethod
    def of(cls, provider: Provider, domain: str) -> "Recommended":
        text = zone.render_zone(provider, domain)
        parsed = dns.zone.from_text(text, origin=f"{domain}.", relativize=False, check_origin=False)
        return cls(
            {
                (name.to_text(), dns.rdatatype.to_text(rdataset.rdtype)): dns.rrset.from_rdata_list(
                    name, rdataset.ttl, list(rdataset)
                )
                for name, rdataset in parsed.iterate_rdatasets()
            }
        )

    def of_type(self, rdtype: str) -> list[dns.rrset.RRset]:
        return [rrset for (_, kind), rrset in self.rrsets.items() if kind == rdtype]


def _srv_text(records: Iterable[SRV]) -> str:
    return ", ".join(
        f"{target.rstrip('.')}:{port}" if target != "." else "'.' (not offered)"
        for _, port, target in records
    )


def _lines(rrset: dns.rrset.RRset) -> str:
    return rrset.to_text()


CLIENT_NAMES = {"autoconfig": "Thunderbird", "autodiscover": "Outlook"}
"""The names clients ask (prefix -> client), as `autoconfig dns` publishes them."""


async def _client_name(context: Context, prefix: str, domain: str) -> Finding:
    name, client = f"{prefix}.{domain}", CLIENT_NAMES[prefix]
    try:
        addresses = await context.lookup.addresses(name)
    except ResolveError as exc:
        if not exc.missing:
            return lookup_failed("dns.name", name, exc)
        return failed(
            "dns.name",
            name,
            f"{exc}: {client} cannot find the settings",
            f"{name}. 3600 IN CNAME <host that runs autoconfig>. (or A/AAAA records; "
            f"`autoconfig dns {domain} --target HOST` prints them)",
        )
    return passed("dns.name", name, f"resolves to {', '.join(addresses)}")


async def check_client_names(
    context: Context, domain: str, prefixes: Sequence[str] = tuple(CLIENT_NAMES)
) -> list[Finding]:
    """The names clients ask (`autoconfig.<domain>`, `autodiscover.<domain>`) must lead to
    addresses; all looked up at once."""
    return list(await asyncio.gather(*(_client_name(context, p, domain) for p in prefixes)))


def _judge_srv(owner: str, wanted: dns.rrset.RRset, found: list[SRV]) -> Finding:
    expected = sorted(srv_of(r) for r in wanted)
    subject = f"{owner[:-1]} SRV"
    fix = _lines(wanted)
    if expected == [_NOT_OFFERED]:
        real = [record for record in found if record[2] != "."]
        if real:
            return warned(
                "dns.srv",
                subject,
                f"advertises {_srv_text(sorted(real))}, a service providers.yaml does not announce",
                f"{fix} (or add the server to providers.yaml)",
            )
        if not found:
            return passed(
                "dns.srv", subject, "not published; providers.yaml offers no such service"
            )
        return passed("dns.srv", subject, "says the service is not offered, as providers.yaml")
    if not found:
        return warned(
            "dns.srv",
            subject,
            f"not published: clients that read SRV records (RFC 6186) will not find "
            f"{_srv_text(expected)}",
            fix,
        )
    wanted_servers = [(port, target) for _, port, target in expected]
    found_servers = [(port, target) for _, port, target in sorted(found)]
    if sorted(wanted_servers) != sorted(found_servers):
        return failed(
            "dns.srv",
            subject,
            f"publishes {_srv_text(sorted(found))}; providers.yaml says {_srv_text(expected)}",
            fix,
        )
    if wanted_servers != found_servers:
        return warned("dns.srv", subject, "the right servers, in another order of priority", fix)
    return passed("dns.srv", subject, f"{_srv_text(expected)}, as providers.yaml")


async def check_mail_srv(context: Context, provider: Provider, domain: str) -> list[Finding]:
    """The RFC 6186 / 8314 SRV records against the provider's servers."""

    async def judge(rrset: dns.rrset.RRset) -> Finding:
        owner = rrset.name.to_text()
        try:
            found = await context.lookup.srv(owner)
        except ResolveError as exc:
            return lookup_failed("dns.srv", f"{owner[:-1]} SRV", exc)
        return _judge_srv(owner, rrset, found)

    wanted = [
        rrset
        for rrset in Recommended.of(provider, domain).of_type("SRV")
        if not rrset.name.to_text().startswith("_autodiscover.")
    ]
    return list(await asyncio.gather(*(judge(rrset) for rrset in wanted)))


async def check_autodiscover_srv(context: Context, domain: str) -> list[Finding]:
    """`_autodiscover._tcp`: optional, but when published it must lead to HTTPS on our port."""
    owner = f"_autodiscover._tcp.{domain}."
    subject = f"{owner[:-1]} SRV"
    port = context.options.https_port
    fix = f"{owner} 3600 IN SRV 0 0 {port} <host that runs autoconfig>."
    try:
        found = await context.lookup.srv(owner)
    except ResolveError as exc:
        return [lookup_failed("dns.srv", subject, exc)]
    if not found:
        return [
            warned(
                "dns.srv",
                subject,
                "not published: Outlook falls back to it when autodiscover.<domain> fails",
                fix,
            )
        ]
    _, found_port, target = min(found)
    if found_port != port:
        return [failed("dns.srv", subject, f"points at port {found_port}, not {port}", fix)]
    try:
        await context.lookup.addresses(target)
    except ResolveError as exc:
        if not exc.missing:
            return [lookup_failed("dns.srv", subject, exc)]
        return [failed("dns.srv", subject, f"its target does not resolve: {exc}", fix)]
    return [passed("dns.srv", subject, f"points at {target} port {found_port}")]


async def check_mx(context: Context, domain: str) -> list[Finding]:
    """Mail to the domain needs an MX; a null MX means the domain receives no mail at all."""
    subject = f"{domain} MX"
    fix = f"{domain}. 3600 IN MX 10 <host that receives mail for {domain}>."
    try:
        hosts = await context.lookup.mx(domain)
    except ResolveError as exc:
        return [lookup_failed("dns.mx", subject, exc)]
    if not hosts:
        return [failed("dns.mx", subject, "no MX record: mail to this domain may go nowhere", fix)]
    if hosts == [(0, ".")]:
        return [warned("dns.mx", subject, "null MX (RFC 7505): the domain receives no mail", fix)]
    return [passed("dns.mx", subject, ", ".join(f"{p} {h}" for p, h in hosts))]


async def check_pacc_txt(context: Context, provider: Provider, domain: str) -> list[Finding]:
    """The PACC digest must match the document served, or PACC clients reject it.

    PACC is optional: a domain that publishes neither the name nor the TXT record passes.
    """
    wanted = Recommended.of(provider, domain).rrsets
    owner = f"_ua-auto-config.{domain}."
    expected = wanted.get((owner, "TXT"))
    subject = f"{owner[:-1]} TXT"
    if expected is None:
        return []
    try:
        texts, published = await asyncio.gather(
            context.lookup.txt(owner), context.lookup.exists(f"ua-auto-config.{domain}")
        )
    except ResolveError as exc:
        return [lookup_failed("dns.pacc", subject, exc)]
    value = text_of(next(iter(expected)))
    if value in texts:
        return [passed("dns.pacc", subject, "the digest of the PACC document providers.yaml gives")]
    if not texts and not published:
        return [passed("dns.pacc", subject, "PACC is not published (optional)")]
    if not texts:
        return [
            warned(
                "dns.pacc",
                subject,
                f"ua-auto-config.{domain} exists (a wildcard record?) but has no TXT record: "
                "PACC clients reject the document without it",
                _lines(expected),
            )
        ]
    return [
        failed(
            "dns.pacc",
            subject,
            "the published digest does not match the document providers.yaml gives (was the "
            "provider edited without publishing the new record?)",
            _lines(expected),
        )
    ]
