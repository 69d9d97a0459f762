"""providers.yaml -> a validated `Config`, with every error located by file, line and field path.

This module reads the main file and the files it includes (paths, directories, glob patterns),
checks what only the whole set can tell (at least one provider, `defaultProvider` names one) and
returns the `Config` that the catalog, lint and the CLI work from. Reading never stops at the
first problem: an admin sees every error of an edit at once, raised together in `ConfigInvalid`.
How one document is read is yaml_nodes.py's; its providers, providers.py's; domains, domains.py's.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..model import Provider
from . import spec
from .diagnostics import (
    INVALID_VALUE,
    MISSING,
    NOT_HERE,
    UNREADABLE,
    ConfigInvalid,
    Diagnostic,
    in_file_order,
)
from .domains import Claims, DomainReader
from .providers import ProviderReader
from .syntax import undecodable
from .yaml_nodes import Invalid, Reader, compose


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a provider or an include entry is written: for messages that point at its line."""

    file: str
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class EmptyInclude:
    """An `include` entry (a glob pattern or a directory) that matched no file: lint warns."""

    file: str
    line: int
    path: str
    target: str
    directory: bool


@dataclass(frozen=True)
class Config:
    """Everything read from a providers file and its includes, validated."""

    providers: tuple[Provider, ...]
    origins: tuple[Origin, ...]
    default_provider: str | None = None
    files: tuple[Path, ...] = ()
    lines: Mapping[tuple[str, str], int] = field(default_factory=dict)
    domain_lists: Mapping[tuple[str, str], Path] = field(default_factory=dict)
    """(file, `providers[i].domainsFile`) -> the domain-list file it names."""
    empty_includes: tuple[EmptyInclude, ...] = ()

    def locate(self, index: int, subpath: str = "") -> tuple[str, int, str]:
        """(file, line, path) of a field of provider `index`, or of the provider itself."""
        origin = self.origins[index]
        path = f"{origin.path}{subpath}"
        while True:
            line = self.lines.get((origin.file, path))
            if line is not None or path == origin.path:
                return origin.file, line or origin.line, f"{origin.path}{subpath}"
            path = path.rsplit(".", 1)[0] if "." in path[len(origin.path) :] else origin.path


