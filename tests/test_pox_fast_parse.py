"""The recognizer for the common POX request shape (`_common_request`) against the hardened parser.

`parse_request` reads the shape Outlook and ActiveSync clients send with one regular expression
and leaves every other document to the hardened lxml path (`_parse_with_lxml`). These tests
check that this changes no answer: for every generated body, canonical or nearly so, the outcome
(address and schema, or error code and reason) is the one the lxml path alone gives. They also
check that the recognizer really takes the canonical bodies, so the fast path cannot silently
die, and that no document with a DTD, an entity or a character reference ever goes through it.
"""

import string
from collections.abc import Callable
from xml.sax.saxutils import escape as xml_escape

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains

from autoconfig.formats.mobilesync import REQUEST_NS as MOBILE_REQUEST
from autoconfig.formats.mobilesync import RESPONSE_NS as MOBILE_RESPONSE
from autoconfig.formats.outlook import OUTLOOK_NS as OUTLOOK_RESPONSE
from autoconfig.formats.outlook import REQUEST_NS as OUTLOOK_REQUEST
from autoconfig.formats.pox_request import (
    AutodiscoverRequest,
    AutodiscoverRequestError,
    _common_request,
    _parse_with_lxml,
    parse_request,
)

DEFAULT_SCHEMA = {OUTLOOK_REQUEST: OUTLOOK_RESPONSE, MOBILE_REQUEST: MOBILE_RESPONSE}

MANY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=400, deadline=None)

OUTLOOK_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>\r\n'
    f'<Autodiscover xmlns="{OUTLOOK_REQUEST}">\r\n'
    "  <Request>\r\n"
    "    <EMailAddress>john.doe@example.com</EMailAddress>\r\n"
    f"    <AcceptableResponseSchema>{OUTLOOK_RESPONSE}</AcceptableResponseSchema>\r\n"
    "  </Request>\r\n"
    "</Autodiscover>"
).encode()
"""What Outlook sends ([MS-OXDSCLI] 4.1)."""

ACTIVESYNC_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<Autodiscover xmlns="{MOBILE_REQUEST}"><Request>'
    "<EMailAddress>chris@example.com</EMailAddress>"
    f"<AcceptableResponseSchema>{MOBILE_RESPONSE}</AcceptableResponseSchema>"
    "</Request></Autodiscover>"
).encode()
"""What an ActiveSync device sends ([MS-ASCMD] 4.2.1)."""

SCHEMA_ELEMENT = f"<AcceptableResponseSchema>{MOBILE_RESPONSE}</AcceptableResponseSchema>".encode()


Outcome = tuple[str, object, str]


def outcome(parse: Callable[[bytes], AutodiscoverRequest], body: bytes) -> Outcome:
    try:
        parsed = parse(body)
    except AutodiscoverRequestError as exc:
        return ("error", exc.code, exc.reason)
    return ("ok", parsed.email, parsed.response_schema)


# --- canonical bodies: the shape the recognizer must take --------------------------------------

XML_SPACE = st.text(alphabet=" \t\r\n", max_size=3)
XML_SPACE_1 = st.text(alphabet=" \t\r\n", min_size=1, max_size=3)
QUOTE = st.sampled_from(['"', "'"])
LOCAL_PART = st.text(alphabet=string.ascii_letters + string.digits + "._%+-'!#$", min_size=1)

ADDRESS_CHARS = "".join(
    c for c in string.printable if c not in string.whitespace and c not in "<&>"
)


@st.composite
def utf8_names(draw: st.DrawFn) -> str:
    return "".join(draw(st.sampled_from(pair)) for pair in zip("utf-8", "UTF-8", strict=True))


@st.composite
def declarations(draw: st.DrawFn) -> str:
    """`<?xml version="1.0"?>`, perhaps with encoding UTF-8, in any legal spacing and quoting."""
    if not draw(st.booleans()):
        return ""
    q = draw(QUOTE)
    text = f"<?xml{draw(XML_SPACE_1)}version{draw(XML_SPACE)}={draw(XML_SPACE)}{q}1.0{q}"
    if draw(st.booleans()):
        q = draw(QUOTE)
        encoding = draw(utf8_names())
        text += f"{draw(XML_SPACE_1)}encoding{draw(XML_SPACE)}={draw(XML_SPACE)}{q}{encoding}{q}"
    return text + draw(XML_SPACE) + "?>"


