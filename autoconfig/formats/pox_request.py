"""Reading Autodiscover POX requests from the internet without trusting them.

The parser resolves no entities, loads no DTD, touches no network and refuses any document that
declares a DTD at all, so entity bombs and external entities (file or http) have nothing to work
with; the web layer caps the body size before it gets here. Elements are matched by local name
because real clients differ in how carefully they namespace their requests. The one shape real
clients send is read without the parser (`_common_request`); everything else goes through it.

Two families of clients POST to the same URL and are told apart by the response schema they
accept: Outlook (POX, [MS-OXDSCLI]) and Exchange ActiveSync devices ("mobilesync", [MS-ASCMD]).
A request that names no schema gets the one of its own request namespace, Outlook's by default.
"""

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from lxml import etree

from . import mobilesync
from .hardened_xml import mentions_doctype, reused_parser
from .outlook import OUTLOOK_NS, ErrorCode
from .outlook import REQUEST_NS as OUTLOOK_REQUEST_NS


class Family(StrEnum):
    """Which answer format a request asks for."""

    OUTLOOK = "outlook"
    MOBILESYNC = "mobilesync"


SCHEMA_FAMILIES = {OUTLOOK_NS: Family.OUTLOOK, mobilesync.RESPONSE_NS: Family.MOBILESYNC}
ACCEPTED_SCHEMAS = frozenset(SCHEMA_FAMILIES)


class AutodiscoverRequest(NamedTuple):
    """What a request asks for (a named tuple: one is made per request)."""

    email: str
    response_schema: str

    @property
    def family(self) -> Family:
        return SCHEMA_FAMILIES[self.response_schema]