def _read_utf8(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class _ConfigLoader:
    """Reads a main file and everything it includes; one instance per load."""

    def __init__(self, read: Callable[[Path], str]) -> None:
        self.read = read
        self.errors: list[Diagnostic] = []
        self.lines: dict[tuple[str, str], int] = {}
        self.domain_lists: dict[tuple[str, str], Path] = {}
        self.claims = Claims()
        self.files: list[Path] = []
        self.providers: list[Provider] = []
        self.origins: list[Origin] = []
        self.default: tuple[str, str, int] | None = None
        self.including: list[Path] = []
        """The files being read, each included by the one before it: to show a loop whole."""
        self.empty_includes: list[EmptyInclude] = []

    def load(self, path: Path, main: bool, included_at: Origin | None = None) -> None:
        """Read one file; `included_at` is the `include` entry that named it, if any."""
        file = str(path)
        self.files.append(path)
        try:
            text = self.read(path)
        except UnicodeDecodeError as exc:
            self.errors.append(undecodable(file, "", exc))
            return
        except FileNotFoundError as exc:
            if included_at is None:
                reason = exc.strerror or str(exc)
                error = Diagnostic(file, None, "", UNREADABLE, f"cannot be read: {reason}")
            else:
                at = included_at
                message = f"{file!r} does not exist"
                error = Diagnostic(at.file, at.line, at.path, UNREADABLE, message)
            self.errors.append(error)
            return
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.errors.append(Diagnostic(file, None, "", UNREADABLE, f"cannot be read: {reason}"))
            return
        try:
            loader, root = compose(file, text)
        except ConfigInvalid as exc:
            self.errors.extend(exc.errors)
            return
        try:
            if root is None:
                self.errors.append(Diagnostic(file, 1, "", UNREADABLE, "the file is empty"))
                return
            self.including.append(path)
            reader = Reader(file, loader, self.errors, self.lines)
            self.read_document(reader, root, path, main)
            self.including.pop()
        finally:
            loader.dispose()

    def read_document(self, reader: Reader, root: yaml.Node, path: Path, main: bool) -> None:
        top = reader.mapping(root, "", spec.TOP_LEVEL.names)
        if top is None:
            return
        if main and "providers" not in top and "include" not in top:
            message = "is missing: the file must list its providers"
            reader.error(root, "providers", MISSING, message)
            return
        if "providers" in top:
            node = top["providers"]
            empty = isinstance(node, yaml.SequenceNode) and not node.value
            if main and empty and "include" not in top:
                reader.error(node, "providers", MISSING, "is empty: list at least one provider")
            domains = DomainReader(
                reader, self.claims, path.parent, self.read, self.files, self.domain_lists
            )
            providers = ProviderReader(domains)
            for provider, provider_path, line in providers.providers(node):
                self.providers.append(provider)
                self.origins.append(Origin(reader.file, provider_path, line))
        if "defaultProvider" in top:
            node = top["defaultProvider"]
            if not main:
                reader.error(node, "defaultProvider", NOT_HERE, "is only allowed in the main file")
            else:
                value = reader.text(node, "defaultProvider")
                if isinstance(value, str):
                    self.default = (value.lower(), reader.file, node.start_mark.line + 1)
        if "include" in top:
            for child, included_at in self.includes(reader, top["include"], path.parent):
                self.load(child, main=False, included_at=included_at)

    def includes(self, reader: Reader, node: yaml.Node, base: Path) -> list[tuple[Path, Origin]]:
        """The files an `include` names (paths, directories, glob patterns), each with its entry.

        A file already being read (a loop) is reported with the chain of includes that leads
        back to it; a pattern or directory that matches nothing is kept for lint to warn about.
        """
        entries = [(node, "include")]
        if isinstance(node, yaml.SequenceNode):
            entries = [(item, f"include[{i}]") for i, item in enumerate(node.value)]
            self.lines.update({(reader.file, p): n.start_mark.line + 1 for n, p in entries})
        found: list[tuple[Path, Origin]] = []
        seen: set[Path] = set()
        reading = [included.resolve() for included in self.including]
        for item, item_path in entries:
            pattern = reader.text(item, item_path)
            if isinstance(pattern, Invalid):
                continue
            at = Origin(reader.file, item_path, item.start_mark.line + 1)
            target = base / pattern
            if any(char in pattern for char in "*?["):
                matches = sorted(base.glob(pattern))
                self.files.append(target.parent)
            elif target.is_dir():
                matches = sorted([*target.glob("*.yaml"), *target.glob("*.yml")])
                self.files.append(target)
            else:
                matches = [target]
            if not matches:
                empty = EmptyInclude(at.file, at.line, at.path, str(target), target.is_dir())
                self.empty_includes.append(empty)
            for match in matches:
                resolved = match.resolve()
                if resolved in reading:
                    loop = [*self.including[reading.index(resolved) :], match]
                    message = "an include loop: " + " -> ".join(str(file) for file in loop)
                    reader.error(item, item_path, NOT_HERE, message)
                elif resolved not in seen:
                    seen.add(resolved)
                    found.append((match, at))
        return found

    def result(self, main: Path) -> Config:
        if not self.errors and not self.providers:
            error = Diagnostic(str(main), 1, "providers", MISSING, "no provider is defined")
            self.errors.append(error)
        default = None
        if self.default is not None:
            default, file, line = self.default
            if default not in self.claims.ids:
                message = f"{default!r} is not the id of any provider"
                self.errors.append(
                    Diagnostic(file, line, "defaultProvider", INVALID_VALUE, message)
                )
        if self.errors:
            errors = in_file_order(self.errors, self.files)
            raise ConfigInvalid(errors, files=tuple(self.files))
        return Config(
            providers=tuple(self.providers),
            origins=tuple(self.origins),
            default_provider=default,
            files=tuple(self.files),
            lines=self.lines,
            domain_lists=self.domain_lists,
            empty_includes=tuple(self.empty_includes),
        )


def load_config(path: Path, read: Callable[[Path], str] = _read_utf8) -> Config:
    """Read and validate a providers file and its includes; raise ConfigInvalid with every error.

    The error carries the files that were read (or wanted), so a watcher can wait for a fix.
    """
    loader = _ConfigLoader(read)
    loader.load(path, main=True)
    return loader.result(path)


def load_providers(path: Path, read: Callable[[Path], str] = _read_utf8) -> tuple[Provider, ...]:
    """The providers of a file and its includes (see load_config)."""
    return load_config(path, read).providers


def parse_providers(text: str, file: str) -> tuple[Provider, ...]:
    """Validate providers given as text; includes and domain lists are read from disk."""
    main = Path(file)
    return load_providers(main, read=lambda path: text if path == main else _read_utf8(path))
