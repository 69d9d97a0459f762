"""Providers written back as ISPDB files, and what that form cannot carry."""

from collections.abc import Sequence
from pathlib import Path

from ..formats.thunderbird import render_ispdb
from ..model import Provider


def export_losses(providers: Sequence[Provider]) -> tuple[str, ...]:
    """What the ISPDB form cannot carry, per provider, for the CLI to tell the admin.

    ISPDB files have exact domains only and no redirects, and clients reject one without servers.
    """
    losses = []
    for provider in providers:
        for domain in provider.domains:
            if domain.wildcard:
                losses.append(f"{provider.id}: wildcard domain {domain} is not exported")
            if domain.redirect is not None:
                losses.append(f"{provider.id}: the redirect of domain {domain} is not exported")
        if provider.redirect is not None:
            losses.append(f"{provider.id}: the provider's redirect is not exported")
        if not provider.has_settings:
            losses.append(f"{provider.id}: has no servers, so its file is not usable ISPDB")
    return tuple(losses)


def export_providers(providers: Sequence[Provider], directory: Path) -> list[Path]:
    """Write `<id>.xml` per provider in ISPDB form; return the paths in provider order.

    Ids are host-name-like and unique (the loader makes sure), so they make safe file names; a
    provider built some other way with an id that is not is refused rather than written elsewhere.
    """
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
