"""Domain entries, domain-list files, and the rule that a domain is served by one provider only.

A domain may be listed by one provider of one file, whichever file that is: `Claims` remembers
where each domain and provider id was first written, so that the second place is reported with
the first. A domain entry written as a mapping carries its own redirect, with the same rules as a
provider's redirect, so both are read here by `read_redirect`.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

from ..model import Domain, Redirect
from . import spec
from .diagnostics import INVALID_VALUE, MISSING, NOT_HERE, TAKEN, UNREADABLE, Diagnostic
from .rules import domain_name, redirect_address_error, url_error
from .syntax import undecodable
from .yaml_nodes import INVALID, Invalid, Reader


@dataclass
class Claims:
    """What earlier providers (of any file) claimed, to report duplicates with their place."""

    domains: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)

    def where(self, file: str, other_file: str, other_path: str, other_line: int) -> str:
        place = f"line {other_line}" if other_file == file else f"{other_file}:{other_line}"
        return f"{other_path} ({place})"


def read_redirect(r: Reader, fields: dict[str, yaml.Node], path: str) -> Redirect | Invalid | None:
    """`redirectUrl` (https) or `redirectAddr` (an address template), never both."""
    url_node, addr_node = fields.get("redirectUrl"), fields.get("redirectAddr")
    if url_node is not None and addr_node is not None:
        message = "cannot be combined with redirectUrl"
        return r.error(addr_node, f"{path}.redirectAddr", NOT_HERE, message)
    if url_node is not None:
        url = r.checked(url_node, f"{path}.redirectUrl", partial(url_error, https_only=True))
        return Redirect(url=url) if isinstance(url, str) else INVALID
    if addr_node is not None:
        address = r.checked(addr_node, f"{path}.redirectAddr", redirect_address_error)
        return Redirect(address=address) if isinstance(address, str) else INVALID
    return None


def domain_list_entries(text: str) -> Iterator[tuple[int, str]]:
    """(line number, entry) of a domain-list file: one a line, `#` starts a comment."""
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = raw.split("#", 1)[0].strip()
        if entry:
            yield number, entry


def line_in_domain_list(text: str, domain: Domain) -> int | None:
    """The line of a domain-list file that lists `domain`, read as the loader reads it.

    Lines are not kept at load time (100,000 domains would cost memory for a question asked
    rarely), so `lookup` reads the file again: written as stored (lower-case A-labels) first,
    cheaply, and only then every entry normalised (`Bücher.example` is listed as itself).
    """
    wanted = str(domain)
    entries = list(domain_list_entries(text))
    for number, entry in entries:
        if entry.lower().rstrip(".") == wanted:
            return number
    for number, entry in entries:
        if domain_name(entry) == (domain.name, domain.wildcard):
            return number
    return None


class DomainReader:
    """Reads the domains of providers: inline entries and domain-list files, each claimed once."""

    def __init__(
        self,
        reader: Reader,
        claims: Claims,
        base: Path,
        read: Callable[[Path], str],
        files: list[Path],
        lists: dict[tuple[str, str], Path] | None = None,
    ) -> None:
        self.r = reader
        self.claims = claims
        self.base = base
        self.read = read
        self.files = files
        """Where each domain-list file is recorded, read or not, for the watcher."""
        self.lists = {} if lists is None else lists
        """(file, path of `domainsFile`) -> the domain-list file it names, for `lookup`."""

    def domains(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str
    ) -> tuple[Domain, ...] | Invalid:
        """Domains listed inline, then those of the domain-list file; at least one in all."""
        result: list[Domain] = []
        if "domains" in fields:
            items = self.r.sequence(fields["domains"], f"{path}.domains")
            if items is None:
                return INVALID
            if not items and "domainsFile" not in fields:
                message = "is empty: list at least one domain"
                return self.r.error(fields["domains"], f"{path}.domains", MISSING, message)
            for index, item in enumerate(items):
                item_path = f"{path}.domains[{index}]"
                domain = self.domain(item, item_path)
                if domain is not None and self.claim(domain, item_path, item.start_mark.line + 1):
                    result.append(domain)
        elif "domainsFile" not in fields:
            message = "is missing: list the mail domains this provider serves"
            return self.r.error(node, f"{path}.domains", MISSING, message)
        if "domainsFile" in fields:
            from_file = self.domains_file(fields["domainsFile"], f"{path}.domainsFile")
            if isinstance(from_file, Invalid):
                return from_file
            result.extend(from_file)
        return tuple(result)

    def claim(self, domain: Domain, path: str, line: int, file: str | None = None) -> bool:
        """Record a domain for this provider, or report who listed it first."""
        file = file or self.r.file
        key = str(domain)
        if key in self.claims.domains:
            other_file, other_path, other_line = self.claims.domains[key]
            where = self.claims.where(file, other_file, other_path, other_line)
            message = f"{key} is already listed at {where}"
            self.r.errors.append(Diagnostic(file, line, path, TAKEN, message))
            return False
        self.claims.domains[key] = (file, path, line)
        return True

    def domains_file(self, node: yaml.Node, path: str) -> list[Domain] | Invalid:
        """A plain list of domains, one a line, `#` comments: for hosters with many customers."""
        name = self.r.text(node, path)
        if isinstance(name, Invalid):
            return name
        file = self.base / name
        self.files.append(file)
        self.lists[(self.r.file, path)] = file
        try:
            text = self.read(file)
        except UnicodeDecodeError as exc:
            self.r.errors.append(undecodable(str(file), path, exc))
            return INVALID
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return self.r.error(node, path, UNREADABLE, f"{str(file)!r} cannot be read: {reason}")
        domains = []
        failed = False
        for number, entry in domain_list_entries(text):
            parsed = domain_name(entry)
            if isinstance(parsed, str):
                self.r.errors.append(Diagnostic(str(file), number, path, INVALID_VALUE, parsed))
                failed = True
                continue
            domain = Domain(name=parsed[0], wildcard=parsed[1], listed=False)
            if self.claim(domain, path, number, str(file)):
                domains.append(domain)
            else:
                failed = True
        if not domains and not failed:
            return self.r.error(node, path, UNREADABLE, f"{str(file)!r} lists no domain")
        return INVALID if failed else domains

    def domain(self, node: yaml.Node, path: str) -> Domain | None:
        """`example.org`, `*.example.org`, or {name, redirectUrl | redirectAddr}."""
        redirect = None
        name_node, path_of_name = node, path
        if isinstance(node, yaml.MappingNode):
            entry = self.r.keyed(node, path, spec.DOMAIN_ENTRY.names, "name")
            if entry is None:
                return None
            fields, name_node = entry
            path_of_name = f"{path}.name"
            found = read_redirect(self.r, fields, path)
            if isinstance(found, Invalid):
                return None
            if found is None:
                message = "a domain written as a mapping needs a redirect"
                self.r.error(node, path, MISSING, message)
                return None
            redirect = found
        text = self.r.text(name_node, path_of_name)
        if isinstance(text, Invalid):
            return None
        parsed = domain_name(text)
        if isinstance(parsed, str):
            self.r.error(name_node, path_of_name, INVALID_VALUE, parsed)
            return None
        return Domain(name=parsed[0], wildcard=parsed[1], redirect=redirect)
