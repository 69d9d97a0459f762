"""Autodiscover v2 (JSON) and ActiveSync Autodiscover (mobilesync) through the running app."""

import asyncio
import json

import pytest
import yaml
from lxml import etree

from autoconfig.web.app import AppOptions, create_app

from .conftest import BUNDLED, DATA
from .ms_ascmd import assert_valid, optional_schema

ACTIVESYNC = DATA / "activesync.yaml"
JSON_URL = "/autodiscover/autodiscover.json"
POX_URL = "/autodiscover/autodiscover.xml"
BASE = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
MS = "{http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006}"
MOBILE_REQUEST = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
MOBILE_RESPONSE = (
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
)


def declared_activesync(path, provider_id: str) -> str:
    """The activeSync URL as the admin wrote it in the YAML file, read without our loader."""
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]:
        if entry["id"] == provider_id:
            value = entry["activeSync"]
            return value["url"] if isinstance(value, dict) else value
    raise KeyError(provider_id)


GROUPWARE_EAS = declared_activesync(BUNDLED, "groupware.example.org")
SYNC_EAS = declared_activesync(ACTIVESYNC, "sync.example")


@pytest.fixture
def client_for(aiohttp_client):
    async def make(config):
        return await aiohttp_client(create_app(AppOptions(config_path=config)))

    return make


@pytest.fixture
async def sync_client(client_for):
    return await client_for(ACTIVESYNC)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema | None:
    return optional_schema()


async def get_json(client, path: str, params=None, headers=None):
    response = await client.get(path, params=params, headers=headers, allow_redirects=False)
    body = await response.read()
    assert response.status < 500, body
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status, body, json.loads(body)


def mobilesync_request(address: str, schema: str | None = MOBILE_RESPONSE) -> bytes:
    root = etree.Element(f"{{{MOBILE_REQUEST}}}Autodiscover", nsmap={None: MOBILE_REQUEST})
    request = etree.SubElement(root, f"{{{MOBILE_REQUEST}}}Request")
    etree.SubElement(request, f"{{{MOBILE_REQUEST}}}EMailAddress").text = address
    if schema is not None:
        etree.SubElement(request, f"{{{MOBILE_REQUEST}}}AcceptableResponseSchema").text = schema
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


async def post(client, body: bytes, path: str = POX_URL):
    response = await client.post(
        path, data=body, headers={"Content-Type": "text/xml"}, allow_redirects=False
    )
    answer = await response.read()
    assert response.status < 500, answer
    return response, answer


def server_of(body: bytes) -> dict[str, str | None]:
    (server,) = etree.fromstring(body).iterfind(f"{MS}Response/{MS}Action/{MS}Settings/{MS}Server")
    return {child.tag.removeprefix(MS): child.text for child in server}


def action_error(body: bytes) -> dict[str, str | None]:
    (error,) = etree.fromstring(body).iterfind(f"{MS}Response/{MS}Action/{MS}Error")
    return {child.tag.removeprefix(MS): child.text for child in error}


def base_error_code(body: bytes) -> str | None:
    return etree.fromstring(body).findtext(f"{BASE}Response/{BASE}Error/{BASE}ErrorCode")