class AutodiscoverRequestError(Exception):
    """A request that gets an Autodiscover error answer; `reason` goes to DebugData."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _local_name(element: etree._Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    """The first child called `name` in any namespace, or none (lxml's `{*}` wildcard)."""
    return parent.find(f"{{*}}{name}")


def _default_schema(root: etree._Element) -> str:
    if etree.QName(root).namespace == mobilesync.REQUEST_NS:
        return mobilesync.RESPONSE_NS
    return OUTLOOK_NS


_REQUEST_NAMESPACE_SCHEMAS = {
    OUTLOOK_REQUEST_NS: OUTLOOK_NS,
    mobilesync.REQUEST_NS: mobilesync.RESPONSE_NS,
}
"""The request namespaces the recognizer accepts, with the schema `_default_schema` gives each."""


def _alternatives(texts: Iterable[str]) -> bytes:
    return b"|".join(re.escape(text.encode("ascii")) for text in sorted(texts))


_COMMON_REQUEST = re.compile(
    rb"""
    (?: <\?xml [ \t\r\n]+ version [ \t\r\n]*=[ \t\r\n]* (?P<q1>["']) 1\.0 (?P=q1)
        (?: [ \t\r\n]+ encoding [ \t\r\n]*=[ \t\r\n]* (?P<q2>["']) [Uu][Tt][Ff]-8 (?P=q2) )?
        [ \t\r\n]* \?> )?
    [ \t\r\n]* <Autodiscover [ \t\r\n]+ xmlns [ \t\r\n]*=[ \t\r\n]*
        (?P<q3>["']) (?P<ns> NAMESPACES ) (?P=q3) [ \t\r\n]* >
    [ \t\r\n]* <Request [ \t\r\n]* >
    [ \t\r\n]* <EMailAddress [ \t\r\n]* >
        [ \t\r\n]* (?P<email> [\x21-\x25\x27-\x3b\x3d\x3f-\x7e]+ ) [ \t\r\n]*
        </EMailAddress [ \t\r\n]* >
    (?: [ \t\r\n]* <AcceptableResponseSchema [ \t\r\n]* >
        (?P<schema> SCHEMAS )
        </AcceptableResponseSchema [ \t\r\n]* > )?
    [ \t\r\n]* </Request [ \t\r\n]* >
    [ \t\r\n]* </Autodiscover [ \t\r\n]* >
    [ \t\r\n]*
    """.replace(b"NAMESPACES", _alternatives(_REQUEST_NAMESPACE_SCHEMAS)).replace(
        b"SCHEMAS", _alternatives(ACCEPTED_SCHEMAS)
    ),
    re.VERBOSE,
)
"""The one shape `_common_request` reads (verbose: spaces outside [] are not part of it).

The address is printable ASCII but whitespace, `<`, `&` and `>`: no markup, no reference and
no `]]>` can be in it, and the whitespace around it is what the lxml path strips.
"""


_SCHEMA_TEXT = {schema.encode("ascii"): schema for schema in ACCEPTED_SCHEMAS}
_DEFAULT_SCHEMA = {ns.encode("ascii"): schema for ns, schema in _REQUEST_NAMESPACE_SCHEMAS.items()}
"""The schema texts, found by their bytes: no decoding per request."""


def _common_request(body: bytes) -> AutodiscoverRequest | None:
    """The request, if `body` has the exact shape Outlook and ActiveSync clients send; else none.

    Under load the lxml parse (with the DOCTYPE scan and tree walk around it) was most of what a
    POX request cost, although nearly every request is the same few hundred bytes. This
    recognizer reads that one shape with a single anchored regular expression: an optional
    `<?xml version="1.0" encoding="utf-8"?>`, `Autodiscover` in the Outlook or mobilesync request
    namespace (a default `xmlns` and no other attribute), `Request`, `EMailAddress`, optionally
    one accepted `AcceptableResponseSchema`, in that order, with XML whitespace between.

    It cannot weaken the hardening: it only recognizes a subset of documents that have no DTD,
    no entity or character references, no CDATA, comments or processing instructions (no `&`
    or `<!` can match anywhere, and `<?` only as the declaration at byte 0), in UTF-8/ASCII only.
    For each of them the hardened parser gives the same answer, which the tests check
    (tests/test_pox_fast_parse.py). Anything else returns None and goes to `_parse_with_lxml`.
    """
    match = _COMMON_REQUEST.fullmatch(body)
    if match is None:
        return None
    email, schema, namespace = match.group("email", "schema", "ns")
    return AutodiscoverRequest(
        email.decode("ascii"),
        _SCHEMA_TEXT[schema] if schema is not None else _DEFAULT_SCHEMA[namespace],
    )


def parse_request(body: bytes) -> AutodiscoverRequest:
    """The address and response schema a client asks for, or AutodiscoverRequestError."""
    return _common_request(body) or _parse_with_lxml(body)


def _parse_with_lxml(body: bytes) -> AutodiscoverRequest:
    """Any request, through the hardened parser: what `parse_request` does for all others."""
    if not body.strip():
        raise AutodiscoverRequestError(ErrorCode.INVALID_REQUEST, "the request body is empty")
    if mentions_doctype(body):
        raise AutodiscoverRequestError(ErrorCode.INVALID_REQUEST, "DTDs are not accepted")
    try:
        root = etree.fromstring(body, reused_parser())
    except etree.XMLSyntaxError as exc:
        raise AutodiscoverRequestError(
            ErrorCode.INVALID_REQUEST, "the request is not well-formed XML"
        ) from exc
    if root.getroottree().docinfo.doctype:
        raise AutodiscoverRequestError(ErrorCode.INVALID_REQUEST, "DTDs are not accepted")
    if _local_name(root) != "Autodiscover":
        raise AutodiscoverRequestError(ErrorCode.INVALID_REQUEST, "the root is not Autodiscover")
    request = _child(root, "Request")
    if request is None:
        raise AutodiscoverRequestError(ErrorCode.INVALID_REQUEST, "there is no Request element")
    email = _child(request, "EMailAddress")
    if email is None or not (email.text or "").strip():
        raise AutodiscoverRequestError(ErrorCode.INVALID_REQUEST, "there is no EMailAddress")
    schema_element = _child(request, "AcceptableResponseSchema")
    schema = (schema_element.text or "").strip() if schema_element is not None else ""
    schema = schema or _default_schema(root)
    if schema not in ACCEPTED_SCHEMAS:
        raise AutodiscoverRequestError(
            ErrorCode.SCHEMA_NOT_SUPPORTED,
            "the response schemas served are Outlook 2006a and mobilesync 2006",
        )
    return AutodiscoverRequest(email=(email.text or "").strip(), response_schema=schema)
