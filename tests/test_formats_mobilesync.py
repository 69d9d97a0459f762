"""ActiveSync Autodiscover answers, parsed, checked against the providers behind them and against
Microsoft's own XSDs ([MS-ASCMD] 6.2 / 6.4)."""

import pytest
import yaml
from lxml import etree

from autoconfig.address import parse_address
from autoconfig.config.loader import load_providers
from autoconfig.formats import mobilesync, outlook

from .conftest import BUNDLED, DATA, VARIED
from .ms_ascmd import assert_valid, load_schema, optional_schema

ACTIVESYNC = DATA / "activesync.yaml"
BASE = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
MS = "{http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006}"
PROVIDERS = {p.id: p for path in (BUNDLED, VARIED, ACTIVESYNC) for p in load_providers(path)}


def declared_activesync(path, provider_id: str) -> str | None:
    """The activeSync URL exactly as providers.yaml writes it (plain or {url, username} form)."""
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]:
        if entry["id"] == provider_id:
            value = entry.get("activeSync")
            return value["url"] if isinstance(value, dict) else value
    raise KeyError(provider_id)


WITH_ACTIVESYNC = [
    (BUNDLED, "groupware.example.org", "anna@groupware.example.org"),
    (ACTIVESYNC, "sync.example", "bob@sync.example"),
    (ACTIVESYNC, "sync.example", "Carl.Dee@Shop.Tenants.SYNC.example"),
    (ACTIVESYNC, "sync.example", '"a<b>&c"@sync.example'),
    (ACTIVESYNC, "sync.example", "jörg@sync.example"),
]


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema | None:
    return optional_schema()


def _server(body: bytes) -> dict[str, str | None]:
    (server,) = etree.fromstring(body).iterfind(f"{MS}Response/{MS}Action/{MS}Settings/{MS}Server")
    return {child.tag.removeprefix(MS): child.text for child in server}


@pytest.mark.parametrize(("path", "provider_id", "text"), WITH_ACTIVESYNC)
def test_settings_carry_the_declared_activesync_url(path, provider_id, text, schema) -> None:
    url = declared_activesync(path, provider_id)
    address = parse_address(text)
    body = mobilesync.render_settings(mobilesync.activesync_url(PROVIDERS[provider_id]), address)
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert_valid(schema, body)
    root = etree.fromstring(body)
    assert root.tag == f"{BASE}Autodiscover"
    (response,) = root
    assert response.tag == f"{MS}Response"
    assert [child.tag.removeprefix(MS) for child in response] == ["Culture", "User", "Action"]
    assert response.findtext(f"{MS}Culture") == "en:us"
    user = response.find(f"{MS}User")
    assert [child.tag.removeprefix(MS) for child in user] == ["EMailAddress"]
    assert user.findtext(f"{MS}EMailAddress") == text
    assert _server(body) == {"Type": "MobileSync", "Url": url, "Name": url}


def test_only_default_namespaces_are_used() -> None:
    """Clients that match raw tag names (as some Autodiscover readers do) see plain names."""
    address = parse_address("a@groupware.example.org")
    body = mobilesync.compile_provider(PROVIDERS["groupware.example.org"]).fill(address)
    assert {p for e in etree.fromstring(body).iter() for p in e.nsmap} == {None}
    assert b"<Type>MobileSync</Type>" in body


@pytest.mark.parametrize(("path", "provider_id", "text"), WITH_ACTIVESYNC)
def test_compiled_template_gives_the_same_bytes(path, provider_id, text) -> None:
    provider = PROVIDERS[provider_id]
    address = parse_address(text)
    compiled = mobilesync.compile_provider(provider)
    assert compiled is not None
    expected = mobilesync.render_settings(mobilesync.activesync_url(provider), address)
    assert compiled.fill(address) == expected
    assert compiled.fill(address) == compiled.fill(address)