@st.composite
def canonical(draw: st.DrawFn) -> tuple[bytes, AutodiscoverRequest]:
    """A body of the common shape and the request it holds."""
    namespace = draw(st.sampled_from([OUTLOOK_REQUEST, MOBILE_REQUEST]))
    schema = draw(st.sampled_from([OUTLOOK_RESPONSE, MOBILE_RESPONSE, None]))
    address = draw(
        st.one_of(
            st.builds("{}@{}".format, LOCAL_PART, domains()),
            st.text(alphabet=ADDRESS_CHARS, min_size=1, max_size=40),
        )
    )
    ws = lambda: draw(XML_SPACE)  # noqa: E731
    q = draw(QUOTE)
    parts = [
        draw(declarations()),
        ws(),
        f"<Autodiscover{draw(XML_SPACE_1)}xmlns{ws()}={ws()}{q}{namespace}{q}{ws()}>",
        ws(),
        f"<Request{ws()}>",
        ws(),
        f"<EMailAddress{ws()}>{ws()}{address}{ws()}</EMailAddress{ws()}>",
    ]
    if schema is not None:
        parts += [
            ws(),
            f"<AcceptableResponseSchema{ws()}>{schema}</AcceptableResponseSchema{ws()}>",
        ]
    parts += [ws(), f"</Request{ws()}>", ws(), f"</Autodiscover{ws()}>", ws()]
    body = "".join(parts).encode()
    return body, AutodiscoverRequest(
        email=address, response_schema=schema or DEFAULT_SCHEMA[namespace]
    )


def test_the_recognizer_takes_what_outlook_and_activesync_send() -> None:
    assert _common_request(OUTLOOK_BODY) == AutodiscoverRequest(
        "john.doe@example.com", OUTLOOK_RESPONSE
    )
    assert _common_request(ACTIVESYNC_BODY) == AutodiscoverRequest(
        "chris@example.com", MOBILE_RESPONSE
    )
    for body in (OUTLOOK_BODY, ACTIVESYNC_BODY):
        assert outcome(parse_request, body) == outcome(_parse_with_lxml, body)


@SOME
@given(canonical())
def test_the_recognizer_takes_every_canonical_body_as_lxml_reads_it(case) -> None:
    body, wanted = case
    assert _common_request(body) == wanted
    assert outcome(_parse_with_lxml, body) == ("ok", wanted.email, wanted.response_schema)


# --- everything else: canonical, near misses and garbage ----------------------------------------

OTHER_ADDRESSES = [
    "",
    " ",
    "a b@example.com",
    "a\tb@example.com",
    "a&amp;b@example.com",
    "a&#64;example.com",
    "a&#x40;example.com",
    "&lt;a@example.com&gt;",
    "a]]>b@example.com",
    "a]]&gt;b@example.com",
    "<![CDATA[a@example.com]]>",
    " <![CDATA[ a@example.com ]]> ",
    "jöhn@exämple.com",
    "a@example.com\u00a0",
    "\u2003a@example.com",
    "a\x7f@example.com",
    "a\x0b@example.com",
    "a<b/>@example.com",
    "<x>a@example.com</x>",
    "a@example.com<!-- c -->",
    "a@<?pi x?>example.com",
    "&e;",
]


@st.composite
def any_address(draw: st.DrawFn) -> str:
    return draw(
        st.one_of(
            st.sampled_from(OTHER_ADDRESSES),
            st.emails(),
            st.text(alphabet=ADDRESS_CHARS, min_size=1, max_size=20),
            st.text(max_size=20),
            st.text(max_size=20).map(xml_escape),
            st.text(alphabet=ADDRESS_CHARS + " \t\r\n&<>;#", max_size=20),
        )
    )


ANY_SCHEMA = st.one_of(
    st.sampled_from(
        [
            OUTLOOK_RESPONSE,
            MOBILE_RESPONSE,
            None,
            "",
            " ",
            f" {OUTLOOK_RESPONSE}",
            f"{MOBILE_RESPONSE}\n",
            OUTLOOK_RESPONSE.upper(),
            OUTLOOK_RESPONSE[:-1],
            MOBILE_RESPONSE + "a",
            OUTLOOK_RESPONSE.replace("/", "&#47;"),
            MOBILE_RESPONSE.replace("m", "&#x6D;", 1),
            f"<![CDATA[{OUTLOOK_RESPONSE}]]>",
            f"{OUTLOOK_RESPONSE}<!-- x -->",
            "http://example.invalid/schema",
        ]
    ),
    st.text(max_size=10),
)

