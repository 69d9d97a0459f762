"""Reports for people (text, grouped by section and subject, fixes under each problem) and for
monitoring (one JSON document), plus a progress line that appears only on a terminal.
"""

import json
import shutil
from typing import TextIO

from .findings import SECTIONS, Finding, Report, Status, Timing

_MARK = {Status.PASS: "pass", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def _grouped(report: Report) -> list[tuple[str, list[tuple[str, list[Finding]]]]]:
    """Sections in report order, subjects in plan order within each."""
    sections: dict[str, dict[str, list[Finding]]] = {section: {} for section in SECTIONS}
    for finding in report.findings:
        subjects = sections.setdefault(finding.section, {})
        subjects.setdefault(finding.subject, []).append(finding)
    return [
        (SECTIONS.get(section, section), list(subjects.items()))
        for section, subjects in sections.items()
        if subjects
    ]


def render_text(report: Report) -> str:
    """One line per check (`pass`, `WARN`, `FAIL`), the fix below each problem, a summary."""
    lines = [f"autoconfig doctor: {', '.join(report.targets)}"]
    for heading, subjects in _grouped(report):
        lines.extend(("", heading))
        for subject, findings in subjects:
            lines.append(f"  {subject}")
            width = max(len(f.name) for f in findings)
            for finding in findings:
                lines.append(
                    f"    {_MARK[finding.status]}  {finding.name:<{width}}  {finding.detail}"
                )
                if finding.fix and finding.status is not Status.PASS:
                    indent = " " * (10 + width)
                    first, *rest = finding.fix.splitlines()
                    lines.append(f"{indent}fix: {first}")
                    lines.extend(f"{indent}     {line}" for line in rest)
    counts = report.counts()
    lines.extend(
        (
            "",
            f"{_count(len(report.findings), 'check')}: {counts['pass']} passed, "
            f"{_count(counts['warn'], 'warning')}, {counts['fail']} failed",
            _timing_line(report.timing),
        )
    )
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _timing_line(timing: Timing) -> str:
    """`took 5.0 s (limit 5 s: 1 x --timeout 5 s)`: what a run cost, against its bound."""
    return (
        f"took {timing.seconds:.1f} s (limit {timing.limit:g} s: "
        f"{timing.steps} x --timeout {timing.timeout:g} s)"
    )


def render_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


class ProgressLine:
    """`[ 3/17] imap imap.example.com:993 SSL` rewritten in place, on a terminal only.

    Pipes and monitoring logs get nothing, so the report on stdout stays clean.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.shown = False

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        width = shutil.get_terminal_size((80, 24)).columns - 1
        text = f"[{done:>{len(str(total))}}/{total}] {label}"[:width]
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
