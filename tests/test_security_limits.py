"""The server's own limits, attacked: forged forwarding headers, floods, slow clients, and what
the access log keeps of an address."""

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from autoconfig.web.app import AppOptions, create_app
from autoconfig.web.limits import TokenBuckets
from autoconfig.web.proxies import ProxyPolicy, parse_networks

from .conftest import BUNDLED
from .server_support import ServerProcess, wait_until
from .test_web_autodiscover import pox

JSON_URL = "/autodiscover/autodiscover.json"


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_token_bucket_allows_bursts_then_the_rate():
    now = [0.0]
    buckets = TokenBuckets(rate=2, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0, "clients have their own buckets"
    now[0] += 0.5
    assert buckets.take("a") == 0


def test_token_bucket_memory_is_bounded():
    buckets = TokenBuckets(rate=1, burst=1, max_clients=100)
    for n in range(10_000):
        buckets.take(f"10.0.{n // 256}.{n % 256}")
    assert len(buckets._buckets) == 100


async def test_rate_limit_answers_429_with_retry_after(aiohttp_client):
    client = await aiohttp_client(
        create_app(AppOptions(config_path=BUNDLED, rate_limit=1, rate_burst=3))
    )
    statuses = []
    for _ in range(5):
        response = await client.get("/v1.1/example.com")
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["Retry-After"]) >= 1
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]


async def test_rate_limit_is_off_by_default(aiohttp_client):
    client = await aiohttp_client(create_app(AppOptions(config_path=BUNDLED)))
    for _ in range(50):
        assert (await client.get("/v1.1/example.com")).status == 200


async def test_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit(aiohttp_client):
    client = await aiohttp_client(
        create_app(AppOptions(config_path=BUNDLED, rate_limit=1, rate_burst=2))
    )
    statuses = [
        (
            await client.get("/v1.1/example.com", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        ).status
        for n in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(aiohttp_client):
    settings = AppOptions(
        config_path=BUNDLED, rate_limit=1, rate_burst=1, trusted_proxies=("127.0.0.0/8", "::1")
    )
    client = await aiohttp_client(create_app(settings))
    statuses = [
        (
            await client.get("/v1.1/example.com", headers={"X-Forwarded-For": f"203.0.113.{n}"})
        ).status
        for n in range(4)
    ]
    assert statuses == [200, 200, 200, 200], "four clients behind the proxy, one request each"


def test_proxy_policy_reads_the_last_untrusted_hop():
    policy = ProxyPolicy(parse_networks(["10.0.0.0/8"]))

    class Request:
        remote = "10.1.2.3"
        headers = None

    from multidict import CIMultiDict

    request = Request()
    request.headers = CIMultiDict(
        {"X-Forwarded-For": "198.51.100.7, 203.0.113.9, 10.9.9.9", "X-Forwarded-Host": "a.test"}
    )
    assert policy.client_ip(request) == "203.0.113.9", "a client cannot prepend a fake hop"
    assert policy.host(request) == "a.test"
    request.remote = "192.0.2.1"
    assert policy.client_ip(request) == "192.0.2.1"
    request.headers["Host"] = "real.test"
    assert policy.host(request) == "real.test", "X-Forwarded-Host from the internet is ignored"
    with pytest.raises(ValueError, match="not an IP"):
        parse_networks(["proxy.example"])


async def test_forged_forwarded_host_does_not_pick_the_domain(aiohttp_client):
    client = await aiohttp_client(create_app(AppOptions(config_path=BUNDLED)))
    response = await client.get(
        "/mail/config-v1.1.xml",
        headers={
            "Host": "autoconfig.unknown.example",
            "X-Forwarded-Host": "autoconfig.example.com",
        },
    )
    assert response.status == 404, "only a trusted proxy may say which host was asked for"


async def test_forged_host_never_becomes_the_autodiscover_url(aiohttp_client):
    client = await aiohttp_client(create_app(AppOptions(config_path=BUNDLED)))
    for host in ("attacker.example", "autodiscover.attacker.example:443"):
        response = await client.get(
            JSON_URL,
            params={"Email": "a@example.com", "Protocol": "AutodiscoverV1"},
            headers={"Host": host},
        )
        document = await response.json()
        assert "attacker" not in document["Url"]


def test_slow_clients_are_dropped_and_others_still_served(tmp_path):
    """Many connections that send nothing, or a few header bytes, do not starve real clients."""
    with ServerProcess(BUNDLED, "--client-timeout", "1.5") as server:
        silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(200)]
        trickle = []
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: example.com\r\n")
            trickle.append(sock)
        started = time.monotonic()
        status, _, body = get(f"{server.url}/mail/config-v1.1.xml?emailaddress=a%40example.com")
        assert status == 200 and b"imap.example.com" in body
        assert time.monotonic() - started < 1.0
        time.sleep(2.5)
        for sock in silent + trickle:
            sock.settimeout(2)
            try:
                data = sock.recv(1024)
            except ConnectionResetError:
                data = b""
            assert data in (b"", None) or data.startswith(b"HTTP/1.1 408"), data[:60]
            sock.close()


def test_a_body_that_never_arrives_gets_408(tmp_path):
    with ServerProcess(BUNDLED, "--client-timeout", "1") as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        body = pox("a@example.com")
        sock.sendall(
            b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[:20]
        )
        answer = sock.recv(1024)
        sock.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]


@pytest.mark.parametrize(
    ("mode", "shows", "hides"),
    [
        ("domain", "example.com", "alice.secret"),
        ("hash", "@example.com", "alice.secret"),
        ("full", "alice.secret@example.com", None),
    ],
)
def test_access_log_keeps_addresses_private_by_default(tmp_path, mode, shows, hides):
    options = ["--access-log", "json", "--log-addresses", mode]
    with ServerProcess(BUNDLED, *options) as server:
        get(f"{server.url}/mail/config-v1.1.xml?emailaddress=alice.secret%40example.com")
        get(f"{server.url}{JSON_URL}/v1.0/alice.secret@example.com?Protocol=AutodiscoverV1")
        request = urllib.request.Request(
            f"{server.url}/autodiscover/autodiscover.xml", data=pox("alice.secret@example.com")
        )
        urllib.request.urlopen(request, timeout=10).read()
        wait_until(lambda: server.log().count('"request_id"') >= 3)
        records = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert len(records) == 3
    for record in records:
        assert set(record) >= {"time", "client", "method", "path", "status", "ms", "request_id"}
        text = json.dumps(record)
        assert shows in text
        if hides is not None:
            assert hides not in text, record
    if mode == "hash":
        assert len({r["address"] for r in records}) == 1, "one user, one stable hash"


def test_common_log_format(tmp_path):
    with ServerProcess(BUNDLED, "--access-log", "common") as server:
        get(f"{server.url}/mail/config-v1.1.xml?emailaddress=bob%40example.net")
        wait_until(lambda: '"GET /mail/config-v1.1.xml" 200' in server.log())
        line = next(entry for entry in server.log().splitlines() if "config-v1.1.xml" in entry)
    assert line.startswith("127.0.0.1 - example.net [")
    assert "bob" not in line
