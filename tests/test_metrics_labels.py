"""The labels of `autoconfig_requests_total` and the latency histogram are a contract: dashboards
and alerts are written against them. Every route a client can reach is asked once, on a real
server with its plain-HTTP listener, and each request must count under its own, stable labels."""

import re
import urllib.error
import urllib.request

import pytest

from .conftest import BUNDLED, free_port
from .server_support import ServerProcess
from .test_web_autodiscover import pox

_SAMPLE = re.compile(
    r'^autoconfig_requests_total\{endpoint="([^"]*)",family="([^"]*)",status="(\d+)"\} (\S+)$'
)

ADDRESS = "a%40example.com"
MAIN_PORT_REQUESTS = [
    ("GET", f"/mail/config-v1.1.xml?emailaddress={ADDRESS}", ("config-v1.1.xml", "thunderbird")),
    (
        "GET",
        f"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={ADDRESS}",
        ("config-v1.1.xml", "thunderbird"),
    ),
    ("GET", "/v1.1/example.com", ("ispdb", "thunderbird")),
    ("POST", "/autodiscover/autodiscover.xml", ("autodiscover.xml", "outlook")),
    ("POST", "/AutoDiscover/AUTODISCOVER.XML", ("autodiscover.xml", "outlook")),
    (
        "GET",
        f"/autodiscover/autodiscover.xml?emailaddress={ADDRESS}",
        ("autodiscover.xml", "outlook"),
    ),
    (
        "GET",
        f"/autodiscover/autodiscover.json?Email={ADDRESS}&Protocol=AutodiscoverV1",
        ("autodiscover.json", "outlook-json"),
    ),
    (
        "GET",
        "/autodiscover/autodiscover.json/v1.0/a@example.com?Protocol=AutodiscoverV1",
        ("autodiscover.json", "outlook-json"),
    ),
    ("GET", f"/email.mobileconfig?emailaddress={ADDRESS}", ("mobileconfig", "apple")),
    ("GET", f"/apple/mobileconfig?emailaddress={ADDRESS}", ("mobileconfig", "apple")),
    ("GET", "/.well-known/user-agent-configuration.json", ("user-agent-configuration", "pacc")),
    ("GET", "/.well-known/user-agent-configuration", ("user-agent-configuration", "pacc")),
    ("GET", "/", ("index", "people")),
    ("GET", f"/settings?emailaddress={ADDRESS}", ("settings_for_address", "people")),
    ("GET", "/settings/example.com", ("settings_for_domain", "people")),
    ("GET", "/static/settings.css", ("static", "people")),
    ("GET", "/static/copy.js", ("static", "people")),
    ("GET", "/healthz", ("healthz", "operations")),
    ("GET", "/readyz", ("readyz", "operations")),
    ("GET", "/catalog", ("catalog", "operations")),
]
PLAIN_HTTP_REQUESTS = [
    ("GET", f"/mail/config-v1.1.xml?emailaddress={ADDRESS}", ("config-v1.1.xml", "thunderbird")),
    ("GET", "/healthz", ("healthz", "operations")),
    ("GET", "/readyz", ("readyz", "operations")),
    ("GET", "/autodiscover/autodiscover.xml", ("http-redirect", "redirect")),
]
FAMILIES = {"thunderbird", "outlook", "outlook-json", "apple", "pacc", "people", "operations"}
"""Every family whose histogram the main app registers; the plain listener adds "redirect"."""


def _send(base: str, method: str, path: str) -> None:
    body = pox("a@example.com") if method == "POST" else None
    request = urllib.request.Request(
        base + path,
        data=body,
        method=method,
        headers={"Host": "autoconfig.example.com", "Content-Type": "text/xml"},
    )
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=10) as reply:
            reply.read()
    except urllib.error.HTTPError as error:
        error.read()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _counts(base: str) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    counts: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        sample = _SAMPLE.match(line)
        if sample:
            endpoint, family, _, value = sample.groups()
            counts[(endpoint, family)] = counts.get((endpoint, family), 0.0) + float(value)
    return counts


def _families(base: str) -> set[str]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return set(
        re.findall(r'^autoconfig_request_duration_seconds_count\{family="([^"]*)"\}', text, re.M)
    )


@pytest.fixture(scope="module")
def server():
    http_port = free_port()
    with ServerProcess(BUNDLED, "--http-port", str(http_port)) as process:
        yield process, f"http://127.0.0.1:{http_port}"


@pytest.mark.parametrize(("method", "path", "labels"), MAIN_PORT_REQUESTS)
def test_each_route_counts_under_its_own_labels(server, method, path, labels):
    process, _ = server
    before = _counts(process.url)
    _send(process.url, method, path)
    after = _counts(process.url)
    changed = {key for key in after if after[key] != before.get(key, 0.0)}
    assert changed - {("metrics", "operations")} == {labels}


@pytest.mark.parametrize(("method", "path", "labels"), PLAIN_HTTP_REQUESTS)
def test_the_plain_http_listener_counts_under_the_same_labels(server, method, path, labels):
    process, plain = server
    before = _counts(process.url)
    _send(plain, method, path)
    after = _counts(process.url)
    changed = {key for key in after if after[key] != before.get(key, 0.0)}
    assert changed - {("metrics", "operations")} == {labels}


def test_the_metrics_page_counts_itself_and_every_family_has_a_histogram(server):
    process, _ = server
    before = _counts(process.url).get(("metrics", "operations"), 0.0)
    assert _counts(process.url)[("metrics", "operations")] == before + 1
    assert _families(process.url) == FAMILIES | {"redirect"}
