"""Configuration errors as values a person can act on: file, line, field path and message."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ConfigError:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        line = f":{self.line}" if self.line is not None else ""
        where = f" {self.path}:" if self.path else ""
        return f"{self.file}{line}:{where} {self.message}"


class ConfigInvalid(Exception):
    """Raised with every error found, so an admin fixes a file in one pass, not one per run."""

    def __init__(self, errors: list[ConfigError], files: tuple[Path, ...] = ()) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors
        self.files = files
