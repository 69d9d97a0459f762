"""The fast dispatch (autoconfig/web/dispatch.py): exact paths skip the router, answers do not
change.

Most tests send each request twice: to an app served through its fast table, as `serve` serves
it, and to a second app built from the same file and served by aiohttp's plain AppRunner, which
routes every request. Both must give the same status, headers and body bytes. Whether the
router was consulted is observed by counting calls of the app's `router.resolve`, wrapped before
the server starts; a request the control sends to /healthz shows the counter does count.
"""

import asyncio
import re
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from autoconfig.web.app import AppOptions, create_app
from autoconfig.web.dispatch import FAST_TABLE

from .conftest import BUNDLED, DATA, VARIED, live_server
from .test_web_autodiscover import OUT, pox
from .test_web_microsoft import mobilesync_request

CONFIGS = {
    "bundled": BUNDLED,
    "varied": VARIED,
    "activesync": DATA / "activesync.yaml",
    "security": DATA / "security.yaml",
}
UNCOMPARED = {"date", "x-request-id", "server"}
"""Headers that differ between any two answers: the clock, a random per-process prefix, and
the Server header, which only the fast dispatch sets (tests/test_answer_headers.py)."""
REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]+\Z")
PLAIN_POX = "/autodiscover/autodiscover.xml"
THUNDERBIRD = "/mail/config-v1.1.xml"
JSON = "/autodiscover/autodiscover.json"

ADDRESSES = [
    # listed domains of the four files, in several letter cases and encodings
    "alice@example.com",
    "Bob@EXAMPLE.net",
    "carol@groupware.example.org",
    "dan@oauth.example",
    "eve@Bücher.example",
    "eve@xn--bcher-kva.example",
    "j@sync.example",
    "n@nosync.example",
    "o.p@peruser.example",
    "q@plain.example",
    "s@sso.example",
    # wildcard domains
    "x@shop.customers.example.org",
    "f@a.sites.hoster.example",
    "k@t1.tenants.sync.example",
    "a.b@x.y.tenants.plain.example",
    # redirects: to another address, to another URL, a redirect-only provider
    "g@moved.example",
    "h@elsewhere.example",
    "i@redirect.example",
    "l@moved.sync.example",
    "m@away.sync.example",
    "r@away.example",
    # unknown domains
    "nobody@unknown.invalid",
    "someone@example.org",
    # not addresses
    "not-an-address",
    "@example.com",
    "a@",
    "a@b@example.com",
    "a@-bad-.example",
    '"quoted local"@example.com',
    "a b@example.com",
    "a@exa_mple.com",
    "<x>@example.com",
]

QUERY_FORMS: list[Callable[[str], str]] = [
    lambda a: f"emailaddress={quote(a, safe='@')}",
    lambda a: f"EmailAddress={quote(a, safe='')}",
    lambda a: f"EMAIL={quote_plus(a)}",
    lambda a: f"Email={quote(a, safe='@')}&Protocol=AutodiscoverV1",
    lambda a: f"email={quote(a)}&protocol=activesync",
    lambda a: f"utm_source=x&flag&emailaddress={quote(a, safe='@')}&emailaddress=zz@example.com",
    lambda a: f"%65mailaddress={quote(a, safe='')}&Protocol=Bogus",
]
"""Ways clients put the address in the query: names in any case, other parameters around it,
`@` plain or percent-encoded, a percent-encoded name."""

ODD_QUERIES = [
    "",
    "?",
    "?emailaddress=",
    "?emailaddress",
    "?email=&emailaddress=alice@example.com",
    "?Protocol=AutodiscoverV1",
    "?protocol=autodiscoverv1&email=alice%40example.com",
    "?emailaddress=alice@example.com&",
    "?&&emailaddress=alice@example.com",
    "?emailaddress=alice@example.com#fragment",
    "?emailaddress=%E2%82%AC@example.com",
    "?emailaddress=%ZZ@example.com",
    "?emailaddress=alice%2540example.com",
]

