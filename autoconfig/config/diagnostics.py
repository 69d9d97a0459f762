"""One record for every finding about a providers file, error or warning: where, what code, why.

Errors stop a file from loading; warnings (lint.py) do not. Both are the same `Diagnostic`, so
`check` prints and serialises them alike and a CI pipeline can match either by its stable code.
The codes live in one registry, `CODES`, and are never reused for another meaning.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

UNREADABLE = "AC001"
NOT_YAML = "AC002"
UNKNOWN_KEY = "AC003"
GIVEN_TWICE = "AC004"
MISSING = "AC005"
WRONG_TYPE = "AC006"
INVALID_VALUE = "AC007"
TAKEN = "AC008"
NOT_HERE = "AC009"
RELOAD_FAILED = "AC010"

CODES: dict[str, str] = {
    UNREADABLE: "file cannot be read, is not UTF-8 text, or holds nothing",
    NOT_YAML: "not valid YAML, or a value YAML cannot read",
    UNKNOWN_KEY: "unknown key",
    GIVEN_TWICE: "given twice in one place",
    MISSING: "missing or empty where a value is required",
    WRONG_TYPE: "value of the wrong type",
    INVALID_VALUE: "invalid value",
    TAKEN: "domain or provider id already taken by an earlier entry",
    NOT_HERE: "allowed elsewhere, not here",
    RELOAD_FAILED: "reload failed unexpectedly",
    "AC101": "plaintext connection to a host that is not local",
    "AC102": "port and socket type do not match",
    "AC103": "mail submission on port 25",
    "AC104": "POP3 only",
    "AC105": "OAuth2 without a password method after it",
    "AC106": "login name is not the full address",
    "AC107": "wildcard domain shadowed by another provider's exact domain",
    "AC108": "default provider answers for every unknown domain",
    "AC109": "include pattern or directory that matches no file",
}
"""Every code with its title: AC0xx are errors, AC1xx warnings."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A finding at a file, line and field path, with its code and a message a person can act on.

    Its text is `file:line: path: message` for an error and `file:line: path: CODE message` for a
    warning, the forms admins and their scripts already read.
    """

    file: str
    line: int | None
    path: str
    code: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        line = f":{self.line}" if self.line is not None else ""
        where = f" {self.path}:" if self.path else ""
        code = f" {self.code}" if self.severity is Severity.WARNING else ""
        return f"{self.file}{line}:{where}{code} {self.message}"

    def as_dict(self) -> dict[str, object]:
        """The JSON form of `check --format json`: the same keys for errors and warnings."""
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "code": self.code,
            "message": self.message,
        }


def in_file_order(findings: Iterable[Diagnostic], files: Sequence[Path]) -> list[Diagnostic]:
    """Findings by file, in the order the files were read (the main file first), then by line.

    The sort is stable: findings of one line keep the order they were found in. A finding
    without a line comes first in its file; one in a file that is not listed comes after the
    listed files.
    """
    rank: dict[str, int] = {}
    for file in files:
        rank.setdefault(str(file), len(rank))

    def key(finding: Diagnostic) -> tuple[int, str, int]:
        position = rank.get(finding.file)
        unlisted = finding.file if position is None else ""
        return (len(rank) if position is None else position, unlisted, finding.line or 0)

    return sorted(findings, key=key)


class ConfigInvalid(Exception):
    """Raised with every error found, so an admin fixes a file in one pass, not one per run.

    It carries the files that were read (or wanted), so a watcher can wait for a fix.
    """

    def __init__(self, errors: list[Diagnostic], files: tuple[Path, ...] = ()) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors
        self.files = files
