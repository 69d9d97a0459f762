"""Reading Autodiscover POX requests from the internet without trusting them.

The parser resolves no entities, loads no DTD, touches no network and refuses any document that
declares a DTD at all, so entity bombs and external entities (file or http) have nothing to work
with; the web layer caps the body size before it gets here. Elements are matched by local name
because real clients differ in how carefully they namespace their requests.

Two families of clients POST to the same URL and are told apart by the response schema they
accept: Outlook (POX, [MS-OXDSCLI]) and Exchange ActiveSync devices ("mobilesync", [MS-ASCMD]).
A request that names no schema gets the one of its own request namespace, Outlook's by default.
"""

from dataclasses import dataclass
from enum import StrEnum

from lxml import etree

from .formats import mobilesync
from .formats.outlook import OUTLOOK_NS, ErrorCode
from .xmlsafe import mentions_doctype, reused_parser


class Family(StrEnum):
    """Which answer format a request asks for."""

    OUTLOOK = "outlook"
    MOBILESYNC = "mobilesync"


SCHEMA_FAMILIES = {OUTLOOK_NS: Family.OUTLOOK, mobilesync.RESPONSE_NS: Family.MOBILESYNC}
ACCEPTED_SCHEMAS = frozenset(SCHEMA_FAMILIES)


@dataclass(frozen=True, slots=True)
class AutodiscoverRequest:
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


def parse_request(body: bytes) -> AutodiscoverRequest:
    """The address and response schema a client asks for, or AutodiscoverRequestError."""
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
