"""What a doctor run learns: one finding per check, and the report that sums them up.

Findings are plain values so that the text and JSON reporters, the tests and monitoring all read
the same thing. A check id (`mail.tls`, `dns.srv`...) is stable; its first part is the section.
"""

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """pass: works as announced; warn: works, but something will bite; fail: clients break."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}

SECTIONS = {"config": "providers.yaml", "dns": "DNS", "https": "HTTPS", "mail": "Mail servers"}
"""Section id (a check id's first part) -> heading, in report order."""


@dataclass(frozen=True, slots=True)
class Finding:
    """The result of one check on one subject (a DNS name, a URL, a mail server).

    `fix` says what to change, as concretely as the doctor can: a zone-file line, a providers.yaml
    key, a server setting.
    """

    check: str
    subject: str
    status: Status
    detail: str
    fix: str | None = None

    @property
    def section(self) -> str:
        return self.check.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The check's name within its section (`tls` for `mail.tls`)."""
        return self.check.split(".", 1)[-1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "check": self.check,
            "subject": self.subject,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


def passed(check: str, subject: str, detail: str) -> Finding:
    return Finding(check, subject, Status.PASS, detail)


def warned(check: str, subject: str, detail: str, fix: str | None = None) -> Finding:
    return Finding(check, subject, Status.WARN, detail, fix)


def failed(check: str, subject: str, detail: str, fix: str | None = None) -> Finding:
    return Finding(check, subject, Status.FAIL, detail, fix)


NAMESERVER_FIX = (
    "nothing to publish: the lookup itself failed; check the nameserver (or name another with "
    "--nameserver) and run the doctor again"
)


def lookup_failed(check: str, subject: str, error: Exception) -> Finding:
    """A lookup that failed for another reason than a missing name (no answer, refused): there
    is nothing to publish, so the fix is about the nameserver, never a zone-file line."""
    return failed(check, subject, str(error), NAMESERVER_FIX)


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a run took, and the most it could have taken.

    The bound is known before the first probe (`run.limit_steps`), so monitoring can set its own
    timeout above it and never kill a run that would have answered.
    """

    seconds: float
    timeout: float
    """`--timeout`: the limit of each network step."""
    steps: int
    """How many timeouts the run could take at most."""

    @property
    def limit(self) -> float:
        return self.timeout * self.steps

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "limit_seconds": self.limit,
            "timeout_seconds": self.timeout,
            "steps": self.steps,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Every finding of a run, in a stable order (the order checks were planned, not finished)."""

    targets: tuple[str, ...]
    findings: tuple[Finding, ...]
    timing: Timing

    @property
    def status(self) -> Status:
        return max((f.status for f in self.findings), key=_RANK.__getitem__, default=Status.PASS)

    @property
    def exit_code(self) -> int:
        """0 all passed, 1 warnings only, 2 at least one failure: for monitoring and scripts."""
        return _RANK[self.status]

    def counts(self) -> dict[str, int]:
        counted = Counter(f.status for f in self.findings)
        return {status.value: counted[status] for status in Status}

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": list(self.targets),
            "status": self.status.value,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "findings": [finding.as_dict() for finding in self.findings],
            "timing": self.timing.as_dict(),
        }
