"""Outlook Autodiscover through the running app: settings, redirects, errors and hostile bodies."""

import pytest
from lxml import etree

BASE = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
OUT = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
SCHEMA_2006A = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
URL = "/autodiscover/autodiscover.xml"


def pox(address: str, schema: str | None = SCHEMA_2006A) -> bytes:
    request = etree.Element(f"{{{REQUEST_NS}}}Autodiscover", nsmap={None: REQUEST_NS})
    body = etree.SubElement(request, f"{{{REQUEST_NS}}}Request")
    etree.SubElement(body, f"{{{REQUEST_NS}}}EMailAddress").text = address
    if schema is not None:
        etree.SubElement(body, f"{{{REQUEST_NS}}}AcceptableResponseSchema").text = schema
    return etree.tostring(request, xml_declaration=True, encoding="utf-8")


def error_code(body: bytes) -> str | None:
    return etree.fromstring(body).findtext(f"{BASE}Response/{BASE}Error/{BASE}ErrorCode")


def protocols(body: bytes) -> list[tuple[str, str, str, str, str, str]]:
    return [
        tuple(
            p.findtext(f"{OUT}{name}")
            for name in ("Type", "Server", "Port", "SSL", "Encryption", "LoginName")
        )
        for p in etree.fromstring(body).iter(f"{OUT}Protocol")
    ]


async def post(client, body: bytes, path: str = URL, **kwargs):
    response = await client.post(path, data=body, headers={"Content-Type": "text/xml"}, **kwargs)
    return response, await response.read()


@pytest.mark.parametrize(
    "path",
    [
        URL,
        "/Autodiscover/Autodiscover.xml",
        "/AUTODISCOVER/AUTODISCOVER.XML",
        "/autodiscover/AutoDiscover.xml",
    ],
)
async def test_settings_for_the_bundled_provider(client, path):
    response, body = await post(client, pox("alice@example.com"), path)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert body.startswith(b"<?xml")
    assert protocols(body) == [
        ("IMAP", "imap.example.com", "993", "on", "SSL", "alice@example.com"),
        ("POP3", "pop.example.com", "995", "on", "SSL", "alice@example.com"),
        ("SMTP", "smtp.example.com", "465", "on", "SSL", "alice@example.com"),
        ("SMTP", "smtp.example.com", "587", "on", "TLS", "alice@example.com"),
    ]
    root = etree.fromstring(body)
    assert root.findtext(f".//{OUT}Account/{OUT}Action") == "settings"
    assert root.findtext(f".//{OUT}User/{OUT}AutoDiscoverSMTPAddress") == "alice@example.com"
    assert {p.findtext(f"{OUT}SPA") for p in root.iter(f"{OUT}Protocol")} == {"off"}
    assert {p.findtext(f"{OUT}AuthRequired") for p in root.iter(f"{OUT}Protocol")} == {"on"}
    assert response.headers["Cache-Control"] == "no-store"


async def test_login_name_is_each_users_own(client):
    _, first = await post(client, pox("alice@example.com"))
    _, second = await post(client, pox("bob@example.net"))
    assert {p[5] for p in protocols(first)} == {"alice@example.com"}
    assert {p[5] for p in protocols(second)} == {"bob@example.net"}


async def test_request_without_namespace_or_schema_is_understood(client):
    body = (
        b"<Autodiscover><Request><EMailAddress>a@example.com</EMailAddress>"
        b"</Request></Autodiscover>"
    )
    response, answer = await post(client, body)
    assert response.status == 200
    assert protocols(answer)[0][1] == "imap.example.com"


async def test_unknown_domain_is_error_500_the_same_for_every_address(client):
    answers = set()
    for address in ["a@unknown.example", "someone.else@unknown.example"]:
        response, body = await post(client, pox(address))
        assert response.status == 200
        assert error_code(body) == "500"
        answers.add(body)
    assert len(answers) == 1