HOSTS = [
    "autoconfig.example.com",
    "autodiscover.example.com",
    "ua-auto-config.groupware.example.org",
    "example.com",
    "autoconfig.oauth.example",
    "autodiscover.sync.example",
    "autoconfig.unknown.invalid",
    "autodiscover.elsewhere.example",
    "[::1]:8080",
    "bad_host!",
]
"""Host headers: the domain is taken from them when the query names no address."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    request_id: str | None

    @classmethod
    def of(cls, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> "Answer":
        headers = tuple(headers)
        ids = [v for k, v in headers if k.lower() == "x-request-id"]
        kept = tuple((k.lower(), v) for k, v in headers if k.lower() not in UNCOMPARED)
        return cls(status, kept, body, ids[0] if ids else None)

    def same_as(self, other: "Answer") -> bool:
        return (self.status, self.headers, self.body) == (other.status, other.headers, other.body)

    def same_kind_as(self, other: "Answer") -> bool:
        """For answers that carry the process's own figures: the same status and type."""
        kind = dict(self.headers).get("content-type")
        return (self.status, kind) == (other.status, dict(other.headers).get("content-type"))


async def send(
    client: TestClient,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    """One request with the target sent exactly as written (already percent-encoded)."""
    url = URL(f"http://{client.host}:{client.port}{target}", encoded=True)
    async with client.session.request(
        method, url, headers=headers, data=body, allow_redirects=False
    ) as response:
        return await answer_of(response)


async def answer_of(response: ClientResponse) -> Answer:
    """Headers as sent (name case, order and repeats kept), for an exact comparison."""
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
    return Answer.of(response.status, headers, await response.read())


async def exchange(client: TestClient, request: bytes, timeout: float = 10) -> Answer:
    """Raw bytes to the server on a new connection ("Connection: close"), the answer parsed."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return parse_answer(data)


def parse_answer(data: bytes) -> Answer:
    """The final answer; interim ones (100 Continue) before it are skipped."""
    head, _, body = data.partition(b"\r\n\r\n")
    while re.match(rb"HTTP/1\.1 1\d\d ", head):
        head, _, body = body.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    return Answer.of(int(status_line.split()[1]), headers, body)  # type: ignore[arg-type]


def raw_request(
    method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    fields = {"Host": "autoconfig.example.com", "Connection": "close", **(headers or {})}
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items())]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def count_routing(app: web.Application) -> list[str]:
    """Every request the app's router resolves, as "METHOD raw-path"; wrapped before start-up."""
    seen: list[str] = []
    resolve = app.router.resolve

    async def counting(request: web.Request):  # type: ignore[no-untyped-def]
        seen.append(f"{request.method} {request.raw_path}")
        return await resolve(request)

    app.router.resolve = counting  # type: ignore[method-assign]
    return seen


@pytest.fixture
def pair(aiohttp_client):
    """Two clients on the same configuration: through the fast table, and routed-only (a test
    server handed to the client fixture as it is keeps aiohttp's routing)."""

    async def make(config: Path, **options) -> tuple[TestClient, TestClient]:
        fast = await aiohttp_client(create_app(AppOptions(config_path=config, **options)))
        routed_server = TestServer(create_app(AppOptions(config_path=config, **options)))
        routed = await aiohttp_client(routed_server)
        return fast, routed

    return make


OWN_FIGURES = ("/metrics", "/healthz")
"""Answers made of the process's own figures (latencies, load times), which two apps never
share: compared by status and type only."""


async def compare(fast: TestClient, routed: TestClient, requests: Iterable[tuple]) -> int:
    """Sends each (method, target, headers, body) to both; fails listing every difference."""
    differences = []
    count = 0
    for method, target, headers, body in requests:
        one = await send(fast, method, target, headers, body)
        other = await send(routed, method, target, headers, body)
        count += 1
        assert one.status < 500, (method, target, headers, body, one)
        alike = one.same_kind_as if target.startswith(OWN_FIGURES) else one.same_as
        if not alike(other):
            differences.append((method, target, headers, body, one, other))
        if one.status != 429:  # the limiter answers before the handler's wrapper
            assert one.request_id is not None and other.request_id is not None, (target, one)
    assert not differences, differences[:3]
    return count


def get_requests(path: str) -> list[tuple]:
    requests = []
    for n, address in enumerate(ADDRESSES):
        for form in dict.fromkeys((QUERY_FORMS[0], QUERY_FORMS[n % len(QUERY_FORMS)])):
            requests.append(("GET", f"{path}?{form(address)}", None, None))
    requests += [("GET", path + query, None, None) for query in ODD_QUERIES]
    requests += [("GET", path, {"Host": host}, None) for host in HOSTS]
    requests += [
        ("GET", path, {"X-Forwarded-Host": "autoconfig.example.com"}, None),
        ("GET", f"{path}?emailaddress=alice@example.com", {"Accept-Language": "fr"}, None),
        ("GET", f"{path}?emailaddress=alice@example.com", {"X-Request-Id": "given-1"}, None),
    ]
    return requests


def post_requests(path: str) -> list[tuple]:
    xml = {"Content-Type": "text/xml"}
    safe = [a for a in ADDRESSES if "<" not in a]
    requests = [("POST", path, xml, pox(address)) for address in safe]
    requests += [("POST", path, xml, mobilesync_request(address)) for address in safe[::2]]
    requests += [
        ("POST", path, xml, pox("alice@example.com", schema=None)),
        ("POST", path, xml, pox("alice@example.com", schema="urn:other")),
        ("POST", path, xml, mobilesync_request("j@sync.example", schema=None)),
        ("POST", path, None, pox("alice@example.com")),
        ("POST", path, xml, b""),
        ("POST", path, xml, b"<Autodiscover/>"),
        ("POST", path, xml, b"not xml at all"),
        ("POST", path, xml, b"\xff\xfe<\x00"),
        ("POST", path, xml, b"<x>" + b"y" * (16 * 1024 + 1) + b"</x>"),
        ("POST", f"{path}?emailaddress=alice@example.com", xml, pox("bob@example.net")),
        ("POST", path, {**xml, "X-Request-Id": "given-2"}, pox("alice@example.com")),
    ]
    return requests


def requests_for(method: str, path: str) -> list[tuple]:
    return get_requests(path) if method == "GET" else post_requests(path)


FAST_PATHS = sorted(create_app(AppOptions(config_path=BUNDLED))[FAST_TABLE].routes)


# 1. Same answers both ways ------------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize(("method", "path"), FAST_PATHS, ids=[f"{m} {p}" for m, p in FAST_PATHS])
async def test_fast_dispatch_answers_exactly_like_the_router(pair, config, method, path):
    fast, routed = await pair(config)
    assert (method, path) in fast.app[FAST_TABLE].routes
    assert await compare(fast, routed, requests_for(method, path)) > 40


def test_every_table_entry_is_compared():
    """Every configuration's table is the list compared above: no fast route goes untested."""
    for config in CONFIGS.values():
        assert sorted(create_app(AppOptions(config_path=config))[FAST_TABLE].routes) == FAST_PATHS


@pytest.fixture
async def security_pair(pair):
    return await pair(CONFIGS["security"])


query_keys = st.sampled_from(
    ["emailaddress", "EmailAddress", "EMAIL", "email", "Protocol", "protocol", "x", "%65mail", ""]
)
query_values = st.one_of(
    st.sampled_from(ADDRESSES).map(lambda a: quote(a, safe="@")),
    st.sampled_from(["AutodiscoverV1", "ActiveSync", "bogus", "", "%40", "%", "+", "a+b@x"]),
    st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=20).map(
        lambda t: quote(t, safe="@%+=")
    ),
)
queries = st.lists(
    st.tuples(query_keys, query_values).map(lambda kv: "=".join(kv)), max_size=4
).map("&".join)


