"""Autodiscover v2 JSON bodies: parsed, field by field, against the providers behind them."""

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from autoconfig.address import AddressError, parse_address
from autoconfig.config.loader import load_providers
from autoconfig.formats import autodiscover_json
from autoconfig.formats.autodiscover_json import ErrorCode, Protocol
from autoconfig.web.host import HostError, public_base_url

from .conftest import BUNDLED, DATA, VARIED

ACTIVESYNC = DATA / "activesync.yaml"
PROVIDERS = {p.id: p for path in (BUNDLED, VARIED, ACTIVESYNC) for p in load_providers(path)}


def raw_activesync(path, provider_id: str) -> str | None:
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]:
        if entry["id"] == provider_id:
            value = entry.get("activeSync")
            return value["url"] if isinstance(value, dict) else value
    raise KeyError(provider_id)


def parse(body: bytes) -> dict:
    document = json.loads(body)
    assert isinstance(document, dict)
    assert body.isascii(), "non-ASCII is escaped, so no client can mis-decode it"
    return document


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("AutodiscoverV1", Protocol.AUTODISCOVER_V1),
        ("Autodiscoverv1", Protocol.AUTODISCOVER_V1),
        ("AUTODISCOVERV1", Protocol.AUTODISCOVER_V1),
        ("ActiveSync", Protocol.ACTIVESYNC),
        ("activesync", Protocol.ACTIVESYNC),
        ("Ews", None),
        ("Rest", None),
        ("AutodiscoverV2", None),
        (" ActiveSync", None),
        ("", None),
        (None, None),
    ],
)
def test_protocol_names_match_in_any_letter_case(given, expected) -> None:
    assert autodiscover_json.parse_protocol(given) is expected


@pytest.mark.parametrize(
    "base", ["https://autoconfig.example.com", "https://127.0.0.1:8443", "https://[2001:db8::1]"]
)
def test_autodiscover_v1_points_at_the_pox_endpoint(base) -> None:
    body = autodiscover_json.render_autodiscover_v1(autodiscover_json.pox_url(base))
    assert parse(body) == {
        "Protocol": "AutodiscoverV1",
        "Url": f"{base}/autodiscover/autodiscover.xml",
    }
    assert list(parse(body)) == ["Protocol", "Url"]
    assert body == autodiscover_json.render_autodiscover_v1(autodiscover_json.pox_url(base))


@pytest.mark.parametrize(
    ("path", "provider_id"),
    [(BUNDLED, "groupware.example.org"), (ACTIVESYNC, "sync.example")],
)
def test_activesync_is_the_declared_url(path, provider_id) -> None:
    body = autodiscover_json.render_activesync(PROVIDERS[provider_id])
    assert body is not None
    assert parse(body) == {"Protocol": "ActiveSync", "Url": raw_activesync(path, provider_id)}
    assert body == autodiscover_json.render_activesync(PROVIDERS[provider_id])


@pytest.mark.parametrize(
    "provider_id", ["example.com", "hosting.example.org", "oauth.example", "nosync.example"]
)
def test_no_activesync_url_without_a_declared_one(provider_id) -> None:
    assert autodiscover_json.render_activesync(PROVIDERS[provider_id]) is None


def test_serialisation_is_compact_and_in_a_fixed_order() -> None:
    assert autodiscover_json.render_url(Protocol.ACTIVESYNC, "https://a.example/x") == (
        b'{"Protocol":"ActiveSync","Url":"https://a.example/x"}'
    )


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (autodiscover_json.render_protocol_error(None), "InvalidProtocol", "it is missing"),
        (autodiscover_json.render_protocol_error(""), "InvalidProtocol", "it is missing"),
        (autodiscover_json.render_protocol_error("Ews"), "InvalidProtocol", "'Ews' was given"),
        (autodiscover_json.render_missing_address(), "MandatoryParameterMissing", "?Email="),
        (
            autodiscover_json.render_invalid_address("the address has no '@'"),
            "InvalidEmailAddress",
            "no '@'",
        ),
        (autodiscover_json.render_unknown_domain("x.example"), "DomainNotFound", "x.example"),
        (
            autodiscover_json.render_not_offered(Protocol.ACTIVESYNC, "example.com"),
            "ProtocolNotAvailable",
            "ActiveSync is not offered for example.com",
        ),
        (autodiscover_json.render_invalid_host("bad"), "InvalidHost", "Host header"),
    ],
)
def test_errors_have_a_code_and_a_message_a_person_can_act_on(body, code, words) -> None:
    document = parse(body)
    assert list(document) == ["ErrorCode", "ErrorMessage"]
    assert document["ErrorCode"] == code
    assert ErrorCode(code)
    assert words in document["ErrorMessage"]


def test_protocol_errors_list_what_is_served() -> None:
    message = parse(autodiscover_json.render_protocol_error("x"))["ErrorMessage"]
    assert "AutodiscoverV1" in message
    assert "ActiveSync" in message


@pytest.mark.parametrize(
    "given", ['"},"Url":"https://evil.example', "<script>alert(1)</script>", "x" * 5000, "é\u2028"]
)
def test_client_text_in_a_protocol_error_is_reduced_to_letters_and_digits(given) -> None:
    message = parse(autodiscover_json.render_protocol_error(given))["ErrorMessage"]
    quoted = message.split("; ", 1)[1].removesuffix(" was given.")
    assert quoted.startswith("'")
    assert quoted.endswith("'")
    assert quoted[1:-1].isalnum() or quoted == "''"
    assert len(quoted) <= autodiscover_json.MAX_SHOWN_PROTOCOL + 2


def test_non_ascii_text_is_escaped() -> None:
    body = autodiscover_json.render_unknown_domain("bücher.example")
    assert b"\\u00fc" in body
    assert parse(body)["ErrorMessage"] == "No settings are published here for bücher.example."


@settings(max_examples=400, deadline=None)
@given(url=st.text(max_size=120))
def test_the_url_is_written_exactly_as_the_json_encoder_writes_it(url):
    """URLs that need no escaping skip json.dumps; the bytes must not change for any text."""
    body = autodiscover_json.render_url(Protocol.AUTODISCOVER_V1, url)
    expected = json.dumps({"Protocol": "AutodiscoverV1", "Url": url}, separators=(",", ":"))
    assert body == expected.encode("ascii")
    assert json.loads(body)["Url"] == url


_LABEL = st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(labels=st.lists(_LABEL, min_size=1, max_size=6), idn=st.booleans())
def test_the_server_url_built_from_a_domain_is_the_validated_one(labels, idn):
    """The autodiscover.json answer names https://autodiscover.<domain> without re-validating
    the host: for every domain an address can have, that is what validation gives, or the
    name is too long and validation refuses it."""
    domain = ".".join(labels) + (".bücher" if idn else "")
    try:
        address = parse_address(f"someone@{domain}")
    except AddressError:
        return
    host = f"autodiscover.{address.ascii_domain}"
    try:
        validated = public_base_url(None, host)
    except HostError:
        assert len(host) > 253
    else:
        assert len(host) <= 253
        assert validated == f"https://{host}"
