"""Outlook POX answers, parsed and checked against [MS-OXDSCLI] and the providers behind them."""

import re

import pytest
from lxml import etree

from autoconfig.address import parse_address
from autoconfig.config.loader import load_providers
from autoconfig.formats import outlook
from autoconfig.model import Provider

from .conftest import BUNDLED, VARIED

BASE = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
OUT = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
PROVIDERS = {p.id: p for p in load_providers(BUNDLED) + load_providers(VARIED)}

ADDRESSES = [
    ("example.com", "joe@example.com"),
    ("example.com", "Joe.Bloggs@EXAMPLE.NET"),
    ("example.com", '"a<b>&c"@example.com'),
    ("example.com", "jörg@example.net"),
    ("oauth.example", "anne@bücher.example"),
    ("hoster.example", "info@shop.sites.hoster.example"),
    ("hoster.example", "x%EMAILDOMAIN%y@hoster.example"),
]


def _protocols(root: etree._Element) -> list[dict[str, str | None]]:
    return [
        {child.tag.removeprefix(OUT): child.text for child in p}
        for p in root.iter(f"{OUT}Protocol")
    ]


def _all_prefixes(data: bytes) -> set[str | None]:
    root = etree.fromstring(data)
    return {prefix for element in root.iter() for prefix in element.nsmap}


@pytest.mark.parametrize(("provider_id", "text"), ADDRESSES)
def test_settings_follow_the_provider(provider_id: str, text: str) -> None:
    provider = PROVIDERS[provider_id]
    address = parse_address(text)
    data = outlook.render_settings(provider, address, address.ascii_domain)
    assert data.startswith(b"<?xml")
    root = etree.fromstring(data)
    assert root.tag == f"{BASE}Autodiscover"
    (response,) = root
    assert response.tag == f"{OUT}Response"
    assert _all_prefixes(data) == {None}, "default namespaces only: Delta Chat reads raw tag names"
    assert response.findtext(f"{OUT}User/{OUT}AutoDiscoverSMTPAddress") == text
    (account,) = response.findall(f"{OUT}Account")
    assert account.findtext(f"{OUT}AccountType") == "email"
    assert account.findtext(f"{OUT}Action") == "settings"
    got = _protocols(root)
    servers = [*provider.incoming, *provider.outgoing]
    assert [p["Type"] for p in got] == [s.type.upper() for s in servers]
    local, domain = text.rsplit("@", 1)
    for protocol, server in zip(got, servers, strict=True):
        assert protocol["Server"] == server.hostname.replace("%EMAILDOMAIN%", address.ascii_domain)
        assert protocol["Port"] == str(server.port)
        values = {"EMAILADDRESS": text, "EMAILLOCALPART": local, "EMAILDOMAIN": domain}
        login = re.sub(r"%([A-Z]+)%", lambda m, v=values: v[m.group(1)], server.username)
        assert protocol["LoginName"] == login
        assert protocol["DomainRequired"] == "off"
        assert protocol["SPA"] == ("on" if server.authentication[0].value == "NTLM" else "off")
        plain = server.socket_type.value == "plain"
        assert protocol["SSL"] == ("off" if plain else "on")
        assert (
            protocol["Encryption"]
            == {"SSL": "SSL", "STARTTLS": "TLS", "plain": "None"}[server.socket_type.value]
        )
        assert protocol["AuthRequired"] == ("on" if server.sends_credentials else "off")


def test_placeholder_text_inside_an_address_is_not_expanded_again() -> None:
    address = parse_address("x%EMAILDOMAIN%y@hoster.example")
    data = outlook.render_settings(PROVIDERS["hoster.example"], address, "hoster.example")
    logins = [p["LoginName"] for p in _protocols(etree.fromstring(data))]
    assert logins == ["hoster.example\\x%EMAILDOMAIN%y", "x%EMAILDOMAIN%y@hoster.example"]


@pytest.mark.parametrize(("provider_id", "text"), ADDRESSES)
def test_compiled_template_gives_the_same_bytes(provider_id: str, text: str) -> None:
    provider = PROVIDERS[provider_id]
    address = parse_address(text)
    compiled = outlook.compile_provider(provider)
    assert compiled.fill(address) == outlook.render_settings(
        provider, address, address.ascii_domain
    )


def test_special_characters_are_escaped_not_injected() -> None:
    address = parse_address('"</LoginName><Server>evil</Server>"@example.com')
    data = outlook.compile_provider(PROVIDERS["example.com"]).fill(address)
    root = etree.fromstring(data)
    assert next(p["Server"] for p in _protocols(root)) == "imap.example.com"
    assert root.findtext(f".//{OUT}LoginName") == str(address)


def test_without_an_address_login_names_that_need_one_are_left_out() -> None:
    provider: Provider = PROVIDERS["example.com"]
    root = etree.fromstring(outlook.render_settings(provider, None, "example.com"))
    assert all("LoginName" not in p for p in _protocols(root))
    assert root.find(f".//{OUT}AutoDiscoverSMTPAddress") is None
    assert root.findtext(f".//{OUT}User/{OUT}DisplayName") == provider.display_name


def test_redirect_address() -> None:
    root = etree.fromstring(outlook.render_redirect_address("new@example.org"))
    account = root.find(f"{OUT}Response/{OUT}Account")
    assert account.findtext(f"{OUT}Action") == "redirectAddr"
    assert account.findtext(f"{OUT}RedirectAddr") == "new@example.org"
    assert account.find(f"{OUT}Protocol") is None


@pytest.mark.parametrize("code", list(outlook.ErrorCode))
def test_errors_live_in_the_base_namespace(code: outlook.ErrorCode) -> None:
    root = etree.fromstring(outlook.render_error(code, "why <it> failed"))
    error = root.find(f"{BASE}Response/{BASE}Error")
    assert error is not None
    assert error.findtext(f"{BASE}ErrorCode") == str(int(code))
    assert error.findtext(f"{BASE}Message")
    assert error.findtext(f"{BASE}DebugData") == "why <it> failed"