ANY_NAMESPACE = st.sampled_from(
    [
        OUTLOOK_REQUEST,
        MOBILE_REQUEST,
        None,
        "",
        OUTLOOK_RESPONSE,
        MOBILE_RESPONSE,
        "http://example.invalid/",
        OUTLOOK_REQUEST.replace("/", "&#x2F;"),
        MOBILE_REQUEST.replace("e", "&#101;", 1),
        OUTLOOK_REQUEST + " ",
        " " + MOBILE_REQUEST,
        OUTLOOK_REQUEST.upper(),
    ]
)

ODD_DECLARATIONS = st.sampled_from(
    [
        '<?xml version="1.0" encoding="iso-8859-1"?>',
        '<?xml version="1.0" encoding="us-ascii"?>',
        '<?xml version="1.0" encoding="utf8"?>',
        '<?xml version="1.0" encoding="UTF-16"?>',
        '<?xml version="1.0" encoding="windows-1252"?>',
        '<?xml version="1.0" standalone="yes"?>',
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>',
        '<?xml version="1.1"?>',
        "<?xml version=\"1.0'?>",
        "<?xml version=1.0?>",
        '<?xml encoding="utf-8" version="1.0"?>',
        '<?xml version="1.0"encoding="utf-8"?>',
        '<?XML version="1.0"?>',
        '<?xml  version="1.0" ?>\n<?xml version="1.0"?>',
        '<?xml-stylesheet href="x"?>',
        '\n<?xml version="1.0"?>',
        '<?xml version="1.0"?><!DOCTYPE Autodiscover>',
        '<?xml version="1.0"?><!DOCTYPE Autodiscover SYSTEM "file:///etc/passwd">',
        '<?xml version="1.0"?><!DOCTYPE Autodiscover [<!ENTITY e "a@example.com">]>',
        "<!-- before -->",
        "<?pi before?>",
    ]
)


def _tag(prefix: str | None, name: str) -> str:
    return f"{prefix}:{name}" if prefix else name


ASPECTS = (
    "space",
    "declaration",
    "namespace",
    "prefix",
    "attribute",
    "children",
    "address",
    "schema",
    "mutation",
    "encoding",
    "cut",
)
"""What may go wrong in a generated body; most bodies get none or one or two of these, so that
the common shape and its near misses (which the recognizer must tell apart) both come often."""


@st.composite
def documents(draw: st.DrawFn, wrong: frozenset[str]) -> list[str]:
    """The pieces of a request in the common shape, wrong in the `wrong` aspects, in order."""
    space = st.one_of(XML_SPACE, st.sampled_from(["\x0b", "\x0c", "\u00a0", "\u2003"]))
    ws = lambda: draw(space if "space" in wrong else XML_SPACE)  # noqa: E731
    namespace = draw(
        ANY_NAMESPACE if "namespace" in wrong else st.sampled_from(list(DEFAULT_SCHEMA))
    )
    schema = draw(
        ANY_SCHEMA
        if "schema" in wrong
        else st.sampled_from([OUTLOOK_RESPONSE, MOBILE_RESPONSE, None])
    )
    address = draw(
        any_address()
        if "address" in wrong
        else st.text(alphabet=ADDRESS_CHARS, min_size=1, max_size=20)
    )
    # The namespace may be declared for a prefix that the root does or does not use.
    declared = draw(st.sampled_from(["a", "xmlns", None])) if "prefix" in wrong else None
    prefix = draw(st.sampled_from([declared, None, "a"])) if "prefix" in wrong else None
    q = draw(QUOTE)
    attributes = ""
    if namespace is not None:
        attributes = f" xmlns{':' + declared if declared else ''}={q}{namespace}{q}"
    if "attribute" in wrong:
        attributes += draw(
            st.sampled_from([' x="1"', f' xmlns:b="{MOBILE_REQUEST}"', ' xml:lang="en"'])
        )
    children = None
    if "children" in wrong:
        children = draw(st.sampled_from(["a", "b", prefix]))
        attributes += f' xmlns:b="{OUTLOOK_REQUEST}"' if draw(st.booleans()) else ""
    schema_attribute = draw(st.sampled_from(["", ' a="b"'])) if "attribute" in wrong else ""
    wanted = (
        ""
        if schema is None
        else f"<{_tag(children, 'AcceptableResponseSchema')}{schema_attribute}{ws()}>"
        f"{schema}</{_tag(children, 'AcceptableResponseSchema')}{ws()}>"
    )
    return [
        draw(
            st.one_of(declarations(), ODD_DECLARATIONS)
            if "declaration" in wrong
            else declarations()
        ),
        ws(),
        f"<{_tag(prefix, 'Autodiscover')}{attributes}{ws()}>",
        ws(),
        f"<{_tag(children, 'Request')}{ws()}>",
        ws(),
        f"<{_tag(children, 'EMailAddress')}{ws()}>{ws()}{address}{ws()}"
        f"</{_tag(children, 'EMailAddress')}{ws()}>",
        ws(),
        wanted,
        ws(),
        f"</{_tag(children, 'Request')}{ws()}>",
        ws(),
        f"</{_tag(prefix, 'Autodiscover')}{ws()}>",
        ws(),
    ]


