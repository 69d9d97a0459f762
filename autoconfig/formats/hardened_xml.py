"""One hardened XML parser for every document that comes from outside.

Autodiscover requests come from the internet; ISPDB files and the answers the doctor fetches come
from other people's servers. All are parsed the same way: no entity resolution, no DTD loading,
no network access, libxml2's size limits kept (no huge_tree), comments and processing
instructions dropped. Callers also refuse any document that declares a DTD at all.
"""

import threading
from typing import Any

from lxml import etree

_DOCTYPE_MARKS = tuple(
    "<!DOCTYPE".encode(codec)
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


class _NothingExternal(etree.Resolver):
    """Answers every external reference (DTD subset, parameter entity, XInclude) with nothing.

    resolve_entities=False, load_dtd=False and no_network=True still let libxml2 open a local
    file named as the external DTD subset or by a parameter entity; a resolver is asked first,
    so no file is ever opened.
    """

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        return self.resolve_string("", context)


def hardened_parser() -> etree.XMLParser:
    """A fresh parser (lxml parsers keep state between documents; never share one)."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    parser.resolvers.add(_NothingExternal())
    return parser


def mentions_doctype(body: bytes) -> bool:
    """Whether raw bytes hold a document type declaration, in any encoding XML allows.

    Checked before parsing, so that nothing a DTD names is even looked at. Only UTF-16 and
    UTF-32 text has NUL bytes, so most bodies need one search.
    """
    if b"\x00" not in body:
        return _DOCTYPE_MARKS[0] in body
    return any(mark in body for mark in _DOCTYPE_MARKS)


_per_thread = threading.local()


def reused_parser() -> etree.XMLParser:
    """This thread's hardened parser, made once: building one costs as much as a small parse.

    A parser must not be used by two threads at once, hence one per thread; parsing a new
    document resets it, so nothing of one request reaches the next.
    """
    parser = getattr(_per_thread, "parser", None)
    if parser is None:
        parser = _per_thread.parser = hardened_parser()
    return parser
