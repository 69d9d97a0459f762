"""Pre-rendered documents with holes, filled per request with escaped values.

A format renders a provider once, with a marker where an address-dependent value goes, and the
result is cut into constant byte strings around the markers. A request then only joins bytes and
escaped values: the cost of building and serialising XML is paid once per catalog, not per request.
The markers use Unicode private-use characters, which the loader refuses in configuration values,
so a marker can never come from an admin's data.
"""

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

_OPEN = "\ue000"
_CLOSE = "\ue001"
_SLOT = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}".encode())
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
"""Escapes for element text, exactly as lxml writes them (slots are never put in attributes)."""


def slot(name: str) -> str:
    """The marker to put in a document where the value called `name` will go."""
    return f"{_OPEN}{name}{_CLOSE}"


def xml_escape(value: str) -> str:
    if "&" in value or "<" in value or ">" in value:
        return value.translate(_XML_ESCAPES)
    return value


@dataclass(frozen=True, slots=True)
class Template:
    """Constant parts around named slots: parts[0] slot[0] parts[1] ... slot[n-1] parts[n]."""

    parts: tuple[bytes, ...]
    slots: tuple[str, ...]
    _format: bytes = field(init=False, repr=False, compare=False)
    """The parts joined by `%s` (their own `%` doubled): one `bytes % tuple` fills them all."""
    _pick: Callable[[Mapping[str, bytes]], tuple[bytes, ...]] = field(
        init=False, repr=False, compare=False
    )
    """Takes the slots' values out of a mapping as a tuple, in slot order, in C."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_format", b"%s".join(p.replace(b"%", b"%%") for p in self.parts))
        if len(self.slots) == 1:
            only = self.slots[0]
            object.__setattr__(self, "_pick", lambda values: (values[only],))
        elif self.slots:
            object.__setattr__(self, "_pick", operator.itemgetter(*self.slots))

    @classmethod
    def from_rendered(cls, document: bytes) -> "Template":
        pieces = _SLOT.split(document)
        return cls(
            parts=tuple(pieces[0::2]),
            slots=tuple(piece.decode("utf-8") for piece in pieces[1::2]),
        )

    def fill_every(self, value: str) -> bytes:
        """The document with every slot given `value`: for templates with one slot name only
        (the Thunderbird answer's domain), where one join replaces the general fill."""
        return xml_escape(value).encode("utf-8").join(self.parts)

    def fill(self, values: Mapping[str, str]) -> bytes:
        """The document with every slot replaced by its XML-escaped value."""
        if not self.slots:
            return self.parts[0]
        encoded = {name: xml_escape(value).encode("utf-8") for name, value in values.items()}
        return self._format % self._pick(encoded)