SHARED_CLIENTS = [HealthCheck.function_scoped_fixture]
"""The examples share one pair of apps: no request leaves state that a later example sees."""


@settings(max_examples=120, deadline=None, suppress_health_check=SHARED_CLIENTS)
@given(
    route=st.sampled_from(FAST_PATHS),
    query=queries,
    host=st.none() | st.sampled_from(HOSTS),
    address=st.sampled_from(ADDRESSES),
)
@example(route=("GET", THUNDERBIRD), query="emailaddress=a%40plain.example", host=None, address="")
async def test_generated_requests_answer_alike(security_pair, route, query, host, address):
    fast, routed = security_pair
    method, path = route
    target = f"{path}?{query}" if query else path
    headers = {"Host": host} if host else {}
    body = None
    if method == "POST":
        headers["Content-Type"] = "text/xml"
        body = pox(address) if "<" not in address else b"<Autodiscover/>"
    await compare(fast, routed, [(method, target, headers, body)])


# 2. The fast path is taken, and only where it should be --------------------------------------

_ALICE = ("?emailaddress=alice@example.com", {}, b"")
_PACC = ("", {"Host": "ua-auto-config.example.com"}, b"")
_POX_GET = ("?email=alice@example.com", {}, b"")
_POX_POST = ("", {"Content-Type": "text/xml"}, pox("alice@example.com"))
_NOTHING = ("", {}, b"")
WORKING_REQUEST = {
    ("GET", "/.well-known/autoconfig/mail/config-v1.1.xml"): _ALICE,
    ("GET", "/.well-known/user-agent-configuration"): _PACC,
    ("GET", "/.well-known/user-agent-configuration.json"): _PACC,
    ("GET", "/"): _NOTHING,
    ("GET", "/Autodiscover/Autodiscover.xml"): _POX_GET,
    ("GET", "/apple/mobileconfig"): _ALICE,
    ("GET", "/autodiscover/autodiscover.json"): (
        "?Email=alice@example.com&Protocol=AutodiscoverV1",
        {},
        b"",
    ),
    ("GET", "/autodiscover/autodiscover.xml"): _POX_GET,
    ("GET", "/catalog"): _NOTHING,
    ("GET", "/email.mobileconfig"): _ALICE,
    ("GET", "/healthz"): _NOTHING,
    ("GET", "/mail/config-v1.1.xml"): _ALICE,
    ("GET", "/metrics"): _NOTHING,
    ("GET", "/readyz"): _NOTHING,
    ("GET", "/settings"): _ALICE,
    ("GET", "/static/copy.js"): _NOTHING,
    ("GET", "/static/settings.css"): _NOTHING,
    ("POST", "/Autodiscover/Autodiscover.xml"): _POX_POST,
    ("POST", "/autodiscover/autodiscover.xml"): _POX_POST,
}
"""A request each exact path answers with 200."""


