"""Building and serialising the XML answers: one way for every XML format.

Each format writes elements in one namespace (or none) and serialises the whole document with an
explicit declaration, because clients compare the declaration's spelling of the encoding
(Thunderbird's files say `UTF-8`, Microsoft's `utf-8`) and some read the first line only.
"""

from collections.abc import Callable

from lxml import etree

Add = Callable[..., etree._Element]
"""`add(parent, tag, text=None, **attributes)`: a child element, with text when given."""


def adder(namespace: str | None = None) -> Add:
    """The element maker of a format whose elements are all in `namespace` (or in none)."""
    prefix = f"{{{namespace}}}" if namespace else ""

    def add(
        parent: etree._Element, tag: str, text: str | None = None, **attributes: str
    ) -> etree._Element:
        element = etree.SubElement(parent, prefix + tag, attributes)
        if text is not None:
            element.text = text
        return element

    return add


def serialize(root: etree._Element, encoding: str) -> bytes:
    """The document, indented, after a declaration that spells `encoding` as given."""
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode("ascii")
    return declaration + etree.tostring(root, encoding=encoding, pretty_print=True)


def scope(namespace: str, tag: str, parent: etree._Element | None = None) -> etree._Element:
    """An element that declares `namespace` as the default one (`xmlns="..."`), as the root or
    under `parent`: no prefixes anywhere, because some clients match raw tag names."""
    name = f"{{{namespace}}}{tag}"
    if parent is None:
        return etree.Element(name, nsmap={None: namespace})
    return etree.SubElement(parent, name, nsmap={None: namespace})
