"""Plan the probes for some domains, run them concurrently with bounds, collect the report.

Probes are independent, so they run side by side under a semaphore (`Options.concurrency`) and
each under a deadline, so one server that hangs costs one finding, never the run. Findings keep
the order of the plan, not of completion, so reports are stable between runs.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from ..address import EMAILLOCALPART, AddressError, EmailAddress, normalize_domain, parse_address
from ..address import substitute as fill
from ..catalog import Catalog, Match
from . import endpoints, mail, records
from .context import Context, Options, open_context
from .findings import Finding, Report, failed, warned

PROBE_TIMEOUT_STEPS = 8
"""A probe is a handful of network steps (connect, handshake, greeting, capabilities, STARTTLS,
handshake, capabilities, goodbye); it gets this many step timeouts in all."""

Progress = Callable[[int, int, str], None]
"""(probes done, probes in all, label of the probe just finished)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What the doctor was asked about: a domain, with the user's address when one was given."""

    domain: str
    address: EmailAddress
    given_address: bool

    @classmethod
    def parse(cls, text: str) -> "Target":
        """`example.com` or `alice@example.com`; AddressError when it is neither."""
        if "@" in text:
            address = parse_address(text)
            return cls(address.ascii_domain, address, True)
        domain = normalize_domain(text)
        return cls(domain, EmailAddress("postmaster", domain, domain), False)


@dataclass(frozen=True, slots=True)
class Probe:
    label: str
    check: str
    subject: str
    run: Callable[[], Awaitable[list[Finding]]]


def _mail_targets(match: Match, target: Target) -> tuple[list[mail.MailTarget], list[Finding]]:
    servers, skipped = [], []
    for server in (*match.provider.incoming, *match.provider.outgoing):
        if EMAILLOCALPART in server.hostname and not target.given_address:
            skipped.append(
                warned(
                    "mail.skipped",
                    f"{server.type} {server.hostname}:{server.port}",
                    "the host name depends on the user's local part: not probed",
                    f"run `autoconfig doctor user@{target.domain}` to probe it for that user",
                )
            )
            continue
        host = fill(server.hostname, target.address, for_host=True)
        servers.append(mail.MailTarget(server, host))
    return servers, skipped


def _domain_probes(context: Context, match: Match, target: Target) -> list[Probe]:
    """DNS and HTTPS probes for one domain (mail servers are collected across domains)."""
    domain, provider = target.domain, match.provider

    def probe(
        label: str, check: str, run: Callable[..., Awaitable[list[Finding]]], *args: object
    ) -> Probe:
        return Probe(label, check, domain, partial(run, context, *args))

    probes = [
        probe(f"DNS {domain}", "dns.name", records.check_client_names, domain),
        probe(f"MX {domain}", "dns.mx", records.check_mx, domain),
        probe(
            f"SRV _autodiscover._tcp.{domain}", "dns.srv", records.check_autodiscover_srv, domain
        ),
    ]
    if provider.incoming or provider.outgoing:
        probes.append(
            probe(
                f"SRV mail of {domain}", "dns.srv", records.check_mail_srv, provider, match.domain
            )
        )
        probes.append(
            probe(f"PACC {domain}", "dns.pacc", records.check_pacc_txt, provider, match.domain)
        )
    for host in endpoints.hosts_for(match, target.address):
        subject = endpoints.base_url(context, host.name)
        probes.append(
            Probe(subject, "https.tls", subject, partial(endpoints.check_host, context, host))
        )
    probes.append(
        probe(
            f"SRV target of {domain}",
            "https.autodiscover",
            endpoints.srv_host,
            match,
            target.address,
        )
    )
    return probes


def plan(
    context: Context, catalog: Catalog, targets: Sequence[Target]
) -> tuple[list[Probe], list[Finding]]:
    """The probes for every target, and the findings known without the network.

    A server announced the same way for several domains is probed once, after the domains.
    """
    probes: list[Probe] = []
    known: list[Finding] = []
    servers: dict[tuple[object, ...], mail.MailTarget] = {}
    for target in targets:
        match = catalog.lookup(target.domain)
        if match is None:
            known.append(
                failed(
                    "config.provider",
                    target.domain,
                    "no provider in providers.yaml serves this domain",
                    f"add {target.domain} to the domains of a provider, or check the spelling",
                )
            )
            continue
        probes.extend(_domain_probes(context, match, target))
        mail_targets, skipped = _mail_targets(match, target)
        known.extend(skipped)
        for server in mail_targets:
            servers.setdefault(server.key, server)
    for server in servers.values():
        check = partial(mail.check_server, context, server)
        probes.append(Probe(server.subject, "mail.connect", server.subject, check))
    return probes, known


async def _guarded(probe: Probe, deadline: float) -> list[Finding]:
    try:
        async with asyncio.timeout(deadline):
            return await probe.run()
    except TimeoutError:
        return [failed(probe.check, probe.subject, f"no result within {deadline:g} s")]


async def run_probes(
    probes: Sequence[Probe], options: Options, progress: Progress | None = None
) -> list[Finding]:
    """Every probe under the concurrency bound and its deadline; findings in plan order."""
    semaphore = asyncio.Semaphore(max(1, options.concurrency))
    deadline = options.timeout * PROBE_TIMEOUT_STEPS
    done = 0

    async def one(probe: Probe) -> list[Finding]:
        nonlocal done
        async with semaphore:
            findings = await _guarded(probe, deadline)
        done += 1
        if progress is not None:
            progress(done, len(probes), probe.label)
        return findings

    results = await asyncio.gather(*(one(probe) for probe in probes))
    return [finding for findings in results for finding in findings]


async def diagnose(
    catalog: Catalog,
    targets: Sequence[Target],
    options: Options,
    progress: Progress | None = None,
) -> Report:
    """Probe everything `targets` depend on and report it."""
    async with open_context(options) as context:
        probes, known = plan(context, catalog, targets)
        findings = await run_probes(probes, options, progress)
    return Report(
        targets=tuple(str(t.address) if t.given_address else t.domain for t in targets),
        findings=(*known, *findings),
    )


def parse_targets(texts: Sequence[str]) -> list[Target]:
    """Targets from the command line; AddressError names the one that is not usable."""
    parsed = []
    for text in texts:
        try:
            parsed.append(Target.parse(text))
        except AddressError as exc:
            raise AddressError(f"{text!r}: {exc}") from exc
    return parsed
