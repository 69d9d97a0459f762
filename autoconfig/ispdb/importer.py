"""ISPDB drafts placed together into one providers.yaml text, with every note.

Files are read in the order given. A domain or id that an earlier file brought stays with that
file, and the later provider loses it, with a note. A file that is not ISPDB at all is reported and
skipped, and the rest is imported. Every provider is checked by the loader itself before it is
written, so the result always passes `autoconfig check`. The YAML looks like the README's
examples, and each provider has its notes written above it as comments.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config.diagnostics import ConfigInvalid
from ..config.loader import parse_providers
from ..config.spec import MAX_SHORT_NAME
from .reader import Draft, ImportNote, Unusable, read_draft


@dataclass(frozen=True)
class ImportResult:
    """The providers.yaml text, every note, the provider ids written and the files skipped."""

    yaml_text: str
    notes: tuple[ImportNote, ...]
    imported: tuple[str, ...]
    skipped: tuple[str, ...]


class _Flow(list[str]):
    """A list written on one line in YAML: `authentication: [OAuth2, password-cleartext]`."""


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key, as the README's examples are."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "%" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(value), flow_style=True)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(_Flow, _represent_flow)


def _as_written(server: dict[str, Any]) -> dict[str, Any]:
    """A server as the README writes one: one method plain, several on one line."""
    methods = server["authentication"]
    return {**server, "authentication": methods[0] if len(methods) == 1 else _Flow(methods)}


def _dump(value: Any) -> str:
    return yaml.dump(
        value,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,
    )


def _comment(text: str) -> str:
    """Text that fits on a comment line whatever a file name or message holds."""
    return " ".join(text.split())


@dataclass
class _Claims:
    """What earlier files put into the result: domains and ids are unique across providers."""

    domains: dict[str, tuple[str, int]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def _names(draft: Draft, provider_id: str) -> tuple[str, str | None]:
    """displayName and displayShortName that the loader accepts, with a note for anything made up.

    A missing or too long name is never shortened: a made-up one is clearly labelled, so the admin
    sees it in the notes and can write a real one.
    """
    candidates = [provider_id, *(entry.key for entry in draft.domains)]
    display = draft.display_name
    if display is None:
        display = draft.short_name or provider_id
        draft.notes.append(
            ImportNote(
                draft.file,
                draft.display_line,
                f"no usable <displayName>: {display!r} is written instead, edit it",
            )
        )
    short = draft.short_name
    if short is None and len(display) > MAX_SHORT_NAME:
        short = next((c for c in candidates if len(c) <= MAX_SHORT_NAME), None)
        if short is None:
            raise Unusable(
                draft.display_line,
                f"displayName is over {MAX_SHORT_NAME} characters and there is no usable "
                "displayShortName, nor an id or domain short enough to stand in: skipped",
            )
        draft.notes.append(
            ImportNote(
                draft.file,
                draft.display_line,
                f"displayName is over {MAX_SHORT_NAME} characters and there is no usable "
                f"displayShortName: {short!r} is written instead, edit it",
            )
        )
    return display, short


def _place(draft: Draft, claims: _Claims) -> dict[str, Any]:
    """The provider's providers.yaml mapping, once the domains and id of earlier files are known."""
    domains = []
    for entry in draft.domains:
        if entry.key in claims.domains:
            other_file, other_line = claims.domains[entry.key]
            draft.notes.append(
                ImportNote(
                    draft.file,
                    entry.line,
                    f"domain {entry.text} not imported: it is already imported from "
                    f"{other_file}:{other_line}",
                )
            )
        else:
            domains.append(entry)
    if not domains:
        raise Unusable(draft.line, "every domain is already imported from other files: skipped")
    draft.domains = domains

    provider_id = draft.id
    if provider_id is not None and provider_id.lower() in claims.ids:
        other = claims.ids[provider_id.lower()]
        replacement = next((d.key for d in domains if d.key not in claims.ids), None)
        if replacement is None:
            number = 2
            while f"{provider_id.lower()}-{number}" in claims.ids:
                number += 1
            replacement = f"{provider_id.lower()}-{number}"
        draft.notes.append(
            ImportNote(
                draft.file,
                draft.id_line,
                f"id {provider_id!r} is already the id of the provider from {other}: "
                f"{replacement!r} is written instead",
            )
        )
        provider_id = replacement
    elif provider_id is None:
        provider_id = next((d.key for d in domains if d.key not in claims.ids), None)
        if provider_id is None:
            raise Unusable(draft.id_line, "no usable id, and every domain is taken as one")
        draft.notes.append(
            ImportNote(draft.file, draft.id_line, f"id {provider_id!r} is written instead")
        )

    display, short = _names(draft, provider_id)
    mapping: dict[str, Any] = {"id": provider_id, "displayName": display}
    if short is not None:
        mapping["displayShortName"] = short
    mapping["domains"] = [entry.text for entry in domains]
    mapping["incoming"] = [_as_written(server) for server in draft.incoming]
    mapping["outgoing"] = [_as_written(server) for server in draft.outgoing]
    if draft.documentation:
        mapping["documentation"] = draft.documentation
    if draft.webmail is not None:
        mapping["webMail"] = draft.webmail
    if draft.oauth2 is not None:
        mapping["oAuth2"] = draft.oauth2
    return mapping


