"""Privacy: nothing the server answers tells an existing mailbox from a non-existent one.

The server cannot know: it has no list of mailboxes, only domains (providers.yaml has no key for
one, and Catalog.lookup takes a domain). These tests keep it that way from three sides:

- structure: for every endpoint and every kind of domain, the answer for an address that looks
  like a real mailbox (postmaster@, alice@) is byte for byte the answer for a random local part of
  the same length with that local part written in, status and headers included (UUIDs that the
  Apple profile derives from the address aside);
- code path: every lookup the handlers make is for a domain; the local part never reaches the
  catalog;
- timing: interleaved medians over a few hundred requests. The margin is wide on purpose (a
  factor of two): with no lookup on the local part there is nothing to measure, and a test that
  flakes on a busy machine proves nothing. SECURITY.md explains why timing cannot differ.
"""

import inspect
import random
import re
import statistics
import string
import time

import pytest
from yarl import URL

from autoconfig.catalog import Catalog
from autoconfig.config import spec
from autoconfig.web.app import AppOptions, create_app

from .security_support import SECURITY_YAML

OUTLOOK_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
MOBILESYNC_REQUEST_NS = (
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
)
DOMAINS = [
    "plain.example",  # served, settings
    "x.tenants.plain.example",  # served through a wildcard
    "peruser.example",  # host names built from the local part
    "moved.example",  # redirectAddr
    "away.example",  # redirectUrl
    "sso.example",  # no Apple profile possible
    "redirect.example",  # redirect only, no servers
    "nowhere.example",  # not served
]
LIKELY = ["postmaster", "alice", "info", "admin", "abuse"]
"""Local parts that exist at nearly every real domain: what an enumerator would try first."""
UUID = re.compile(rb"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
VOLATILE_HEADERS = {"date", "x-request-id"}


def _random_local(length: int, rng: random.Random) -> str:
    """A local part of the given length that cannot collide with any text of an answer."""
    return "zq" + "".join(
        rng.choice(string.ascii_lowercase + string.digits) for _ in range(length - 2)
    )


def _pox(namespace: str, address: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{namespace}"><Request>'
        f"<EMailAddress>{address}</EMailAddress></Request></Autodiscover>"
    ).encode()


REQUESTS = {
    "thunderbird": lambda a: ("GET", f"/mail/config-v1.1.xml?emailaddress={a}", None),
    "autodiscover-get": lambda a: ("GET", f"/autodiscover/autodiscover.xml?email={a}", None),
    "autodiscover-post": lambda a: (
        "POST",
        "/autodiscover/autodiscover.xml",
        _pox(OUTLOOK_REQUEST_NS, a),
    ),
    "mobilesync": lambda a: (
        "POST",
        "/autodiscover/autodiscover.xml",
        _pox(MOBILESYNC_REQUEST_NS, a),
    ),
    "json-v1": lambda a: (
        "GET",
        f"/autodiscover/autodiscover.json?Email={a}&Protocol=AutodiscoverV1",
        None,
    ),
    "json-activesync": lambda a: (
        "GET",
        f"/autodiscover/autodiscover.json/v1.0/{a}?Protocol=ActiveSync",
        None,
    ),
    "apple": lambda a: ("GET", f"/email.mobileconfig?emailaddress={a}", None),
    "settings": lambda a: ("GET", f"/settings?emailaddress={a}", None),
}


@pytest.fixture
async def app_client(aiohttp_client):
    return await aiohttp_client(create_app(AppOptions(config_path=SECURITY_YAML)))


async def _answer(client, kind: str, address: str) -> tuple[int, dict[str, str], bytes]:
    method, target, body = REQUESTS[kind](address)
    url = URL(f"http://127.0.0.1:{client.port}{target}", encoded=True)
    async with client.session.request(method, url, data=body, allow_redirects=False) as response:
        headers = {k: v for k, v in response.headers.items() if k.lower() not in VOLATILE_HEADERS}
        return response.status, headers, await response.read()


def _with_local(answer: tuple[int, dict[str, str], bytes], old: str, new: str):
    """The answer with one local part written as another, and address-derived UUIDs masked."""
    status, headers, body = answer
    body = UUID.sub(b"UUID", body.replace(old.encode(), new.encode()))
    return status, {k: v.replace(old, new) for k, v in headers.items()}, body


@pytest.mark.parametrize("kind", REQUESTS)
@pytest.mark.parametrize("domain", DOMAINS)
async def test_likely_and_random_mailboxes_get_the_same_answer(app_client, kind, domain):
    rng = random.Random(f"{kind}/{domain}")
    for likely in LIKELY:
        other = _random_local(len(likely), rng)
        mailbox = await _answer(app_client, kind, f"{likely}@{domain}")
        nobody = await _answer(app_client, kind, f"{other}@{domain}")
        assert _with_local(nobody, other, likely) == _with_local(mailbox, likely, likely), (
            f"{kind} tells {likely}@{domain} from {other}@{domain}"
        )


@pytest.mark.parametrize("domain", DOMAINS)
async def test_thunderbird_answer_is_the_same_for_every_user_of_a_domain(app_client, domain):
    """Stronger than above: the document holds no trace of the address at all."""
    answers = [await _answer(app_client, "thunderbird", f"{local}@{domain}") for local in LIKELY]
    assert len({(status, body) for status, _, body in answers}) == 1


async def test_lookups_never_see_the_local_part(app_client, monkeypatch):
    """Every catalog lookup a request causes is for a domain: the local part goes nowhere."""
    seen: list[str] = []
    original = Catalog.lookup

    def spy(self, domain, *args, **kwargs):
        seen.append(domain)
        return original(self, domain, *args, **kwargs)

    monkeypatch.setattr(Catalog, "lookup", spy)
    for kind in REQUESTS:
        for domain in DOMAINS:
            await _answer(app_client, kind, f"postmaster@{domain}")
    assert seen, "no lookup was observed"
    assert not [name for name in seen if "postmaster" in name or "@" in name]


def test_the_catalog_knows_domains_not_mailboxes():
    """No mailbox list can creep in unnoticed: lookup takes a domain, and providers.yaml has
    no key that could hold users, mailboxes or accounts."""
    parameters = list(inspect.signature(Catalog.lookup).parameters)
    assert parameters[:2] == ["self", "domain"]
    assert not [name for name in parameters if re.search("local|user|mailbox|address", name)]
    keys = {
        key.name.lower()
        for record in vars(spec).values()
        if isinstance(record, spec.Record)
        for key in record.keys
    }
    assert not [k for k in keys if re.search(r"mailbox|users|accounts|members|recipients", k)]


TIMING_ROUNDS = 300
TIMING_FACTOR = 2.0
"""Medians may differ by this factor before the test fails: far beyond noise, far below what a
per-mailbox lookup in a store (a database, LDAP, a file) would add."""


@pytest.mark.parametrize("kind", ["autodiscover-post", "json-v1", "apple", "settings"])
async def test_answer_time_does_not_depend_on_the_mailbox(app_client, kind):
    """Interleaved requests (likely, random, likely, ...) so that drift hits both alike."""
    rng = random.Random(kind)
    # As many distinct random local parts as likely ones, so that caches (the client's URL
    # cache among them) treat both sides alike.
    counterpart = {likely: _random_local(len(likely), rng) for likely in LIKELY}
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(TIMING_ROUNDS):
        likely = rng.choice(LIKELY)
        for is_likely in rng.sample([True, False], 2):
            local = likely if is_likely else counterpart[likely]
            started = time.perf_counter()
            await _answer(app_client, kind, f"{local}@plain.example")
            times[is_likely].append(time.perf_counter() - started)
    likely_median = statistics.median(times[True])
    random_median = statistics.median(times[False])
    ratio = likely_median / random_median
    print(f"{kind}: likely/random median ratio {ratio:.3f}")
    assert 1 / TIMING_FACTOR < ratio < TIMING_FACTOR, (
        f"{kind}: median {likely_median * 1e3:.3f} ms for likely mailboxes, "
        f"{random_median * 1e3:.3f} ms for random ones"
    )