# Autodiscover v2 (JSON) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (JSON_URL, {"Email": "alice@example.com", "Protocol": "AutodiscoverV1"}),
        (f"{JSON_URL}/v1.0/alice@example.com", {"Protocol": "AutodiscoverV1"}),
        (f"{JSON_URL}/v1.0", {"Email": "alice@example.com", "Protocol": "AutodiscoverV1"}),
        (
            "/AutoDiscover/AutoDiscover.JSON",
            {"EMAIL": "alice@example.com", "PROTOCOL": "autodiscoverv1"},
        ),
        ("/AUTODISCOVER/AUTODISCOVER.JSON/V1.0/alice@example.com", {"pRoToCoL": "Autodiscoverv1"}),
        (
            JSON_URL,
            {"Email": "alice@example.com", "Protocol": "Autodiscoverv1", "RedirectCount": "1"},
        ),
    ],
    ids=["query", "path", "v1.0-with-query", "upper-case", "mixed-path", "outlook"],
)
async def test_autodiscover_v1_points_at_this_servers_pox_url(client, path, params):
    status, body, document = await get_json(
        client, path, params, headers={"Host": "autodiscover.example.com"}
    )
    assert status == 200
    assert document == {
        "Protocol": "AutodiscoverV1",
        "Url": "https://autodiscover.example.com/autodiscover/autodiscover.xml",
    }
    assert body == (await get_json(client, path, params, {"Host": "autodiscover.example.com"}))[1]


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("autodiscover.example.com:8443", "https://autodiscover.example.com:8443"),
        ("AutoDiscover.Example.COM", "https://autodiscover.example.com"),
        ("example.com", "https://example.com"),
        # example.net belongs to the same provider: its name is one of ours.
        ("autodiscover.example.net", "https://autodiscover.example.net"),
        # A Host outside the provider's domains could send the client to someone else's
        # server: the client is sent to autodiscover.<its domain> instead.
        ("autodiscover.hosting.example.org", "https://autodiscover.example.com"),
        ("evil.example", "https://autodiscover.example.com"),
        ("example.com.evil.example", "https://autodiscover.example.com"),
        ("[2001:db8::25]:443", "https://autodiscover.example.com"),
    ],
)
async def test_without_a_public_url_the_host_header_is_used_with_https(client, host, url):
    status, _, document = await get_json(
        client, JSON_URL, {"Email": "a@example.com", "Protocol": "AutodiscoverV1"}, {"Host": host}
    )
    assert status == 200
    assert document["Url"] == f"{url}/autodiscover/autodiscover.xml"


@pytest.mark.parametrize(
    "host", ["evil.example/<x>", "bad host", "a@b", "exa_mple.com", "[::1", "example.com/<x>"]
)
async def test_an_invalid_host_is_never_echoed(client, host):
    status, body, document = await get_json(
        client, JSON_URL, {"Email": "a@example.com", "Protocol": "AutodiscoverV1"}, {"Host": host}
    )
    assert host.encode() not in body
    if status == 200:
        assert document["Url"] == "https://autodiscover.example.com/autodiscover/autodiscover.xml"
    else:
        assert status == 400
        assert document["ErrorCode"] == "InvalidHost"
        assert "Url" not in document


