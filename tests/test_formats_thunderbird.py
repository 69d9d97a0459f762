"""The Thunderbird document, parsed and compared field by field with the providers it came from."""

import pytest
from lxml import etree

from autoconfig.formats import thunderbird
from autoconfig.loader import load_providers
from autoconfig.model import Provider

from .conftest import BUNDLED, VARIED

PROVIDERS = load_providers(BUNDLED) + load_providers(VARIED)
SERVED = [p for p in PROVIDERS if p.has_settings]


def _lookups(provider: Provider) -> list[str]:
    """Every exact domain, plus a name under each wildcard."""
    names = list(provider.exact_domains)
    names += [f"shop.{d.name}" for d in provider.domains if d.wildcard]
    return names


CASES = [(p, d) for p in SERVED for d in _lookups(p)]
IDS = [f"{p.id}:{d}" for p, d in CASES]


def _servers(body: etree._Element, tag: str) -> list[dict[str, object]]:
    return [
        {
            "type": el.get("type"),
            "hostname": el.findtext("hostname"),
            "port": int(el.findtext("port")),
            "socketType": el.findtext("socketType"),
            "authentication": [a.text for a in el.findall("authentication")],
            "username": el.findtext("username"),
        }
        for el in body.findall(tag)
    ]


def _expected(servers, domain: str) -> list[dict[str, object]]:
    return [
        {
            "type": s.type,
            "hostname": s.hostname.replace("%EMAILDOMAIN%", domain),
            "port": s.port,
            "socketType": s.socket_type.value,
            "authentication": [m.value for m in s.authentication],
            "username": s.username,
        }
        for s in servers
    ]


@pytest.mark.parametrize(("provider", "domain"), CASES, ids=IDS)
def test_document_carries_every_field(provider: Provider, domain: str) -> None:
    data = thunderbird.render(provider, domain)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(data)
    assert root.tag == "clientConfig"
    assert root.get("version") == "1.1"
    assert root.nsmap == {}
    (body,) = root.findall("emailProvider")
    assert body.get("id") == provider.id
    domains = [d.text for d in body.findall("domain")]
    assert domains[: len(provider.exact_domains)] == list(provider.exact_domains)
    assert domain in domains
    assert body.findtext("displayName") == provider.display_name
    assert body.findtext("displayShortName") == provider.short_name
    assert _servers(body, "incomingServer") == _expected(provider.incoming, domain)
    assert _servers(body, "outgoingServer") == _expected(provider.outgoing, domain)
    docs = [
        (d.get("url"), [(x.get("lang"), x.text) for x in d.findall("descr")])
        for d in body.findall("documentation")
    ]
    assert docs == [(d.url, list(d.descriptions)) for d in provider.documentation]
    login_page = body.find("webMail/loginPage")
    assert (login_page.get("url") if login_page is not None else None) == provider.webmail


@pytest.mark.parametrize(("provider", "domain"), CASES, ids=IDS)
def test_compiled_template_gives_the_same_bytes(provider: Provider, domain: str) -> None:
    assert thunderbird.compile_provider(provider).fill(domain) == thunderbird.render(
        provider, domain
    )


def test_placeholders_in_user_names_are_kept_for_the_client() -> None:
    provider = next(p for p in SERVED if p.id == "oauth.example")
    body = etree.fromstring(thunderbird.render(provider, "oauth.example"))
    assert body.findtext(".//incomingServer/username") == "%EMAILLOCALPART%"


def test_text_is_escaped() -> None:
    provider = next(p for p in SERVED if p.id == "hoster.example")
    data = thunderbird.render(provider, "hoster.example")
    assert b"Hoster &amp; Co &lt;Mail&gt;" in data
    assert etree.fromstring(data).findtext(".//displayName") == "Hoster & Co <Mail>"


def test_no_byte_order_mark_and_utf8() -> None:
    provider = next(p for p in SERVED if p.id == "oauth.example")
    data = thunderbird.render(provider, "oauth.example")
    assert not data.startswith(b"\xef\xbb\xbf")
    data.decode("utf-8")