def test_every_exact_path_has_a_working_request():
    assert sorted(WORKING_REQUEST) == FAST_PATHS


@pytest.fixture
async def counted(aiohttp_client) -> tuple[TestClient, list[str]]:
    app = create_app(AppOptions(config_path=BUNDLED))
    seen = count_routing(app)
    return await aiohttp_client(app), seen


async def test_every_client_path_skips_the_router(counted):
    client, seen = counted
    for method, path in client.app[FAST_TABLE].routes:
        query, headers, body = WORKING_REQUEST[(method, path)]
        request = raw_request(method, path + query, headers, body)
        answer = await exchange(client, request)
        assert answer.status == 200, (method, path, answer)
        assert answer.request_id is not None
        assert seen == [], (method, path)
    # the control: a path outside the table is resolved, and counted
    assert (await exchange(client, raw_request("GET", "/v1.1/example.com"))).status == 200
    assert seen == ["GET /v1.1/example.com"]


async def test_keep_alive_connection_mixes_fast_and_routed_requests(counted):
    """One connection: fast, routed, fast; each answer belongs to its own request."""
    client, seen = counted
    for path, status in [
        (f"{THUNDERBIRD}?emailaddress=alice@example.com", 200),
        ("/nowhere", 404),
        (f"{THUNDERBIRD}?emailaddress=bob@unknown.invalid", 404),
        (f"{THUNDERBIRD}?emailaddress=carol@example.net", 200),
    ]:
        response = await client.get(path)
        assert response.status == status, path
        await response.read()
    assert seen == ["GET /nowhere"]


@pytest.fixture
async def counted_pair(pair, aiohttp_client) -> tuple[TestClient, TestClient, list[str]]:
    app = create_app(AppOptions(config_path=BUNDLED))
    seen = count_routing(app)
    fast = await aiohttp_client(app)
    _, routed = await pair(BUNDLED)
    return fast, routed, seen


