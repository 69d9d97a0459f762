"""Is the nameserver itself usable? Asked once, before any probe.

Every check starts with a lookup, so a nameserver that does not answer, refuses or cannot be
reached would fail every line of the report with the same cause, each after its own timeout,
and with fixes ("publish this record") that are wrong. One question per domain (its SOA, which
any working resolver answers, even with NXDOMAIN) tells the nameserver's problem apart from the
zone's; the domains it gives nothing for get one finding about the nameserver instead of their
checks.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from .context import Context
from .findings import Finding, failed
from .resolve import Failure, ResolveError

UNUSABLE = frozenset({Failure.NO_ANSWER, Failure.REFUSED, Failure.UNREACHABLE, Failure.SERVFAIL})
"""Answers after which nothing about the domain can be looked up: its checks would only repeat
them."""

_FIXES = {
    Failure.NO_ANSWER: (
        "check that the nameserver runs and that this machine reaches it (UDP and TCP port 53; "
        "a firewall may drop them), or name another with --nameserver"
    ),
    Failure.REFUSED: (
        "let the nameserver resolve for this machine (recursion allowed for its address, or the "
        "zone served there), or name one that does with --nameserver"
    ),
    Failure.UNREACHABLE: "start the nameserver, or name a running one with --nameserver",
    Failure.SERVFAIL: (
        "the domain's own nameservers do not answer, or its DNSSEC signatures fail: check its "
        "delegation and DNSSEC (dig +trace, dnsviz.net); or name another resolver with "
        "--nameserver"
    ),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the nameserver said about the domains of a run."""

    findings: list[Finding]
    """One per distinct problem, naming the domains it concerns; [] when every domain answered."""
    unusable: frozenset[str]
    """Domains the nameserver gives nothing for: their checks are not run."""


async def _ask(context: Context, domain: str) -> ResolveError | None:
    try:
        await context.lookup.records(domain, "SOA")
    except ResolveError as exc:
        return exc if exc.failure in UNUSABLE else None
    return None


def _finding(
    context: Context, error: ResolveError, domains: list[str], everything: bool
) -> Finding:
    skipped = (
        "nothing else was checked, since every check needs DNS"
        if everything
        else f"the checks of {', '.join(domains)} were not run"
    )
    return failed(
        "dns.resolver",
        context.lookup.subject,
        f"{error.reason} (asked about {', '.join(domains)}): {skipped}",
        _FIXES[error.failure],
    )


async def check(context: Context, domains: Sequence[str]) -> Verdict:
    """Ask about every domain at once (one step of the timeout); group the problems."""
    errors = await asyncio.gather(*(_ask(context, domain) for domain in domains))
    problems: dict[str, tuple[ResolveError, list[str]]] = {}
    for domain, error in zip(domains, errors, strict=True):
        if error is not None:
            problems.setdefault(error.reason, (error, []))[1].append(domain)
    unusable = frozenset(d for _, named in problems.values() for d in named)
    everything = bool(domains) and unusable == frozenset(domains)
    findings = [_finding(context, error, named, everything) for error, named in problems.values()]
    return Verdict(findings, unusable)
