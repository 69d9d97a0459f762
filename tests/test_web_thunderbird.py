"""Thunderbird autoconfig through the running app: every URL form, every way to name a domain."""

import pytest
from lxml import etree

PATHS = ["/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"]


def _domains(body: bytes) -> list[str]:
    return [d.text for d in etree.fromstring(body).iter("domain")]


@pytest.mark.parametrize("path", PATHS)
async def test_answers_with_the_bundled_provider(client, path):
    response = await client.get(path, params={"emailaddress": "alice@example.com"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    body = await response.read()
    assert body.startswith(b"<?xml")
    provider = etree.fromstring(body).find("emailProvider")
    assert provider.get("id") == "example.com"
    assert _domains(body) == ["example.com", "example.net"]
    assert provider.findtext("displayName") == "Example Mail"
    incoming = [
        (s.get("type"), s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"))
        for s in provider.findall("incomingServer")
    ]
    assert incoming == [
        ("imap", "imap.example.com", "993", "SSL"),
        ("pop3", "pop.example.com", "995", "SSL"),
    ]
    outgoing = [
        (s.get("type"), s.findtext("hostname"), s.findtext("port"), s.findtext("socketType"))
        for s in provider.findall("outgoingServer")
    ]
    assert outgoing == [
        ("smtp", "smtp.example.com", "465", "SSL"),
        ("smtp", "smtp.example.com", "587", "STARTTLS"),
    ]
    for server in provider.findall("incomingServer") + provider.findall("outgoingServer"):
        assert server.findtext("username") == "%EMAILADDRESS%"
        assert server.findtext("authentication") == "password-cleartext"


async def test_every_user_of_a_domain_gets_the_same_bytes(client):
    answers = set()
    for address in ["alice@example.com", "bob@EXAMPLE.com", "no.such.user@example.com"]:
        response = await client.get(PATHS[0], params={"emailaddress": address})
        assert response.status == 200
        answers.add(await response.read())
    assert len(answers) == 1
    assert b"alice" not in answers.pop()


async def test_both_paths_give_the_same_document(client):
    bodies = []
    for path in PATHS:
        response = await client.get(path, params={"emailaddress": "a@example.net"})
        bodies.append(await response.read())
    assert bodies[0] == bodies[1]


async def test_head_has_the_headers_and_no_body(client):
    get = await client.get(PATHS[0], params={"emailaddress": "a@example.com"})
    head = await client.head(PATHS[0], params={"emailaddress": "a@example.com"})
    assert head.status == 200
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Content-Length"] == str(len(await get.read()))
    assert await head.read() == b""


@pytest.mark.parametrize(
    "host", ["autoconfig.example.com", "autoconfig.example.net:8443", "example.com"]
)
async def test_without_an_address_the_host_names_the_domain(client, host):
    response = await client.get(PATHS[0], headers={"Host": host})
    assert response.status == 200
    assert etree.fromstring(await response.read()).find("emailProvider").get("id") == "example.com"


async def test_other_query_parameters_are_ignored(client):
    response = await client.get(
        PATHS[0], params={"emailaddress": "a@example.com", "foo": "bar", "x": "<y>"}
    )
    assert response.status == 200


async def test_ispdb_url_form(client):
    response = await client.get("/v1.1/EXAMPLE.net")
    assert response.status == 200
    assert "example.net" in _domains(await response.read())


async def test_unknown_domain_is_404(client):
    response = await client.get(PATHS[0], params={"emailaddress": "a@unknown.example"})
    assert response.status == 404
    assert "unknown.example" in await response.text()
    response = await client.get("/v1.1/unknown.example")
    assert response.status == 404


async def test_known_host_does_not_answer_for_an_unknown_address_domain(client):
    response = await client.get(
        PATHS[0],
        params={"emailaddress": "a@unknown.example"},
        headers={"Host": "autoconfig.example.com"},
    )
    assert response.status == 404


@pytest.mark.parametrize(
    "address", ["a@", "@example.com", "no-at", "a\x00b@example.com", "x" * 300 + "@example.com"]
)
async def test_broken_address_is_400_unless_the_host_names_a_domain(client, address):
    response = await client.get(PATHS[0], params={"emailaddress": address})
    assert response.status == 400
    assert "emailaddress" in await response.text()
    response = await client.get(
        PATHS[0], params={"emailaddress": address}, headers={"Host": "autoconfig.example.com"}
    )
    assert response.status == 200


async def test_internationalised_domain_in_either_form(varied_client):
    bodies = []
    for address in ["anne@bücher.example", "anne@XN--BCHER-KVA.example", "anne@Bücher.Example."]:
        response = await varied_client.get(PATHS[0], params={"emailaddress": address})
        assert response.status == 200, address
        bodies.append(await response.read())
    assert len(set(bodies)) == 1
    assert "xn--bcher-kva.example" in _domains(bodies[0])


async def test_wildcard_domain_is_answered_and_listed(varied_client):
    response = await varied_client.get(
        PATHS[0], params={"emailaddress": "bob@shop.sites.hoster.example"}
    )
    assert response.status == 200
    body = await response.read()
    assert "shop.sites.hoster.example" in _domains(body)
    hosts = [h.text for h in etree.fromstring(body).iter("hostname")]
    assert hosts == ["pop.shop.sites.hoster.example", "smtp.shop.sites.hoster.example"]
    response = await varied_client.get(
        PATHS[0], params={"emailaddress": "bob@sites.hoster.example"}
    )
    assert response.status == 404, "a wildcard covers subdomains, not the domain itself"


async def test_redirect_only_provider_has_no_thunderbird_answer(varied_client):
    response = await varied_client.get(PATHS[0], params={"emailaddress": "a@redirect.example"})
    assert response.status == 404


async def test_cache_and_cors_headers(client):
    response = await client.get(PATHS[0], params={"emailaddress": "a@example.com"})
    assert "max-age" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "query",
    ["emailaddress=bob+tag@example.com", "emailaddress=bob+tag%40example.com"],
)
async def test_an_unencoded_plus_in_the_address_is_read_as_a_plus(client, query):
    """curl and hand-written links send `+` as it is, which a query reads as a space."""
    response = await client.get(f"/mail/config-v1.1.xml?{query}")
    assert response.status == 200
    assert etree.fromstring(await response.read()).find("emailProvider").get("id") == (
        "example.com"
    )
    apple = await client.get(f"/email.mobileconfig?{query}")
    assert apple.status == 200
    assert b"<string>bob+tag@example.com</string>" in await apple.read()


async def test_a_quoted_local_part_keeps_its_space(client):
    response = await client.get('/email.mobileconfig?emailaddress="bob+tag"@example.com')
    assert response.status == 200
    assert b'<string>"bob tag"@example.com</string>' in await response.read()


@pytest.mark.parametrize("address", ["192.0.2.1", "10.0.0.1"])
async def test_the_ispdb_url_of_an_ip_address_is_a_bad_request(client, address):
    response = await client.get(f"/v1.1/{address}")
    assert response.status == 400
    assert await response.text() == "an IP address names no mail domain\n"
    page = await client.get(f"/settings/{address}")
    assert page.status == 400
