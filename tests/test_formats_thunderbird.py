"""The Thunderbird document, parsed and compared field by field with the providers it came from."""

import pytest
from lxml import etree

from autoconfig.config.loader import load_providers
from autoconfig.formats import thunderbird
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
        if el.find("url") is None
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


def _url_sections(root: etree._Element, path: str) -> list[tuple[str, str, list, str]]:
    return [
        (
            el.get("type"),
            el.findtext("url"),
            [(a.get("system"), a.text) for a in el.findall("authentication")],
            el.findtext("username"),
        )
        for el in root.findall(path)
        if el.find("url") is not None
    ]


@pytest.mark.parametrize("provider", [p for p in SERVED if p.services], ids=lambda p: p.id)
def test_services_follow_the_draft_and_stay_readable_by_old_thunderbirds(
    provider: Provider,
) -> None:
    root = etree.fromstring(thunderbird.render(provider, provider.exact_domains[0]))
    auth = [(None, "OAuth2")] if provider.oauth2 else []
    auth += [("http", "Basic"), (None, "password-cleartext")]

    def expected(kinds):
        return [
            (kind, s.url, auth, s.username)
            for kind in kinds
            if (s := provider.service(kind)) is not None
        ]

    incoming = root.findall("emailProvider/incomingServer")
    types = [el.get("type") for el in incoming]
    if provider.service("jmap"):
        assert types[0] == "jmap", "the draft puts JMAP first; old readers skip the type"
    first_tcp = types.index(provider.incoming[0].type)
    assert all(t in ("ews", "activeSync") for t in types[first_tcp + len(provider.incoming) :])
    assert _url_sections(root, "emailProvider/incomingServer") == expected(
        ["jmap", "ews", "activeSync"]
    )
    assert _url_sections(root, "calendar") + _url_sections(root, "addressbook") == expected(
        ["caldav", "carddav"]
    )
    for section in root.iter("incomingServer", "calendar", "addressbook"):
        methods = section.findall("authentication")
        if any(m.get("system") for m in methods):
            assert methods[-1].get("system") is None, "an attribute-less method comes last"


def test_oauth2_block_sits_beside_the_provider() -> None:
    provider = next(p for p in SERVED if p.oauth2 is not None)
    root = etree.fromstring(thunderbird.render(provider, provider.exact_domains[0]))
    block = root.find("oAuth2")
    assert block is not None and block.getparent() is root
    assert block.findtext("issuer") == provider.oauth2.issuer
    assert block.findtext("scope") == provider.oauth2.scope
    assert block.findtext("authURL") == provider.oauth2.auth_url
    assert block.findtext("tokenURL") == provider.oauth2.token_url