@pytest.mark.parametrize(
    "schema",
    [
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006",
        "http://example.invalid/no/such/schema",
    ],
)
async def test_unsupported_response_schema_is_601(client, schema):
    """The mobilesync schema is served too now (tests/test_web_microsoft.py)."""
    response, body = await post(client, pox("a@example.com", schema))
    assert response.status == 200
    assert error_code(body) == "601"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Autodiscover><Request><EMailAddress>&lol9;@example.com</EMailAddress></Request></Autodiscover>"""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"this is not xml",
        b"<Autodiscover><Request><EMailAddress>a@example.com</EMailAddress>",
        b"<Other><Request><EMailAddress>a@example.com</EMailAddress></Request></Other>",
        b"<Autodiscover><Request/></Autodiscover>",
        b"<Autodiscover><Request><EMailAddress>  </EMailAddress></Request></Autodiscover>",
        b"<Autodiscover><Request><EMailAddress>a&#0;@example.com</EMailAddress></Request></Autodiscover>",
        BILLION_LAUGHS,
        b"<Autodiscover>" + b"<x>" * 1000 + b"</x>" * 1000 + b"</Autodiscover>",
        b"<?xml version='1.0' encoding='utf-16'?><Autodiscover/>",
    ],
    ids=[
        "empty",
        "blank",
        "text",
        "truncated",
        "wrong-root",
        "no-address",
        "blank-address",
        "nul-reference",
        "billion-laughs",
        "deep-nesting",
        "wrong-encoding",
    ],
)
async def test_malformed_requests_are_600(client, body):
    response, answer = await post(client, body)
    assert response.status == 200
    assert error_code(answer) == "600"


@pytest.mark.parametrize(
    "address",
    [
        "a@",
        "@example.com",
        "plainaddress",
        "x" * 300 + "@example.com",
        "a b@example.com",
        "a@exa mple.com",
    ],
)
async def test_invalid_addresses_are_600(client, address):
    response, body = await post(client, pox(address))
    assert response.status == 200
    assert error_code(body) == "600"


async def test_quoted_local_part_is_escaped_in_the_answer(client):
    address = '"a<b>"@example.com'
    response, body = await post(client, pox(address))
    assert response.status == 200
    assert b"<b>" not in body
    assert {p[5] for p in protocols(body)} == {address}


async def test_external_file_entity_is_not_read(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<Autodiscover><Request><EMailAddress>&x;@example.com</EMailAddress></Request></Autodiscover>"
    ).encode()
    _, answer = await post(client, body)
    assert error_code(answer) == "600"
    assert b"TOP-SECRET" not in answer


@pytest.mark.parametrize(
    "template",
    [
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]>'
        "<Autodiscover><Request><EMailAddress>&x;@example.com</EMailAddress></Request></Autodiscover>",
        '<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/r.dtd">'
        "<Autodiscover><Request><EMailAddress>a@example.com</EMailAddress></Request></Autodiscover>",
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p">%p;]>'
        "<Autodiscover/>",
        '<Autodiscover xmlns:xi="http://www.w3.org/2001/XInclude"><Request><EMailAddress>'
        '<xi:include href="http://127.0.0.1:{port}/x" parse="text"/>@example.com'
        "</EMailAddress></Request></Autodiscover>",
    ],
    ids=["external-entity", "external-dtd", "parameter-entity", "xinclude"],
)
async def test_no_connection_is_made_for_network_references(client, listening_socket, template):
    port, connections = listening_socket
    response, answer = await post(client, template.replace("{port}", str(port)).encode())
    assert response.status == 200
    assert error_code(answer) == "600"
    assert connections == []


async def test_body_over_16_kib_is_413(client):
    padding = b"<!--" + b"x" * (17 * 1024) + b"-->"
    response, _ = await post(client, padding + pox("a@example.com"))
    assert response.status == 413


async def test_chunked_body_over_16_kib_is_413(client):
    async def chunks():
        for _ in range(20):
            yield b"x" * 1024

    response = await client.post(URL, data=chunks())
    assert response.status == 413


async def test_redirect_url_is_an_http_302(varied_client):
    response = await varied_client.post(URL, data=pox("a@redirect.example"), allow_redirects=False)
    assert response.status == 302
    assert (
        response.headers["Location"]
        == "https://autodiscover.other.example/autodiscover/autodiscover.xml"
    )
    response = await varied_client.post(URL, data=pox("a@elsewhere.example"), allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("https://autodiscover.elsewhere.example/")


async def test_redirect_address_is_filled_for_the_user(varied_client):
    response, body = await post(varied_client, pox("carol@moved.example"))
    assert response.status == 200
    account = etree.fromstring(body).find(f"{OUT}Response/{OUT}Account")
    assert account.findtext(f"{OUT}Action") == "redirectAddr"
    assert account.findtext(f"{OUT}RedirectAddr") == "carol@hoster.example"


async def test_get_with_an_address(client):
    response = await client.get(URL, params={"Email": "dave@example.net"})
    assert response.status == 200
    assert {p[5] for p in protocols(await response.read())} == {"dave@example.net"}


async def test_get_with_the_host_only_gives_settings_without_login_names(client):
    response = await client.get(
        "/AutoDiscover/AutoDiscover.xml", headers={"Host": "autodiscover.example.com"}
    )
    assert response.status == 200
    found = protocols(await response.read())
    assert [p[1] for p in found] == [
        "imap.example.com",
        "pop.example.com",
        "smtp.example.com",
        "smtp.example.com",
    ]
    assert {p[5] for p in found} == {None}


async def test_get_without_any_domain_is_600(client):
    response = await client.get(URL, headers={"Host": "127.0.0.1:8080"})
    assert response.status == 200
    assert error_code(await response.read()) == "600"
    response = await client.get(URL, params={"emailaddress": "a@"})
    assert error_code(await response.read()) == "600"


async def test_other_methods_are_refused_cleanly(client):
    response = await client.put(URL, data=b"x")
    assert response.status == 405


async def test_get_with_the_host_only_refuses_hosts_that_need_the_local_part(
    aiohttp_client, tmp_path
):
    from autoconfig.web.app import AppOptions, create_app

    config = tmp_path / "p.yaml"
    config.write_text(
        "providers:\n"
        "  - id: per-user.example\n"
        "    displayName: Per User\n"
        "    domains: [per-user.example]\n"
        "    incoming:\n"
        "      - {type: imap, hostname: '%EMAILLOCALPART%.in.per-user.example', socketType: SSL}\n"
        "    outgoing: [{hostname: smtp.per-user.example, socketType: SSL}]\n"
    )
    client = await aiohttp_client(create_app(AppOptions(config_path=config)))
    response = await client.get(URL, headers={"Host": "autodiscover.per-user.example"})
    assert error_code(await response.read()) == "600"
    response = await client.get(URL, params={"email": "kim@per-user.example"})
    assert protocols(await response.read())[0][1] == "kim.in.per-user.example"
