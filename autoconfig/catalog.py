"""The immutable domain index that every request reads.

Built once from validated providers (rendering what does not depend on the address at the same
time) and never changed afterwards: a reload builds a new catalog and swaps one reference, so a
request in flight keeps the catalog it started with.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from multidict import CIMultiDict

from .config.loader import Config
from .formats import autodiscover_json, mobileconfig, mobilesync, outlook, thunderbird
from .model import Domain, Provider, Redirect


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """A provider with its pre-rendered answers."""

    provider: Provider
    thunderbird: thunderbird.CompiledThunderbird
    outlook: outlook.CompiledOutlook
    mobileconfig: mobileconfig.CompiledMobileconfig
    mobilesync: mobilesync.CompiledMobileSync | None
    """None when the provider declares no ActiveSync URL."""
    activesync_json: bytes | None
    """autodiscover.json's ActiveSync answer (the same for every address); None without one."""
    has_settings: bool
    """Provider.has_settings, read on every request, so worked out once."""
    hosts_need_local_part: bool
    mobileconfig_headers: CIMultiDict[str] = field(compare=False)
    """Headers of the provider's Apple profile (content type, no-store, its file name)."""

    @classmethod
    def build(cls, provider: Provider) -> "ProviderEntry":
        filename = mobileconfig.download_name(provider)
        return cls(
            provider=provider,
            thunderbird=thunderbird.compile_provider(provider),
            outlook=outlook.compile_provider(provider),
            mobileconfig=mobileconfig.compile_provider(provider),
            mobilesync=mobilesync.compile_provider(provider),
            activesync_json=autodiscover_json.render_activesync(provider),
            has_settings=provider.has_settings,
            hosts_need_local_part=provider.hosts_need_local_part,
            mobileconfig_headers=CIMultiDict(
                {
                    "Content-Type": mobileconfig.CONTENT_TYPE,
                    "Cache-Control": "no-store",
                    "Content-Disposition": f'attachment; filename="{filename}"',
                }
            ),
        )


class Listing(NamedTuple):
    """How a domain is listed: what a request needs of its Domain entry, without its name.

    Shared by all the domains of a provider that are listed alike (100,000 domains of one
    domain-list file make one Listing): a lookup then reads a few hot objects instead of one
    cold record per domain.
    """

    listed: bool
    redirect: Redirect | None
    """The redirect of the domain itself, if any, and the provider's otherwise."""


_UNLISTED = Listing(listed=False, redirect=None)

_Indexed = tuple["ProviderEntry", Listing]


class Match(NamedTuple):
    """The result of a lookup: whose domain it is and how it was listed.

    A named tuple: one is made per request, and a tuple is the cheapest immutable record.
    """

    entry: ProviderEntry
    domain: str
    listing: Listing

    @property
    def provider(self) -> Provider:
        return self.entry.provider

    @property
    def redirect(self) -> Redirect | None:
        """A redirect of the domain itself wins over one of its provider."""
        return self.listing.redirect


class Rule(StrEnum):
    """How a lookup found its provider, in the order the catalog tries them."""

    EXACT = "exact"
    WILDCARD = "wildcard"
    DEFAULT = "default"


class Explanation(NamedTuple):
    """A lookup's answer and how it came about, for people (`autoconfig lookup`)."""

    match: Match
    rule: Rule
    listed_as: Domain | None
    """The provider's entry that matched (`example.org` or `*.example.org`); None for the
    default provider."""
    position: int | None
    """Where that entry is in the provider's `domains` (inline ones first, as written)."""


def _parents(domain: str) -> Iterator[str]:
    """`b.a.example`, then `a.example`, then `example` for `c.b.a.example`: the names whose
    wildcard covers the domain, most specific first."""
    rest = domain
    while "." in rest:
        rest = rest.split(".", 1)[1]
        yield rest