def test_special_characters_in_the_address_are_escaped_not_injected() -> None:
    address = parse_address('"</EMailAddress><x>"@sync.example')
    body = mobilesync.compile_provider(PROVIDERS["sync.example"]).fill(address)
    root = etree.fromstring(body)
    assert root.findtext(f"{MS}Response/{MS}User/{MS}EMailAddress") == str(address)
    assert root.find(f".//{MS}x") is None


@pytest.mark.parametrize("provider_id", ["example.com", "hosting.example.org", "nosync.example"])
def test_providers_without_activesync_compile_to_nothing(provider_id) -> None:
    provider = PROVIDERS[provider_id]
    assert provider.service("activeSync") is None
    assert mobilesync.activesync_url(provider) is None
    assert mobilesync.compile_provider(provider) is None


def test_redirect_names_the_new_address(schema) -> None:
    body = mobilesync.render_redirect(
        parse_address("carol@moved.sync.example"), "carol@sync.example"
    )
    assert_valid(schema, body)
    response = etree.fromstring(body).find(f"{MS}Response")
    assert response.findtext(f"{MS}User/{MS}EMailAddress") == "carol@moved.sync.example"
    (action,) = response.findall(f"{MS}Action")
    assert [child.tag.removeprefix(MS) for child in action] == ["Redirect"]
    assert action.findtext(f"{MS}Redirect") == "carol@sync.example"


@pytest.mark.parametrize(
    ("problem", "domain", "message"),
    [
        (
            mobilesync.Problem.NO_ACTIVESYNC,
            "example.com",
            "ActiveSync is not offered for example.com.",
        ),
        (
            mobilesync.Problem.UNKNOWN_DOMAIN,
            "unknown.example",
            "No settings are published here for unknown.example.",
        ),
    ],
)
def test_no_activesync_is_a_provider_error_with_status_2(problem, domain, message, schema) -> None:
    address = parse_address(f"dana@{domain}")
    body = mobilesync.render_error(address, problem, domain)
    assert_valid(schema, body)
    response = etree.fromstring(body).find(f"{MS}Response")
    assert response.findtext(f"{MS}Culture") == "en:us"
    assert response.findtext(f"{MS}User/{MS}EMailAddress") == str(address)
    (error,) = response.findall(f"{MS}Action/{MS}Error")
    assert {child.tag.removeprefix(MS): child.text for child in error} == {
        "Status": "2",
        "Message": message,
        "DebugData": problem.value,
    }
    assert response.find(f".//{MS}Settings") is None
    assert mobilesync.render_error(address, problem, domain) == body


@pytest.mark.parametrize("code", list(outlook.ErrorCode))
def test_framework_errors_validate_against_the_response_schema(code, schema) -> None:
    """600/601 for ActiveSync clients are the base-namespace Error that [MS-ASCMD] 6.4 allows."""
    body = outlook.render_error(code, "why")
    assert_valid(schema, body)
    assert etree.fromstring(body).findtext(f"{BASE}Response/{BASE}Error/{BASE}ErrorCode") == str(
        int(code)
    )


def test_microsofts_xsds_accept_every_kind_of_answer() -> None:
    """The one test that needs ../shared: it skips with the reason when the XSDs are absent."""
    schema = load_schema()
    address = parse_address("eve@groupware.example.org")
    for body in (
        mobilesync.compile_provider(PROVIDERS["groupware.example.org"]).fill(address),
        mobilesync.render_redirect(address, "eve@example.com"),
        mobilesync.render_error(address, mobilesync.Problem.NO_ACTIVESYNC, "example.com"),
        outlook.render_error(outlook.ErrorCode.INVALID_REQUEST, ""),
    ):
        assert schema.validate(etree.fromstring(body)), schema.error_log.filter_from_errors()
    broken = mobilesync.render_redirect(address, "x").replace(b"<Culture>", b"<Cultures>")
    assert not schema.validate(etree.fromstring(broken.replace(b"</Culture>", b"</Cultures>")))