ALICE = "emailaddress=alice@example.com"
ROUTED = [
    pytest.param("HEAD", f"{THUNDERBIRD}?{ALICE}", {}, b"", 200, id="head"),
    pytest.param("HEAD", f"/email.mobileconfig?{ALICE}", {}, b"", 200, id="head-apple"),
    pytest.param("GET", f"/mail/config%2Dv1.1.xml?{ALICE}", {}, b"", 200, id="percent-encoded"),
    pytest.param("GET", f"/%6Dail/config-v1.1.xml?{ALICE}", {}, b"", 200, id="percent-encoded-2"),
    pytest.param("GET", f"{THUNDERBIRD}/?{ALICE}", {}, b"", 404, id="trailing-slash"),
    pytest.param("GET", f"/MAIL/config-v1.1.xml?{ALICE}", {}, b"", 404, id="other-case"),
    pytest.param("GET", f"/mail//config-v1.1.xml?{ALICE}", {}, b"", 404, id="double-slash"),
    pytest.param("POST", THUNDERBIRD, {}, b"", 405, id="post-to-get-path"),
    pytest.param("PUT", PLAIN_POX, {}, pox("alice@example.com"), 405, id="put"),
    pytest.param("OPTIONS", PLAIN_POX, {}, b"", 405, id="options"),
    pytest.param(
        "POST",
        "/autodiscover/AutoDiscover.xml",
        {"Content-Type": "text/xml"},
        pox("alice@example.com"),
        200,
        id="regex-pox-route",
    ),
    pytest.param(
        "GET",
        "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=AutodiscoverV1",
        {},
        b"",
        200,
        id="path-address",
    ),
    pytest.param(
        "GET",
        f"http://autoconfig.example.com{THUNDERBIRD}?{ALICE}",
        {},
        b"",
        200,
        id="absolute-form",
    ),
    pytest.param(
        "POST",
        PLAIN_POX,
        {"Content-Type": "text/xml", "Expect": "something-else"},
        pox("alice@example.com"),
        417,
        id="unsupported-expect",
    ),
    pytest.param(
        "GET", f"{THUNDERBIRD}?{ALICE}", {"Expect": "100-continue"}, b"", 200, id="expect-on-get"
    ),
    pytest.param("GET", "/nowhere", {}, b"", 404, id="unknown-path"),
]


@pytest.mark.parametrize(("method", "target", "headers", "body", "status"), ROUTED)
async def test_other_requests_get_the_routers_answer(
    counted_pair, method, target, headers, body, status
):
    fast, routed, seen = counted_pair
    request = raw_request(method, target, headers, body)
    one = await exchange(fast, request)
    other = await exchange(routed, request)
    assert seen == [f"{method} {target}"]
    assert one.status == status, one
    assert one.same_as(other), (one, other)
    if method == "HEAD":
        assert one.body == b""
        assert int(dict(one.headers)["content-length"]) > 1000


async def test_percent_encoded_path_gets_the_same_document_as_the_plain_one(counted):
    client, seen = counted
    plain = await exchange(client, raw_request("GET", f"{THUNDERBIRD}?{ALICE}"))
    encoded = await exchange(client, raw_request("GET", f"/mail/config%2Dv1.1.xml?{ALICE}"))
    assert plain.status == encoded.status == 200
    assert plain.body == encoded.body
    assert plain.headers == encoded.headers
    assert seen == [f"GET /mail/config%2Dv1.1.xml?{ALICE}"]


async def test_head_gets_the_gets_headers_without_a_body(counted):
    client, seen = counted
    get = await exchange(client, raw_request("GET", f"{THUNDERBIRD}?{ALICE}"))
    head = await exchange(client, raw_request("HEAD", f"{THUNDERBIRD}?{ALICE}"))
    assert get.status == head.status == 200
    assert head.body == b""
    assert dict(head.headers)["content-length"] == str(len(get.body))
    assert head.headers == get.headers
    assert seen == [f"HEAD {THUNDERBIRD}?{ALICE}"]


