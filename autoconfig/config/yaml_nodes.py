"""The node reader: YAML composed into nodes that know their line, read with every error kept.

A providers file is composed, not constructed, so that each value still carries its line, and it
is read node by node: a mistake is reported at `file:line: path` and the reading goes on, so an
admin sees every error of an edit at once. This module knows the shapes (mapping, list, scalar,
text, one of a few choices), describes what it found instead ("must be a whole number, not the
text '993'"), suggests the key that was meant, and records the line of every key and list item it
reads for later messages (`Config.locate`). What a value must look like is rules.py's business.
"""

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .diagnostics import (
    GIVEN_TWICE,
    INVALID_VALUE,
    MISSING,
    NOT_YAML,
    UNKNOWN_KEY,
    WRONG_TYPE,
    ConfigInvalid,
    Diagnostic,
)
from .rules import has_forbidden_characters
from .syntax import reader_error, syntax_error

YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser where PyYAML was built with it (much faster on big files), same nodes;
syntax.py words the errors of both parsers alike."""


class Invalid:
    """Marks a value that was reported as an error, so that later checks stay quiet about it."""


INVALID = Invalid()


@dataclass
class Reader:
    """Walks the composed YAML nodes of one file; errors and key lines go to shared lists."""

    file: str
    constructor: yaml.SafeLoader
    errors: list[Diagnostic] = field(default_factory=list)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def error(self, node: yaml.Node | None, path: str, code: str, message: str) -> Invalid:
        line = node.start_mark.line + 1 if node is not None else None
        self.errors.append(Diagnostic(self.file, line, path, code, message))
        return INVALID

    def mapping(
        self, node: yaml.Node, path: str, allowed: tuple[str, ...]
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            message = f"must be a mapping (key: value), not {_describe(node)}"
            self.error(node, path, WRONG_TYPE, message)
            return None
        entries: dict[str, yaml.Node] = {}
        key_nodes: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                self.error(key_node, path, UNKNOWN_KEY, "keys must be plain names")
            elif key in entries:
                first_line = key_nodes[key].start_mark.line + 1
                message = f"is given twice (first on line {first_line})"
                self.error(key_node, where, GIVEN_TWICE, message)
            elif key not in allowed:
                self.error(key_node, where, UNKNOWN_KEY, _unknown_key_message(key, allowed))
            else:
                entries[key] = value_node
                key_nodes[key] = key_node
                self.lines[(self.file, where)] = key_node.start_mark.line + 1
        return entries

    def required(
        self, fields: dict[str, yaml.Node], node: yaml.Node, path: str, key: str
    ) -> yaml.Node | None:
        """The node of a key the mapping at `node` must have, or None (reported)."""
        if key not in fields:
            self.error(node, f"{path}.{key}", MISSING, "is missing")
            return None
        return fields[key]

    def keyed(
        self, node: yaml.Node, path: str, allowed: tuple[str, ...], key: str
    ) -> tuple[dict[str, yaml.Node], yaml.Node] | None:
        """A mapping that must have `key`: its fields and that key's node, or None (reported)."""
        fields = self.mapping(node, path, allowed)
        if fields is None:
            return None
        found = self.required(fields, node, path, key)
        return None if found is None else (fields, found)

    def sequence(self, node: yaml.Node, path: str) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, path, WRONG_TYPE, f"must be a list, not {_describe(node)}")
            return None
        for index, item in enumerate(node.value):
            self.lines[(self.file, f"{path}[{index}]")] = item.start_mark.line + 1
        return list(node.value)

    def scalar(self, node: yaml.Node, path: str, expected: type | tuple[type, ...]) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return self.wrong_type(node, path, expected)
        try:
            value = self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            return self.error(node, path, NOT_YAML, f"cannot be read: {problem}")
        if (isinstance(value, bool) and bool not in _as_tuple(expected)) or not isinstance(
            value, expected
        ):
            return self.wrong_type(node, path, expected)
        return value

    def wrong_type(self, node: yaml.Node, path: str, expected: type | tuple[type, ...]) -> Invalid:
        message = f"must be {_type_name(expected)}, not {_describe(node)}"
        return self.error(node, path, WRONG_TYPE, message)

    def text(self, node: yaml.Node, path: str) -> str | Invalid:
        """A non-empty string without the characters no configuration value may hold."""
        value = self.scalar(node, path, str)
        if isinstance(value, Invalid):
            return value
        if not value.strip():
            return self.error(node, path, MISSING, "must not be empty")
        if has_forbidden_characters(value):
            message = "must not contain control or private-use characters"
            return self.error(node, path, INVALID_VALUE, message)
        return value

    def checked(
        self, node: yaml.Node, path: str, problem: Callable[[str], str | None]
    ) -> str | Invalid:
        """A text that `problem` (one of rules.py's) finds nothing wrong with."""
        value = self.text(node, path)
        if isinstance(value, Invalid):
            return value
        message = problem(value)
        return value if message is None else self.error(node, path, INVALID_VALUE, message)

    def choice(self, node: yaml.Node, path: str, choices: list[str], what: str) -> str | Invalid:
        """A text that is one of `choices`, spelled exactly; a near miss in letter case is named."""
        value = self.text(node, path)
        if isinstance(value, str) and value not in choices:
            return self.error(node, path, INVALID_VALUE, _choice_message(value, choices, what))
        return value


def _as_tuple(expected: type | tuple[type, ...]) -> tuple[type, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", bool: "true or false"}
    return " or ".join(names.get(kind, kind.__name__) for kind in _as_tuple(expected))


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "empty"
    kind = node.tag.rsplit(":", 1)[-1]
    article = {"str": "the text", "int": "the number", "bool": "the boolean"}.get(kind, kind)
    return f"{article} {node.value!r}" if kind == "str" else f"{article} {node.value}"


def _unknown_key_message(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; allowed here: {', '.join(allowed)}"


def _choice_message(value: str, choices: list[str], what: str) -> str:
    folded = {choice.lower(): choice for choice in choices}
    if value.lower() in folded:
        return f"{value!r} must be spelled {folded[value.lower()]!r}"
    return f"{value!r} is not {what} ({', '.join(choices)})"


def compose(file: str, text: str) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """The root node of a document (None when it holds nothing) and the loader that built it.

    The loader is kept for constructing scalars later; the caller disposes of it. A document that
    is not YAML raises ConfigInvalid with its one error.
    """
    try:
        loader = YAML_LOADER(text)
    except yaml.reader.ReaderError as exc:
        raise ConfigInvalid([reader_error(file, text, exc)]) from exc
    try:
        return loader, loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        loader.dispose()
        raise ConfigInvalid([reader_error(file, text, exc)]) from exc
    except yaml.MarkedYAMLError as exc:
        loader.dispose()
        raise ConfigInvalid([syntax_error(file, text, exc)]) from exc
    except yaml.YAMLError as exc:
        loader.dispose()
        error = Diagnostic(file, None, "", NOT_YAML, f"not valid YAML: {exc}")
        raise ConfigInvalid([error]) from exc
