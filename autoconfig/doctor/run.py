"""Plan the probes for some domains, run them concurrently with bounds, collect the report.

The nameserver is asked first; domains it gives nothing for are reported once and not probed.
Probes are independent, so they run side by side under a semaphore (`Options.concurrency`) and
each under a deadline, so one server that hangs costs one finding, never the run. Every wait is
a multiple of `--timeout`, so the longest a run can take is known once it is planned
(`limit_steps`) and printed beside the time it took. Findings keep the order of the plan, not of
completion, so reports are stable between runs.
"""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from ..address import EMAILLOCALPART, AddressError, EmailAddress, normalize_domain, parse_address
from ..address import substitute as fill
from ..catalog import Catalog, Match
from . import endpoints, mail, nameserver, records
from .context import Context, Options, open_context
from .findings import Finding, Report, Timing, failed, warned

PROBE_TIMEOUT_STEPS = 10
"""A probe is a handful of network steps (a mail server: lookup, connect, handshake, greeting,
capabilities, STARTTLS, handshake, capabilities, goodbye; a web host: lookup, connect,
handshake, then two requests of up to three steps each); it is cut off after this many."""

CLOSE_STEPS = 1
"""A probe that is cut off still closes its connections, each close within one step."""

NAMESERVER_STEPS = 1
"""The question to the nameserver before the probes (nameserver.py)."""

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
    """DNS and HTTPS probes for one domain (mail servers are collected across domains).

    A provider without settings (one that only redirects Outlook) sends Thunderbird a 404 by
    design, so its domains need neither autoconfig.<domain> nor an MX here: only Autodiscover.
    """
    domain, provider = target.domain, match.provider

    def probe(
        label: str, check: str, run: Callable[..., Awaitable[list[Finding]]], *args: object
    ) -> Probe:
        return Probe(label, check, domain, partial(run, context, *args))

    names = endpoints.client_names(match)
    probes = [probe(f"DNS {domain}", "dns.name", records.check_client_names, domain, names)]
    if provider.incoming or provider.outgoing:
        probes.append(probe(f"MX {domain}", "dns.mx", records.check_mx, domain))
    probes.append(
        probe(f"SRV _autodiscover._tcp.{domain}", "dns.srv", records.check_autodiscover_srv, domain)
    )
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


def unserved(targets: Sequence[Target], catalog: Catalog) -> list[Finding]:
    """The targets no provider serves: known without the network."""
    return [
        failed(
            "config.provider",
            target.domain,
            "no provider in providers.yaml serves this domain",
            f"add {target.domain} to the domains of a provider, or check the spelling",
        )
        for target in targets
        if catalog.lookup(target.domain) is None
    ]


def plan(
    context: Context,
    catalog: Catalog,
    targets: Sequence[Target],
    unusable: frozenset[str] = frozenset(),
) -> tuple[list[Probe], list[Finding]]:
    """The probes for every served target, and the findings known without the network.

    A server announced the same way for several domains is probed once, after the domains.
    Domains the nameserver gives nothing for (`unusable`) get no probes at all, their mail
    servers included: the nameserver finding already says their checks were not run.
    """
    probes: list[Probe] = []
    known: list[Finding] = []
    servers: dict[tuple[object, ...], mail.MailTarget] = {}
    for target in targets:
        match = catalog.lookup(target.domain)
        if match is None or target.domain in unusable:
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


def limit_steps(probes: int, options: Options) -> int:
    """How many `--timeout`s a run can take at most: the question to the nameserver, then the
    probes in waves of `--concurrency`, each cut off after PROBE_TIMEOUT_STEPS and closed within
    CLOSE_STEPS (a waiting probe starts as soon as one ends, so the waves are never more)."""
    waves = math.ceil(probes / max(1, options.concurrency))
    return NAMESERVER_STEPS + waves * (PROBE_TIMEOUT_STEPS + CLOSE_STEPS)


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
    """Probe everything `targets` depend on and report it, with the time it took."""
    async with open_context(options) as context:
        started = time.monotonic()
        domains = list(dict.fromkeys(t.domain for t in targets if catalog.lookup(t.domain)))
        verdict = await nameserver.check(context, domains)
        probes, known = plan(context, catalog, targets, verdict.unusable)
        findings = await run_probes(probes, options, progress)
        seconds = time.monotonic() - started
    timing = Timing(
        seconds=seconds,
        timeout=options.timeout,
        steps=limit_steps(len(probes), options),
    )
    return Report(
        targets=tuple(str(t.address) if t.given_address else t.domain for t in targets),
        findings=(*unserved(targets, catalog), *verdict.findings, *known, *findings),
        timing=timing,
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
