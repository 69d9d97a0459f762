"""Providers written back as ISPDB files, and what that form cannot carry.

A provider without servers (one that only redirects Autodiscover clients) gets no file at all:
an ISPDB file without servers is refused by every client that reads one.
"""

from collections.abc import Sequence
from pathlib import Path

from ..formats.thunderbird import render_ispdb
from ..model import Provider


def export_losses(providers: Sequence[Provider]) -> tuple[str, ...]:
    """What the ISPDB form cannot carry, per provider, for the CLI to tell the admin.

    ISPDB files have exact domains only and no redirects, and clients reject one without servers
    (such a provider is left out, which is all there is to say about it).
    """
    losses = []
    for provider in providers:
        if not exportable(provider):
            losses.append(f"{provider.id}: has no servers, so no file is written for it")
            continue
        for domain in provider.domains:
            if domain.wildcard:
                losses.append(f"{provider.id}: wildcard domain {domain} is not exported")
            if domain.redirect is not None:
                losses.append(f"{provider.id}: the redirect of domain {domain} is not exported")
        if provider.redirect is not None:
            losses.append(f"{provider.id}: the provider's redirect is not exported")
    return tuple(losses)


def exportable(provider: Provider) -> bool:
    """Whether the provider makes a usable ISPDB file: clients refuse one without servers."""
    return provider.has_settings


def export_providers(providers: Sequence[Provider], directory: Path) -> list[Path]:
    """Write `<id>.xml` per exportable provider in ISPDB form; return the paths in provider
    order. The others are left out (`export_losses` says so).

    Ids are host-name-like and unique (the loader makes sure), so they make safe file names; a
    provider built some other way with an id that is not is refused rather than written elsewhere.
    """
    providers = [provider for provider in providers if exportable(provider)]
    names = [f"{provider.id}.xml" for provider in providers]
    seen: set[str] = set()
    for provider, name in zip(providers, names, strict=True):
        if Path(name).name != name or name.startswith(".") or name in seen:
            raise ValueError(f"{provider.id!r} cannot name a file of its own")
        seen.add(name)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for provider, name in zip(providers, names, strict=True):
        target = directory / name
        target.write_bytes(render_ispdb(provider))
        written.append(target)
    return written
