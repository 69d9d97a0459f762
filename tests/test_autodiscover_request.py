"""The POX request parser: which family a request asks for, and what it refuses."""

import pytest

from autoconfig.formats.outlook import ErrorCode
from autoconfig.formats.pox_request import (
    AutodiscoverRequestError,
    Family,
    parse_request,
)

OUTLOOK_REQUEST = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
OUTLOOK_RESPONSE = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MOBILE_REQUEST = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
MOBILE_RESPONSE = (
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
)


def body(namespace: str | None, schema: str | None, address: str = "a@example.com") -> bytes:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    wanted = (
        f"<AcceptableResponseSchema>{schema}</AcceptableResponseSchema>"
        if schema is not None
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover{xmlns}><Request>'
        f"<EMailAddress>{address}</EMailAddress>{wanted}</Request></Autodiscover>"
    ).encode()


@pytest.mark.parametrize(
    ("namespace", "schema", "family"),
    [
        (OUTLOOK_REQUEST, OUTLOOK_RESPONSE, Family.OUTLOOK),
        (OUTLOOK_REQUEST, None, Family.OUTLOOK),
        (OUTLOOK_REQUEST, "", Family.OUTLOOK),
        (None, None, Family.OUTLOOK),
        (MOBILE_REQUEST, MOBILE_RESPONSE, Family.MOBILESYNC),
        (MOBILE_REQUEST, f"  {MOBILE_RESPONSE}\n", Family.MOBILESYNC),
        (MOBILE_REQUEST, None, Family.MOBILESYNC),
        (OUTLOOK_REQUEST, MOBILE_RESPONSE, Family.MOBILESYNC),
        (None, MOBILE_RESPONSE, Family.MOBILESYNC),
        (MOBILE_REQUEST, OUTLOOK_RESPONSE, Family.OUTLOOK),
    ],
)
def test_the_response_schema_decides_the_family(namespace, schema, family) -> None:
    parsed = parse_request(body(namespace, schema))
    assert parsed.family is family
    assert parsed.email == "a@example.com"


@pytest.mark.parametrize(
    "schema",
    [
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006",
        "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006a",
        MOBILE_RESPONSE.upper(),
        "http://example.invalid/schema",
    ],
)
@pytest.mark.parametrize("namespace", [OUTLOOK_REQUEST, MOBILE_REQUEST])
def test_other_schemas_are_601(namespace, schema) -> None:
    with pytest.raises(AutodiscoverRequestError) as caught:
        parse_request(body(namespace, schema))
    assert caught.value.code is ErrorCode.SCHEMA_NOT_SUPPORTED
    assert "mobilesync" in caught.value.reason


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<Autodiscover",
        body(MOBILE_REQUEST, MOBILE_RESPONSE, address=""),
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]>' + body(MOBILE_REQUEST, None)[38:],
        f'<Request xmlns="{MOBILE_REQUEST}"/>'.encode(),
    ],
    ids=["empty", "truncated", "no-address", "dtd", "wrong-root"],
)
def test_malformed_mobilesync_requests_are_600(data) -> None:
    with pytest.raises(AutodiscoverRequestError) as caught:
        parse_request(data)
    assert caught.value.code is ErrorCode.INVALID_REQUEST