@pytest.mark.parametrize("path", [PLAIN_POX, "/Autodiscover/Autodiscover.xml"])
async def test_expect_100_continue_is_answered_before_the_body_is_sent(counted, path):
    """The server must send 100 Continue while the client holds the body back."""
    client, seen = counted
    body = pox("alice@example.com")
    head = raw_request(
        "POST", path, {"Content-Type": "text/xml", "Expect": "100-continue"}, body
    ).removesuffix(body)
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head)
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        await writer.drain()
        answer = parse_answer(await asyncio.wait_for(reader.read(), 10))
    finally:
        writer.close()
    assert answer.status == 200, answer
    root = etree.fromstring(answer.body)
    assert root.findtext(f".//{OUT}Protocol/{OUT}LoginName") == "alice@example.com"
    assert seen == [f"POST {path}"]


async def test_expect_100_continue_through_aiohttps_client(counted_pair):
    fast, routed, seen = counted_pair
    answers = []
    for client in (fast, routed):
        response = await client.post(
            PLAIN_POX,
            data=pox("bob@example.net"),
            headers={"Content-Type": "text/xml"},
            expect100=True,
        )
        answers.append(await answer_of(response))
    assert answers[0].status == 200
    assert answers[0].same_as(answers[1])
    assert seen == [f"POST {PLAIN_POX}"]


# 3. The rate limit sees every request, fast or routed ------------------------------------------


async def test_rate_limit_applies_to_the_client_paths(aiohttp_client):
    """A burst of one request per fast route passes; the next round is refused on every one
    but the probes, which are never limited (a load balancer probes from one address)."""
    probes = {"/healthz", "/readyz", "/metrics"}
    limited = [path for _, path in FAST_PATHS if path not in probes]
    app = create_app(AppOptions(config_path=BUNDLED, rate_limit=0.001, rate_burst=len(limited)))
    assert app.middlewares
    seen = count_routing(app)
    client = await aiohttp_client(app)
    first, second = [], []
    for answers in (first, second):
        for method, path in FAST_PATHS:
            query, headers, body = WORKING_REQUEST[(method, path)]
            answers.append(await exchange(client, raw_request(method, path + query, headers, body)))
    assert [a.status for a in first] == [200] * len(FAST_PATHS)
    expected = [200 if path in probes else 429 for _, path in FAST_PATHS]
    assert [a.status for a in second] == expected, "probes are never limited"
    for answer in (a for a in second if a.status == 429):
        assert answer.body == b"Too many requests; try again later.\n"
        assert int(dict(answer.headers)["retry-after"]) >= 1
    assert seen == [], "the rate limit keeps the fast path"


async def test_rate_limited_answers_are_the_same_both_ways(pair):
    fast, routed = await pair(BUNDLED, rate_limit=0.001, rate_burst=3)
    requests = [("GET", f"{THUNDERBIRD}?{ALICE}", None, None)] * 5
    requests += [("POST", PLAIN_POX, {"Content-Type": "text/xml"}, pox("alice@example.com"))]
    statuses = []
    for request in requests:
        one = await send(fast, *request)
        other = await send(routed, *request)
        assert one.same_as(other), (one, other)
        statuses.append(one.status)
    assert statuses == [200, 200, 200, 429, 429, 429]


# 4. Metrics and request ids -------------------------------------------------------------------


def request_counts(text: str) -> dict[tuple[str, str, str], float]:
    counts = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "autoconfig_requests_total":
                labels = sample.labels
                counts[(labels["endpoint"], labels["family"], labels["status"])] = sample.value
            if sample.name == "autoconfig_request_duration_seconds_count":
                counts[("duration-count", sample.labels["family"], "")] = sample.value
    return counts


