"""A catalog in a few digests: what `/catalog` serves and what `check --against` compares.

`check --against URL` says what loading a file on a running server would change. The server
cannot be sent the file, so both sides summarise their providers the same way and the CLI
compares the summaries: per provider its id, the exact domains its Thunderbird answers already
list to anyone who asks, and only a count and a digest of the rest (wildcards and domain-list
files, a hoster's customer list), a digest of all its domain entries with their redirects, and a
digest of its settings (everything but the domains). So the summary shows no address and no
domain that the public answers do not already show.

Digests are of the model's text, which is stable for one version of autoconfig: the summary
names its version, and a comparison with another version says so.
"""

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import __version__
from .model import Domain, Provider

PATH = "/catalog"
DIGEST_CHARS = 32
"""128 bits of SHA-256: no accidental collision among a catalog's providers."""


def _digest(lines: Iterable[str]) -> str:
    hashed = hashlib.sha256()
    for line in lines:
        hashed.update(line.encode("utf-8"))
        hashed.update(b"\n")
    return hashed.hexdigest()[:DIGEST_CHARS]


def _entry(domain: Domain) -> str:
    """A domain entry as one line: its name, where it is listed, its own redirect."""
    listed = "" if domain.listed else " (domain-list file)"
    redirect = f" {domain.redirect!r}" if domain.redirect is not None else ""
    return f"{domain}{listed}{redirect}"


def provider_summary(provider: Provider) -> dict[str, Any]:
    others = sorted(_entry(d) for d in provider.domains if d.wildcard or not d.listed)
    return {
        "id": provider.id,
        "domains": len(provider.domains),
        "listed": sorted(provider.exact_domains),
        "others": len(others),
        "others_digest": _digest(others),
        "domains_digest": _digest(sorted(_entry(d) for d in provider.domains)),
        "settings_digest": _digest([repr(dataclasses.replace(provider, domains=()))]),
    }


def summarise(
    providers: Iterable[Provider], default_provider: str | None, generation: int | None = None
) -> dict[str, Any]:
    """The summary of a set of providers (a loaded file, or the catalog a server serves)."""
    return {
        "autoconfig": __version__,
        "generation": generation,
        "default_provider": default_provider,
        "providers": [provider_summary(provider) for provider in providers],
    }


class NotASummary(ValueError):
    """The document is not a `/catalog` summary; the message says what is wrong."""


_PROVIDER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "domains": int,
    "listed": list,
    "others": int,
    "others_digest": str,
    "domains_digest": str,
    "settings_digest": str,
}


def read_summary(document: object) -> dict[str, Any]:
    """A summary from a server, checked field by field (it comes over the network)."""
    if not isinstance(document, dict) or not isinstance(document.get("providers"), list):
        raise NotASummary("not a /catalog summary (no list of providers)")
    if not isinstance(document.get("default_provider"), str | None):
        raise NotASummary("default_provider is not a provider id")
    for index, provider in enumerate(document["providers"]):
        if not isinstance(provider, dict):
            raise NotASummary(f"providers[{index}] is not an object")
        for name, kind in _PROVIDER_FIELDS.items():
            if not isinstance(provider.get(name), kind) or isinstance(provider.get(name), bool):
                raise NotASummary(f"providers[{index}].{name} is missing or of the wrong type")
        if not all(isinstance(domain, str) for domain in provider["listed"]):
            raise NotASummary(f"providers[{index}].listed holds something else than names")
    return document


@dataclass(frozen=True, slots=True)
class ProviderChange:
    """How a provider served now differs from the same id in the file."""

    id: str
    listed_added: tuple[str, ...]
    listed_removed: tuple[str, ...]
    others: tuple[int, int] | None
    """(served, in the file) counts of wildcards and domain-list entries, when they differ."""
    redirects_changed: bool
    """The same domains, with other redirects of their own."""
    settings_changed: bool


@dataclass(frozen=True, slots=True)
class Changes:
    """What loading the file would change on the server."""

    added: tuple[tuple[str, int], ...]
    """(id, domain count) of each provider the file adds."""
    removed: tuple[tuple[str, int], ...]
    changed: tuple[ProviderChange, ...]
    unchanged: int
    default_provider: tuple[str | None, str | None] | None
    """(served, in the file), when they differ."""
    versions: tuple[str, str] | None
    """(served, this one), when they differ: digests may then differ for that reason alone."""

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.default_provider)


