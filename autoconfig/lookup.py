"""`autoconfig lookup`: which provider serves a domain, by which rule, and where the files say so.

The catalog decides (`Catalog.explain`, over the same lookup the server makes); this places its
answer in the files an admin edits: the provider, the domain entry (inline, or a line of its
domain-list file), the `defaultProvider` key, and the redirect that applies. A domain-list file's
lines are not kept when it is loaded, so the line is found by reading that file again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalog import Catalog, Explanation, Rule
from .config.domains import line_in_domain_list
from .config.loader import Config


@dataclass(frozen=True, slots=True)
class Place:
    """Where something is written: file, line (None when it cannot be found) and field path."""

    file: str
    line: int | None
    path: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} ({self.path})" if self.path else where

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "path": self.path}


@dataclass(frozen=True, slots=True)
class AppliedRedirect:
    kind: str
    """`redirectUrl` or `redirectAddr`."""
    target: str
    owner: str
    """`domain` (the domain entry's own) or `provider`."""
    place: Place


@dataclass(frozen=True, slots=True)
class Found:
    """The answer to `lookup`: who serves the domain, by which rule, written where."""

    query: str
    domain: str
    provider: str
    display_name: str
    provider_place: Place
    rule: Rule
    entry: str | None
    """The matching entry as written (`example.org`, `*.example.org`); None for the default."""
    source: str
    """`domains`, `domainsFile` (a domain-list file) or `defaultProvider`."""
    place: Place
    redirect: AppliedRedirect | None


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _redirect(config: Config, index: int, explanation: Explanation) -> AppliedRedirect | None:
    redirect = explanation.match.redirect
    if redirect is None:
        return None
    kind = "redirectUrl" if redirect.url is not None else "redirectAddr"
    target = redirect.url or redirect.address or ""
    origin = config.origins[index]
    own = explanation.listed_as is not None and explanation.listed_as.redirect is not None
    owner_path = f"{origin.path}.domains[{explanation.position}]" if own else origin.path
    path = f"{owner_path}.{kind}"
    place = Place(origin.file, config.lines.get((origin.file, path)), path)
    return AppliedRedirect(kind, target, "domain" if own else "provider", place)


def _entry_place(
    config: Config, index: int, explanation: Explanation, read: Callable[[Path], str]
) -> tuple[str, Place]:
    """(source, place) of the entry that matched."""
    origin = config.origins[index]
    listed_as = explanation.listed_as
    if listed_as is None:
        main = str(config.files[0]) if config.files else origin.file
        return "defaultProvider", Place(main, config.lines.get((main, "defaultProvider")), "")
    if listed_as.listed:
        path = f"{origin.path}.domains[{explanation.position}]"
        return "domains", Place(origin.file, config.lines.get((origin.file, path)), path)
    path = f"{origin.path}.domainsFile"
    list_file = config.domain_lists.get((origin.file, path))
    if list_file is None:
        return "domainsFile", Place(origin.file, config.lines.get((origin.file, path)), path)
    try:
        line = line_in_domain_list(read(list_file), listed_as)
    except (OSError, UnicodeDecodeError):
        line = None
    return "domainsFile", Place(str(list_file), line, "")


def find(
    config: Config,
    catalog: Catalog,
    domain: str,
    query: str,
    read: Callable[[Path], str] = _read,
) -> Found | None:
    """Who serves a normalised domain and why; None when no provider does.

    `catalog` must be built from `config`. `query` is what the admin typed (an address or the
    domain), repeated in the answer.
    """
    explanation = catalog.explain(domain)
    if explanation is None:
        return None
    provider = explanation.match.provider
    index = next(i for i, p in enumerate(config.providers) if p is provider)
    origin = config.origins[index]
    source, place = _entry_place(config, index, explanation, read)
    listed_as = explanation.listed_as
    return Found(
        query=query,
        domain=domain,
        provider=provider.id,
        display_name=provider.display_name,
        provider_place=Place(origin.file, origin.line, origin.path),
        rule=explanation.rule,
        entry=None if listed_as is None else str(listed_as),
        source=source,
        place=place,
        redirect=_redirect(config, index, explanation),
    )


_RULES = {
    Rule.EXACT: "exact name {entry}",
    Rule.WILDCARD: "wildcard {entry}",
    Rule.DEFAULT: "the default provider (no provider lists {domain})",
}


_OWNERS = {"domain": "the domain's own", "provider": "the provider's"}


def text(found: Found) -> str:
    """The answer as lines a person reads."""
    rule = _RULES[found.rule].format(entry=found.entry, domain=found.domain)
    if found.source == "domainsFile":
        written = f"in the domain-list file {found.place}"
        if found.place.line is None:
            written += " (its line was not found: has the file changed?)"
    elif found.source == "defaultProvider":
        written = f"defaultProvider at {found.place}"
    else:
        written = f"at {found.place}"
    lines = [
        f"{found.query}: served by {found.provider} ({found.display_name})",
        f"  provider: {found.provider_place}",
        f"  rule:     {rule}, {written}",
    ]
    redirect = found.redirect
    if redirect is None:
        lines.append("  redirect: none (Autodiscover clients get the settings)")
    else:
        lines.append(
            f"  redirect: {redirect.kind} {redirect.target}, {_OWNERS[redirect.owner]}, "
            f"at {redirect.place}"
        )
    return "\n".join(lines) + "\n"


def as_dict(found: Found | None, query: str, domain: str) -> dict[str, Any]:
    """The answer for `--format json`; `served` is false when no provider serves the domain."""
    if found is None:
        return {"query": query, "domain": domain, "served": False}
    redirect = found.redirect
    return {
        "query": query,
        "domain": domain,
        "served": True,
        "provider": {
            "id": found.provider,
            "displayName": found.display_name,
            **found.provider_place.as_dict(),
        },
        "rule": found.rule.value,
        "entry": found.entry,
        "source": found.source,
        "where": found.place.as_dict(),
        "redirect": None
        if redirect is None
        else {
            "kind": redirect.kind,
            "target": redirect.target,
            "owner": redirect.owner,
            **redirect.place.as_dict(),
        },
    }