async def test_metrics_count_fast_path_requests(counted_pair):
    fast, routed, seen = counted_pair
    xml = {"Content-Type": "text/xml"}
    requests = [
        ("GET", f"{THUNDERBIRD}?{ALICE}", None, None),
        ("GET", f"/.well-known/autoconfig{THUNDERBIRD}?{ALICE}", None, None),
        ("GET", f"{THUNDERBIRD}?emailaddress=x@shop.customers.example.org", None, None),
        ("GET", f"{THUNDERBIRD}?emailaddress=nobody@unknown.invalid", None, None),
        ("GET", f"{THUNDERBIRD}?emailaddress=broken", None, None),
        ("POST", PLAIN_POX, xml, pox("alice@example.com")),
        ("POST", PLAIN_POX, xml, b"not xml"),
        ("GET", f"/email.mobileconfig?{ALICE}", None, None),
        ("GET", "/email.mobileconfig", None, None),
        (
            "GET",
            "/autodiscover/autodiscover.json?Email=a@example.com&Protocol=ActiveSync",
            None,
            None,
        ),
    ]
    await compare(fast, routed, requests)
    assert seen == []
    pages = []
    for client in (fast, routed):
        response = await client.get("/metrics")
        assert response.status == 200
        pages.append(request_counts(await response.text()))
    counts = pages[0]
    assert counts[("config-v1.1.xml", "thunderbird", "200")] == 3
    assert counts[("config-v1.1.xml", "thunderbird", "404")] == 1
    assert counts[("config-v1.1.xml", "thunderbird", "400")] == 1
    assert counts[("duration-count", "thunderbird", "")] == 5
    assert counts[("autodiscover.xml", "outlook", "200")] == 2  # error 600 is a 200 too
    assert counts[("mobileconfig", "apple", "200")] == 1
    assert counts[("mobileconfig", "apple", "400")] == 1
    assert counts[("autodiscover.json", "outlook-json", "404")] == 1
    assert pages[0] == pages[1]
    assert seen == []


@pytest.mark.parametrize(
    ("method", "target", "body", "status"),
    [
        ("GET", f"{THUNDERBIRD}?{ALICE}", b"", 200),
        ("GET", f"{THUNDERBIRD}?emailaddress=broken", b"", 400),  # raised HTTPBadRequest
        ("GET", f"{THUNDERBIRD}?emailaddress=a@unknown.invalid", b"", 404),
        ("POST", PLAIN_POX, pox("alice@example.com"), 200),
        ("GET", "/email.mobileconfig?emailaddress=x", b"", 400),
        ("GET", f"{JSON}?Email=a@example.com", b"", 400),
    ],
)
async def test_request_ids_on_fast_path_answers(counted, method, target, body, status):
    client, seen = counted
    headers = {"Host": "[::1]"}  # no domain to fall back on
    if body:
        headers["Content-Type"] = "text/xml"
    generated = [
        await exchange(client, raw_request(method, target, headers, body)) for _ in range(2)
    ]
    echoed = await exchange(
        client, raw_request(method, target, {**headers, "X-Request-Id": "trace-42.a:b"}, body)
    )
    replaced = await exchange(
        client, raw_request(method, target, {**headers, "X-Request-Id": "no spaces/here"}, body)
    )
    assert seen == []
    assert {a.status for a in (*generated, echoed, replaced)} == {status}
    ids = [a.request_id for a in generated]
    assert all(i is not None and REQUEST_ID.match(i) for i in ids), ids
    assert ids[0] != ids[1]
    assert echoed.request_id == "trace-42.a:b"
    assert replaced.request_id is not None and REQUEST_ID.match(replaced.request_id)


# 5. `autoconfig serve` -----------------------------------------------------------------------


def test_serve_answers_thunderbird_and_outlook():
    with live_server(BUNDLED, "--no-watch") as url:
        with urllib.request.urlopen(f"{url}{THUNDERBIRD}?{ALICE}", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
            assert REQUEST_ID.match(response.headers["X-Request-Id"])
            config = etree.fromstring(response.read())
        request = urllib.request.Request(
            url + PLAIN_POX,
            data=pox("alice@example.com"),
            headers={"Content-Type": "text/xml", "X-Request-Id": "live-1"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert response.headers["X-Request-Id"] == "live-1"
            assert response.headers["Cache-Control"] == "no-store"
            answer = etree.fromstring(response.read())
    provider = config.find("emailProvider")
    assert provider.get("id") == "example.com"
    assert [s.findtext("hostname") for s in provider.findall("incomingServer")] == [
        "imap.example.com",
        "pop.example.com",
    ]
    logins = {p.findtext(f"{OUT}LoginName") for p in answer.iter(f"{OUT}Protocol")}
    servers = [p.findtext(f"{OUT}Server") for p in answer.iter(f"{OUT}Protocol")]
    assert logins == {"alice@example.com"}
    assert servers[0] == "imap.example.com"