INSERTIONS = [
    "<!-- comment -->",
    "<?pi data?>",
    "<![CDATA[x]]>",
    "<!DOCTYPE Autodiscover>",
    "&amp;",
    "&#32;",
    "<Extra/>",
    "<EMailAddress>x@example.com</EMailAddress>",
    f"<AcceptableResponseSchema>{MOBILE_RESPONSE}</AcceptableResponseSchema>",
    f"<AcceptableResponseSchema>{OUTLOOK_RESPONSE}</AcceptableResponseSchema>",
    "<AcceptableResponseSchema/>",
    "<Request></Request>",
    "garbage",
    "\x00",
    "<",
    "</Request>",
]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Canonical bodies, near misses built from their pieces, and damaged versions of both."""
    wrong = draw(
        st.one_of(
            st.just(frozenset()),
            st.frozensets(st.sampled_from(ASPECTS), min_size=1, max_size=1),
            st.frozensets(st.sampled_from(ASPECTS), min_size=2, max_size=3),
        )
    )
    parts = draw(documents(wrong))
    for _ in range(draw(st.integers(1, 2)) if "mutation" in wrong else 0):
        mutation = draw(st.sampled_from(["insert", "swap", "duplicate", "drop", "upper"]))
        index = draw(st.integers(0, len(parts) - 1))
        if mutation == "insert":
            parts.insert(index, draw(st.sampled_from(INSERTIONS)))
        elif mutation == "swap":
            other = draw(st.integers(0, len(parts) - 1))
            parts[index], parts[other] = parts[other], parts[index]
        elif mutation == "duplicate":
            parts.insert(index, parts[index])
        elif mutation == "drop":
            del parts[index]
        else:
            parts[index] = parts[index].upper()
    text = "".join(parts)
    encoding = "utf-8"
    if "encoding" in wrong:
        encoding = draw(st.sampled_from(["utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]))
    body = text.encode(encoding, errors="replace")
    if "cut" in wrong:
        body = body[: draw(st.integers(0, len(body)))]
    return body


@MANY
@given(bodies())
@example(OUTLOOK_BODY)
@example(ACTIVESYNC_BODY)
@example(OUTLOOK_BODY.replace(b"john.doe@example.com", b"john&#46;doe@example.com"))
@example(OUTLOOK_BODY.replace(b"john.doe@example.com", b" \n john.doe@example.com\t"))
@example(OUTLOOK_BODY.replace(b"john.doe@example.com", b"<![CDATA[john.doe@example.com]]>"))
@example(OUTLOOK_BODY.replace(OUTLOOK_RESPONSE.encode(), b""))
@example(OUTLOOK_BODY.replace(OUTLOOK_RESPONSE.encode(), b" " + OUTLOOK_RESPONSE.encode()))
@example(ACTIVESYNC_BODY.replace(b"<AcceptableResponseSchema>", b"<AcceptableResponseSchema/>", 1))
@example(b"\xef\xbb\xbf" + OUTLOOK_BODY)
@example(b"\n" + OUTLOOK_BODY)
@example(OUTLOOK_BODY[38:])
@example(b"\n" + OUTLOOK_BODY[38:])
@example(OUTLOOK_BODY.decode().encode("utf-16"))
@example(OUTLOOK_BODY + b"<x/>")
@example(OUTLOOK_BODY + b"<!-- after -->")
@example(ACTIVESYNC_BODY.replace(b"xmlns=", b"xmlns:a=").replace(SCHEMA_ELEMENT, b""))
@example(ACTIVESYNC_BODY.replace(b"chris@", "chrïs@".encode()))
@example(OUTLOOK_BODY.replace(b"john.doe@", b"john\xa0doe@"))
def test_parse_request_answers_exactly_as_the_lxml_path(body: bytes) -> None:
    slow = outcome(_parse_with_lxml, body)
    assert outcome(parse_request, body) == slow
    recognized = _common_request(body)
    event(f"recognized: {recognized is not None}; lxml: {slow[0]}")
    if recognized is None:
        return
    assert ("ok", recognized.email, recognized.response_schema) == slow
    # What the recognizer takes has no markup but the common shape.
    assert body.isascii()
    assert b"&" not in body
    assert b"<!" not in body
    assert b"]]>" not in body
    assert b"<?" not in body[1:]


# --- DTDs, entities and references never reach the recognizer -----------------------------------

DANGEROUS = [
    OUTLOOK_BODY.replace(
        b"?>", b'?><!DOCTYPE Autodiscover [<!ENTITY e "x@example.com">]>', 1
    ).replace(b"john.doe@example.com", b"&e;"),
    OUTLOOK_BODY.replace(
        b"?>", b'?><!DOCTYPE Autodiscover [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1
    ).replace(b"john.doe@example.com", b"&e;"),
    OUTLOOK_BODY.replace(
        b"?>", b'?><!DOCTYPE Autodiscover SYSTEM "http://example.invalid/x.dtd">', 1
    ),
    OUTLOOK_BODY.replace(
        b"?>",
        b'?><!DOCTYPE Autodiscover [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        1,
    ),
    OUTLOOK_BODY.replace(
        b"?>",
        b'?><!DOCTYPE Autodiscover [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
        1,
    ).replace(b"john.doe@example.com", b"&b;"),
    OUTLOOK_BODY.replace(b"?>", b"?><!DOCTYPE Autodiscover>", 1),
    OUTLOOK_BODY.replace(b"\r\n<Autodiscover", b"<!DOCTYPE Autodiscover><Autodiscover", 1),
    OUTLOOK_BODY[38:].replace(b"<Autodiscover", b"<!DOCTYPE Autodiscover><Autodiscover", 1),
    OUTLOOK_BODY.replace(b"john.doe@example.com", b"john&amp;doe@example.com"),
    OUTLOOK_BODY.replace(b"john.doe@example.com", b"john.doe&#64;example.com"),
    OUTLOOK_BODY.replace(b"john.doe@example.com", b"john.doe&#x40;example.com"),
    OUTLOOK_BODY.replace(b"john.doe@example.com", b"&unknown;"),
    OUTLOOK_BODY.replace(OUTLOOK_REQUEST.encode(), OUTLOOK_REQUEST.replace("/", "&#47;").encode()),
    OUTLOOK_BODY.replace(
        OUTLOOK_RESPONSE.encode(), OUTLOOK_RESPONSE.replace(".", "&#46;").encode()
    ),
    OUTLOOK_BODY.replace(b"john.doe@example.com", b"<![CDATA[john.doe@example.com]]>"),
    OUTLOOK_BODY.replace(b"<Request>", b"<Request><!-- c -->"),
    OUTLOOK_BODY.replace(b"<Request>", b"<Request><?pi x?>"),
    OUTLOOK_BODY.decode().replace("?>", "?><!DOCTYPE Autodiscover>", 1).encode("utf-16"),
]


@pytest.mark.parametrize("body", DANGEROUS)
def test_dtds_entities_and_references_never_reach_the_recognizer(body: bytes) -> None:
    assert body != OUTLOOK_BODY
    assert _common_request(body) is None
    assert outcome(parse_request, body) == outcome(_parse_with_lxml, body)
    if b"D\x00O\x00C\x00T\x00Y\x00P\x00E" in body or b"DOCTYPE" in body:
        assert outcome(parse_request, body)[2] == "DTDs are not accepted"