async def test_a_request_without_a_host_header_gets_no_guessed_url(client):
    """HTTP/1.0 allows leaving Host out; the server must not fall back to its own name."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        f"GET {JSON_URL}?Email=a@example.com&Protocol=AutodiscoverV1 HTTP/1.0\r\n\r\n".encode()
    )
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], head
    document = json.loads(body)
    assert document["Url"] == "https://autodiscover.example.com/autodiscover/autodiscover.xml"


async def test_the_configured_public_url_wins_over_the_host(aiohttp_client):
    settings = AppOptions(config_path=BUNDLED, public_url="https://autoconfig.example.net/")
    client = await aiohttp_client(create_app(settings))
    for host in ("autodiscover.example.com", "bad host"):
        status, _, document = await get_json(
            client,
            JSON_URL,
            {"Email": "a@example.com", "Protocol": "AutodiscoverV1"},
            {"Host": host},
        )
        assert status == 200
        assert document["Url"] == "https://autoconfig.example.net/autodiscover/autodiscover.xml"


@pytest.mark.parametrize(
    "path",
    [
        f"{JSON_URL}?Email=anna@groupware.example.org&Protocol=ActiveSync",
        f"{JSON_URL}/v1.0/anna@groupware.example.org?Protocol=activesync",
        f"{JSON_URL}/v1.0/anna%40groupware.example.org?Protocol=ACTIVESYNC",
        "/autodiscover/AUTODISCOVER.json?eMail=anna@GROUPWARE.example.org&protocol=ActiveSync",
    ],
)
async def test_activesync_is_the_url_in_providers_yaml(client, path):
    status, body, document = await get_json(client, path)
    assert status == 200
    assert document == {"Protocol": "ActiveSync", "Url": GROUPWARE_EAS}
    assert body == (await get_json(client, path))[1]


async def test_activesync_for_a_wildcard_domain_and_an_idn_address(sync_client):
    status, _, document = await get_json(
        sync_client, f"{JSON_URL}/v1.0/jörg@shop.tenants.sync.example", {"Protocol": "ActiveSync"}
    )
    assert status == 200
    assert document == {"Protocol": "ActiveSync", "Url": SYNC_EAS}


@pytest.mark.parametrize(
    ("config", "address"),
    [
        (BUNDLED, "alice@example.com"),
        (BUNDLED, "x@a.customers.example.org"),
        (ACTIVESYNC, "a@nosync.example"),
    ],
)
async def test_activesync_where_none_is_declared_is_404(client_for, config, address):
    client = await client_for(config)
    status, _, document = await get_json(
        client, JSON_URL, {"Email": address, "Protocol": "ActiveSync"}
    )
    assert status == 404
    assert document["ErrorCode"] == "ProtocolNotAvailable"
    assert address.split("@")[1] in document["ErrorMessage"]


async def test_unknown_domain_is_404_the_same_for_every_address(client):
    bodies = set()
    for address in ("a@unknown.example", "someone.else@unknown.example"):
        for protocol in ("AutodiscoverV1", "ActiveSync"):
            status, body, document = await get_json(
                client, JSON_URL, {"Email": address, "Protocol": protocol}
            )
            assert status == 404
            assert document["ErrorCode"] == "DomainNotFound"
            assert "unknown.example" in document["ErrorMessage"]
            bodies.add(body)
    assert len(bodies) == 1


@pytest.mark.parametrize(
    "address",
    [
        "plainaddress",
        "a@",
        "@example.com",
        "a,b@example.com",
        "a@exa mple.com",
        "x" * 300 + "@example.com",
        "a\x00@example.com",
        "a@[192.0.2.1]",
    ],
)
async def test_a_malformed_address_is_400(client, address):
    for path, params in (
        (JSON_URL, {"Email": address, "Protocol": "AutodiscoverV1"}),
        (f"{JSON_URL}/v1.0/{address}", {"Protocol": "ActiveSync"}),
    ):
        status, _, document = await get_json(client, path, params)
        assert status == 400, document
        assert document["ErrorCode"] == "InvalidEmailAddress"
        assert document["ErrorMessage"].startswith("The e-mail address is not valid: ")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (JSON_URL, {"Protocol": "AutodiscoverV1"}),
        (JSON_URL, {"Email": "", "Protocol": "ActiveSync"}),
        (f"{JSON_URL}/v1.0", {"Protocol": "AutodiscoverV1"}),
    ],
)
async def test_no_address_at_all_is_400(client, path, params):
    status, _, document = await get_json(client, path, params)
    assert status == 400
    assert document["ErrorCode"] == "MandatoryParameterMissing"


@pytest.mark.parametrize(
    ("protocol", "shown"),
    [
        ("NoSuchProtocol", "'NoSuchProtocol'"),
        ("Ews", "'Ews'"),
        ("", None),
        ("<script>alert(1)</script>", "'scriptalert1script'"),
        ('"},"Url":"https://evil.example', "'Urlhttpsevilexample'"),
    ],
)
async def test_other_or_missing_protocols_are_400_invalid_protocol(client, protocol, shown):
    status, body, document = await get_json(
        client, JSON_URL, {"Email": "alice@example.com", "Protocol": protocol}
    )
    assert status == 400
    assert list(document) == ["ErrorCode", "ErrorMessage"]
    assert document["ErrorCode"] == "InvalidProtocol"
    assert "AutodiscoverV1" in document["ErrorMessage"]
    if shown:
        assert shown in document["ErrorMessage"]
    assert b"<script>" not in body
    assert b"evil.example" not in body


async def test_protocol_is_checked_before_the_address(client):
    status, _, document = await get_json(client, JSON_URL, {"Email": "a@", "Protocol": "Rest"})
    assert status == 400
    assert document["ErrorCode"] == "InvalidProtocol"


async def test_redirected_domains(sync_client):
    """A domain sent to another server: Outlook goes straight there; one sent to another
    address: this server's POX endpoint, which tells Outlook the address. Neither names an
    ActiveSync URL here."""
    _, _, away = await get_json(
        sync_client, JSON_URL, {"Email": "a@away.sync.example", "Protocol": "AutodiscoverV1"}
    )
    assert away == {
        "Protocol": "AutodiscoverV1",
        "Url": "https://autodiscover.away.example/autodiscover/autodiscover.xml",
    }
    _, _, moved = await get_json(
        sync_client,
        JSON_URL,
        {"Email": "a@moved.sync.example", "Protocol": "AutodiscoverV1"},
        {"Host": "autodiscover.sync.example"},
    )
    assert moved["Url"] == "https://autodiscover.sync.example/autodiscover/autodiscover.xml"
    for address in ("a@away.sync.example", "a@moved.sync.example"):
        status, _, document = await get_json(
            sync_client, JSON_URL, {"Email": address, "Protocol": "ActiveSync"}
        )
        assert status == 404
        assert document["ErrorCode"] == "ProtocolNotAvailable"


async def test_head_and_other_methods(client):
    url = f"{JSON_URL}?Email=a@groupware.example.org&Protocol=ActiveSync"
    response = await client.head(url)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    for method in (client.post, client.put, client.delete):
        response = await method(url, data=b"{}")
        assert response.status == 405


@pytest.mark.parametrize(
    "path",
    [
        f"{JSON_URL}/v1.0/a/b@groupware.example.org?Protocol=ActiveSync",
        f"{JSON_URL}/v1.0/..%2F..%2Fetc%2Fpasswd?Protocol=ActiveSync",
        f"{JSON_URL}/v1.0/%00@example.com?Protocol=ActiveSync",
        f"{JSON_URL}/v1.0/{'a' * 5000}@example.com?Protocol=ActiveSync",
        f"{JSON_URL}?Email=%ff%fe@example.com&Protocol=ActiveSync",
        f"{JSON_URL}?Email=a@example.com&Email=b@x.example&Protocol=ActiveSync&Protocol=Ews",
        f"{JSON_URL}?Email=a@xn--.example&Protocol=AutodiscoverV1",
        f"{JSON_URL}?Email=a@{'b' * 64}.example&Protocol=AutodiscoverV1",
    ],
)
async def test_hostile_requests_never_get_a_server_error(client, path):
    response = await client.get(path, allow_redirects=False)
    assert response.status < 500
    if response.content_type == "application/json":
        document = json.loads(await response.read())
        assert set(document) in ({"Protocol", "Url"}, {"ErrorCode", "ErrorMessage"})


# ActiveSync Autodiscover (mobilesync POX) -----------------------------------------------------


@pytest.mark.parametrize(
    "path", [POX_URL, "/Autodiscover/Autodiscover.xml", "/AUTODISCOVER/AUTODISCOVER.XML"]
)
async def test_mobilesync_settings_for_a_provider_with_activesync(client, path, schema):
    response, body = await post(client, mobilesync_request("anna@groupware.example.org"), path)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert_valid(schema, body)
    response_element = etree.fromstring(body).find(f"{MS}Response")
    assert response_element.findtext(f"{MS}Culture") == "en:us"
    assert response_element.findtext(f"{MS}User/{MS}EMailAddress") == "anna@groupware.example.org"
    assert server_of(body) == {"Type": "MobileSync", "Url": GROUPWARE_EAS, "Name": GROUPWARE_EAS}
    assert body == (await post(client, mobilesync_request("anna@groupware.example.org"), path))[1]


async def test_mobilesync_echoes_each_address_as_typed(sync_client, schema):
    for address in ("Bob@SYNC.example", "carl@x.tenants.sync.example", '"a&b<c>"@sync.example'):
        _, body = await post(sync_client, mobilesync_request(address))
        assert_valid(schema, body)
        root = etree.fromstring(body)
        assert root.findtext(f"{MS}Response/{MS}User/{MS}EMailAddress") == address
        assert server_of(body)["Url"] == SYNC_EAS


async def test_mobilesync_without_a_response_schema_is_still_mobilesync(client, schema):
    _, body = await post(client, mobilesync_request("anna@groupware.example.org", schema=None))
    assert_valid(schema, body)
    assert server_of(body)["Type"] == "MobileSync"


@pytest.mark.parametrize(
    ("config", "address", "debug", "domain"),
    [
        (BUNDLED, "alice@example.com", "NoActiveSync", "example.com"),
        (BUNDLED, "x@shop.customers.example.org", "NoActiveSync", "shop.customers.example.org"),
        (ACTIVESYNC, "u@Bücher.example", "NoActiveSync", "Bücher.example"),
        (BUNDLED, "a@unknown.example", "UnknownDomain", "unknown.example"),
    ],
)
async def test_no_activesync_here_is_an_action_error(
    client_for, config, address, debug, domain, schema
):
    client = await client_for(config)
    response, body = await post(client, mobilesync_request(address))
    assert response.status == 200
    assert_valid(schema, body)
    root = etree.fromstring(body)
    assert root.findtext(f"{MS}Response/{MS}User/{MS}EMailAddress") == address
    error = action_error(body)
    assert error["Status"] == "2"
    assert error["DebugData"] == debug
    assert domain in error["Message"]
    assert root.find(f".//{MS}Settings") is None


async def test_mobilesync_redirect_address_is_filled_in(sync_client, schema):
    _, body = await post(sync_client, mobilesync_request("carol@moved.sync.example"))
    assert_valid(schema, body)
    action = etree.fromstring(body).find(f"{MS}Response/{MS}Action")
    assert [child.tag.removeprefix(MS) for child in action] == ["Redirect"]
    assert action.findtext(f"{MS}Redirect") == "carol@sync.example"


async def test_mobilesync_redirect_url_is_an_http_302(sync_client):
    response, _ = await post(sync_client, mobilesync_request("a@away.sync.example"))
    assert response.status == 302
    assert response.headers["Location"] == (
        "https://autodiscover.away.example/autodiscover/autodiscover.xml"
    )


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + b"]>"
    + f'<Autodiscover xmlns="{MOBILE_REQUEST}"><Request><EMailAddress>&i;@groupware.example.org'
    f"</EMailAddress><AcceptableResponseSchema>{MOBILE_RESPONSE}</AcceptableResponseSchema>"
    "</Request></Autodiscover>".encode()
)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        mobilesync_request("a@groupware.example.org")[:-30],
        mobilesync_request("a@groupware.example.org").replace(b"Autodiscover", b"Other"),
        mobilesync_request(""),
        mobilesync_request("not-an-address"),
        mobilesync_request("a b@groupware.example.org"),
        BILLION_LAUGHS,
    ],
    ids=["empty", "text", "truncated", "wrong-root", "no-address", "no-at", "space", "entities"],
)
async def test_malformed_mobilesync_requests_are_600(client, body, schema):
    response, answer = await post(client, body)
    assert response.status == 200
    assert_valid(schema, answer)
    assert base_error_code(answer) == "600"
    assert len(answer) < 2000


async def test_unknown_schema_in_a_mobilesync_request_is_601(client, schema):
    response, answer = await post(
        client, mobilesync_request("a@groupware.example.org", "http://example.invalid/schema")
    )
    assert response.status == 200
    assert_valid(schema, answer)
    assert base_error_code(answer) == "601"


async def test_external_file_entity_is_not_read(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        f'<Autodiscover xmlns="{MOBILE_REQUEST}"><Request><EMailAddress>&x;@groupware.example.org'
        f"</EMailAddress><AcceptableResponseSchema>{MOBILE_RESPONSE}</AcceptableResponseSchema>"
        "</Request></Autodiscover>"
    ).encode()
    _, answer = await post(client, body)
    assert base_error_code(answer) == "600"
    assert b"TOP-SECRET" not in answer


async def test_network_entities_are_not_fetched(client, listening_socket):
    port, connections = listening_socket
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:{port}/r.dtd">'
        f'<Autodiscover xmlns="{MOBILE_REQUEST}"><Request>'
        "<EMailAddress>a@groupware.example.org</EMailAddress>"
        f"<AcceptableResponseSchema>{MOBILE_RESPONSE}</AcceptableResponseSchema>"
        "</Request></Autodiscover>"
    ).encode()
    _, answer = await post(client, body)
    assert base_error_code(answer) == "600"
    assert connections == []


async def test_outlook_requests_still_get_outlook_answers(client):
    """The Outlook family is unchanged by the ActiveSync one at the same URL."""
    outlook_request = (
        b"<Autodiscover><Request><EMailAddress>anna@groupware.example.org</EMailAddress>"
        b"</Request></Autodiscover>"
    )
    _, body = await post(client, outlook_request)
    out = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
    assert etree.fromstring(body).findtext(f"{out}Response/{out}Account/{out}Action") == "settings"
    assert b"MobileSync" not in body