def _provider_change(served: Mapping[str, Any], local: Mapping[str, Any]) -> ProviderChange | None:
    if all(served[key] == local[key] for key in ("domains_digest", "settings_digest")):
        return None
    before, after = set(served["listed"]), set(local["listed"])
    others_differ = served["others_digest"] != local["others_digest"]
    domains_differ = served["domains_digest"] != local["domains_digest"]
    return ProviderChange(
        id=local["id"],
        listed_added=tuple(sorted(after - before)),
        listed_removed=tuple(sorted(before - after)),
        others=(served["others"], local["others"]) if others_differ else None,
        redirects_changed=domains_differ and before == after and not others_differ,
        settings_changed=served["settings_digest"] != local["settings_digest"],
    )


def compare(served: Mapping[str, Any], local: Mapping[str, Any]) -> Changes:
    """The changes from the served summary to the local one, providers in the file's order."""
    served_by_id = {provider["id"]: provider for provider in served["providers"]}
    local_ids = {provider["id"] for provider in local["providers"]}
    added, changed, unchanged = [], [], 0
    for provider in local["providers"]:
        before = served_by_id.get(provider["id"])
        if before is None:
            added.append((provider["id"], provider["domains"]))
            continue
        change = _provider_change(before, provider)
        if change is None:
            unchanged += 1
        else:
            changed.append(change)
    removed = [(p["id"], p["domains"]) for p in served["providers"] if p["id"] not in local_ids]
    defaults = (served["default_provider"], local["default_provider"])
    versions = (str(served.get("autoconfig")), str(local["autoconfig"]))
    return Changes(
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        unchanged=unchanged,
        default_provider=defaults if defaults[0] != defaults[1] else None,
        versions=versions if versions[0] != versions[1] else None,
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _describe(change: ProviderChange) -> str:
    parts = []
    if change.listed_added or change.listed_removed:
        names = [f"+ {name}" for name in change.listed_added]
        names += [f"- {name}" for name in change.listed_removed]
        parts.append("domains " + ", ".join(names))
    if change.others is not None:
        before, after = change.others
        counted = f"{before} -> {after}" if before != after else f"{after}, not the same ones"
        parts.append(f"wildcard and domain-list entries {counted}")
    if change.redirects_changed:
        parts.append("the redirect of a domain changes")
    if change.settings_changed:
        parts.append("its settings change (what its clients are told)")
    return "; ".join(parts) or "its domains change"


def text(changes: Changes, url: str, generation: object) -> str:
    """The comparison as lines for a person, headed by the server and its generation."""
    where = f"{url} (generation {generation})" if generation is not None else url
    if not changes.any:
        lines = [f"against {where}: no change ({_count(changes.unchanged, 'provider')} the same)"]
    else:
        counts = [
            f"{len(changes.added)} added",
            f"{len(changes.removed)} removed",
            f"{len(changes.changed)} changed",
            f"{changes.unchanged} the same",
        ]
        lines = [f"against {where}: providers {', '.join(counts)}"]
    lines += [f"  + provider {id_} ({_count(n, 'domain')})" for id_, n in changes.added]
    lines += [f"  - provider {id_} ({_count(n, 'domain')})" for id_, n in changes.removed]
    lines += [f"  ~ provider {change.id}: {_describe(change)}" for change in changes.changed]
    if changes.default_provider is not None:
        before, after = changes.default_provider
        lines.append(f"  ~ defaultProvider: {before or 'none'} -> {after or 'none'}")
    if changes.versions is not None:
        served, local = changes.versions
        lines.append(
            f"  note: the server runs autoconfig {served}, this is {local}: settings digests may "
            "differ for that reason alone"
        )
    return "\n".join(lines) + "\n"


def as_dict(changes: Changes, url: str, generation: object) -> dict[str, Any]:
    """The comparison for `check --format json`."""
    return {
        "url": url,
        "generation": generation,
        "changed": changes.any,
        "providers_added": [{"id": i, "domains": n} for i, n in changes.added],
        "providers_removed": [{"id": i, "domains": n} for i, n in changes.removed],
        "providers_changed": [
            {
                "id": change.id,
                "domains_added": list(change.listed_added),
                "domains_removed": list(change.listed_removed),
                "other_domains": None
                if change.others is None
                else {"served": change.others[0], "file": change.others[1]},
                "redirects_changed": change.redirects_changed,
                "settings_changed": change.settings_changed,
            }
            for change in changes.changed
        ],
        "providers_unchanged": changes.unchanged,
        "default_provider": None
        if changes.default_provider is None
        else {"served": changes.default_provider[0], "file": changes.default_provider[1]},
        "versions": None
        if changes.versions is None
        else {"served": changes.versions[0], "file": changes.versions[1]},
    }