def _check(mapping: dict[str, Any], draft: Draft) -> None:
    """Let the loader itself judge the provider, so that the written file passes `check`."""
    try:
        parse_providers(_dump({"providers": [mapping]}), draft.file)
    except ConfigInvalid as exc:
        problems = "; ".join(f"{error.path}: {error.message}" for error in exc.errors)
        raise Unusable(draft.line, f"providers.yaml would refuse it ({problems}): skipped") from exc


def _files_in(directory: Path) -> list[Path]:
    """ISPDB files of a folder: `*.xml`, and files without extension that hold XML.

    The ISPDB repository names some files after the domain alone (`aol.com`), so the name cannot
    tell; a look at the first byte keeps READMEs and notes out.
    """
    found = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.name.lower().endswith(".xml"):
            found.append(path)
            continue
        try:
            with path.open("rb") as stream:
                head = stream.read(64)
        except OSError:
            continue
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            found.append(path)
    return found


def _expand(paths: Sequence[Path], notes: list[ImportNote], skipped: list[str]) -> list[Path]:
    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = _files_in(path)
            if not candidates:
                notes.append(ImportNote(str(path), None, "the folder holds no ISPDB files"))
        elif path.exists():
            candidates = [path]
        else:
            notes.append(ImportNote(str(path), None, "does not exist: skipped"))
            skipped.append(str(path))
            continue
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved in seen:
                notes.append(ImportNote(str(candidate), None, "is given twice: read once"))
                continue
            seen.add(resolved)
            files.append(candidate)
    return files


def _header(files: Iterable[Path], skipped: Sequence[str]) -> list[str]:
    lines = [
        "# Imported from ISPDB files (config-v1.1.xml) by `autoconfig import-ispdb`.",
        "# Whatever providers.yaml cannot express is listed under each provider; check the",
        "# result with `autoconfig check` and review the notes before serving it.",
        "# Source files:",
        *(f"#   {_comment(str(path))}" for path in files),
    ]
    if skipped:
        lines.append("# Skipped (see the import notes):")
        lines.extend(f"#   {_comment(name)}" for name in skipped)
    return [*lines, ""]


def _provider_block(mapping: dict[str, Any], draft: Draft) -> list[str]:
    lines = [f"  # from {_comment(draft.file)}"]
    for note in draft.notes:
        where = f"line {note.line}: " if note.line is not None else ""
        lines.append(f"  #   {where}{_comment(note.message)}")
    lines.extend(f"  {line}" if line else line for line in _dump([mapping]).splitlines())
    return lines


def _by_line(notes: list[ImportNote]) -> list[ImportNote]:
    """A file's notes in the order an admin reads the file."""
    return sorted(notes, key=lambda note: note.line or 0)


def import_files(paths: Sequence[Path]) -> ImportResult:
    """ISPDB files, or folders of them, as one providers.yaml text, with every note.

    Files are read in the order given (a folder's files sorted by name). A domain or id that an
    earlier file already brought stays with that file; the later provider loses it, with a note.
    """
    notes: list[ImportNote] = []
    skipped: list[str] = []
    files = _expand(paths, notes, skipped)
    claims = _Claims()
    blocks: list[str] = []
    imported: list[str] = []
    for path in files:
        draft: Draft | None = None
        try:
            draft = read_draft(path)
            mapping = _place(draft, claims)
            _check(mapping, draft)
        except Unusable as exc:
            notes.extend(_by_line(draft.notes if draft is not None else exc.notes))
            notes.append(ImportNote(str(path), exc.line, exc.message))
            skipped.append(str(path))
            continue
        draft.notes = _by_line(draft.notes)
        notes.extend(draft.notes)
        for entry in draft.domains:
            claims.domains[entry.key] = (draft.file, entry.line)
        claims.ids[mapping["id"].lower()] = draft.file
        imported.append(mapping["id"].lower())
        blocks.extend(_provider_block(mapping, draft))
        blocks.append("")
    lines = _header(files, skipped)
    if blocks:
        lines.append("providers:")
        lines.extend(blocks)
    else:
        lines.append("providers: []")
    text = "\n".join(lines).rstrip("\n") + "\n"
    return ImportResult(text, tuple(notes), tuple(imported), tuple(skipped))