class Catalog:
    """Domain -> provider: exact names first, then the most specific wildcard, then the default.

    The default provider (off unless configured) answers for every domain listed nowhere, for
    hosters whose customers point their autoconfig names at one server.
    """

    __slots__ = ("_default", "_default_listing", "_exact", "_wildcards", "entries")

    def __init__(self, providers: Iterable[Provider], default_provider: str | None = None) -> None:
        exact: dict[str, _Indexed] = {}
        wildcards: dict[str, _Indexed] = {}
        entries = []
        for provider in providers:
            entry = ProviderEntry.build(provider)
            entries.append(entry)
            shared: tuple[dict[Redirect | None, _Indexed], ...] = ({}, {})
            for domain in provider.domains:
                alike = shared[domain.listed]  # no object made per domain, nothing left to free
                indexed = alike.get(domain.redirect)
                if indexed is None:
                    listing = Listing(domain.listed, domain.redirect or provider.redirect)
                    indexed = alike[domain.redirect] = (entry, listing)
                index = wildcards if domain.wildcard else exact
                index.setdefault(domain.name, indexed)
        self._exact = exact
        self._wildcards = wildcards
        self.entries: tuple[ProviderEntry, ...] = tuple(entries)
        self._default = next((e for e in entries if e.provider.id == default_provider), None)
        self._default_listing = (
            Listing(False, self._default.provider.redirect) if self._default else _UNLISTED
        )

    @classmethod
    def from_config(cls, config: Config) -> "Catalog":
        return cls(config.providers, config.default_provider)

    def release(self, batch: int) -> None:
        """Empty the indexes of a catalog that no request can reach any more, in batches.

        Only the reloader calls this, after the swap: handlers read the catalog and use it
        without awaiting in between, so none is still looking up in it. Freeing 100,000
        entries in one go would hold the GIL, and stall the event loop, for tens of ms.
        """
        for index in (self._exact, self._wildcards):
            keys = list(index)
            for start in range(0, len(keys), batch):
                for key in keys[start : start + batch]:
                    del index[key]

    @property
    def default_provider(self) -> str | None:
        """The id of the provider that answers for domains listed nowhere, if one does."""
        return self._default.provider.id if self._default is not None else None

    @property
    def domain_count(self) -> int:
        return len(self._exact) + len(self._wildcards)

    def lookup(self, domain: str, use_default: bool = True) -> Match | None:
        """Find the provider of a normalised domain (lower-case A-labels, see address.py).

        `use_default=False` answers only for domains the configuration names, for callers
        that must not trust an arbitrary name (a redirect built from a Host header).
        """
        found = self._exact.get(domain)
        if found is None and self._wildcards:
            rest = domain
            while found is None and "." in rest:
                rest = rest.split(".", 1)[1]
                found = self._wildcards.get(rest)
        if found is None:
            if self._default is None or not use_default:
                return None
            return Match(self._default, domain, self._default_listing)
        return Match(found[0], domain, found[1])

    def explain(self, domain: str) -> Explanation | None:
        """`lookup`'s answer, with the rule and the entry it came from; None when unserved.

        `lookup` is the hot path, so it keeps its walk inline and says nothing of how it
        matched; this asks it for the answer, then names the entry that answer came from
        (the tests hold the two together). Linear in the provider's domains: for people.
        """
        match = self.lookup(domain)
        if match is None:
            return None
        if domain in self._exact:
            rule, name = Rule.EXACT, domain
        else:
            name = next((parent for parent in _parents(domain) if parent in self._wildcards), "")
            rule = Rule.WILDCARD if name else Rule.DEFAULT
        if rule is Rule.DEFAULT:
            return Explanation(match, rule, None, None)
        wildcard = rule is Rule.WILDCARD
        for position, entry in enumerate(match.provider.domains):
            if entry.name == name and entry.wildcard == wildcard:
                return Explanation(match, rule, entry, position)
        raise LookupError(f"{name} is indexed but not listed by {match.provider.id}")
