"""Soak: a minute of mixed client traffic with reloads, against a live server on loopback.

Skipped by `make test` (marker `soak`, deselected in pyproject's addopts); `make soak` runs it and
prints one summary line. What it proves:

- zero failed requests while the catalog is swapped every few seconds (SIGHUP, alternating
  between two valid files so that every reload really builds and frees a catalog);
- resident memory at the end within SOAK_RSS_BOUND of what it was after warm-up, although every
  request carries a different address (an unbounded cache keyed by address, a leaked catalog or a
  growing metrics label set would show here).

SOAK_SECONDS (default 60) and SOAK_CLIENTS (default 8) in the environment tune it.
"""

import asyncio
import itertools
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from .security_support import Answer, check_answer, crashes, live_server, rss_bytes

pytestmark = pytest.mark.soak

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
SOAK_CLIENTS = int(os.environ.get("SOAK_CLIENTS", "8"))
RELOAD_EVERY = 3.0
WARM_UP = 5.0
SOAK_RSS_BOUND = 30 * 1024 * 1024
"""Growth allowed from the end of warm-up to the end: allocator slack and a few catalogs in
flight, not a leak (one unique address a request for a minute would be far more if kept)."""
CHECK_EVERY = 25
"""Every this many answers is parsed and checked in full (the rest by status), so that the
client does not become the bottleneck."""

PROVIDERS = """\
providers:
  - id: soak.example
    displayName: Soak Mail {version}
    domains: [soak.example, "*.tenants.soak.example", bücher.example]
    incoming:
      - {{type: imap, hostname: imap.soak.example, socketType: SSL}}
      - {{type: pop3, hostname: pop.soak.example, socketType: SSL}}
    outgoing:
      - {{hostname: smtp.soak.example, socketType: SSL}}
    activeSync: https://eas.soak.example/Microsoft-Server-ActiveSync
    caldav: https://dav.soak.example/cal/
  - id: user.example
    displayName: Per User {version}
    domains: [user.example]
    incoming:
      - {{type: imap, hostname: "%EMAILLOCALPART%.imap.user.example", socketType: SSL,
          username: "%EMAILLOCALPART%"}}
    outgoing:
      - {{hostname: smtp.user.example, socketType: STARTTLS, port: 587}}
  - id: away.example
    displayName: Away
    domains: [away.example]
    redirectUrl: https://autodiscover.soak.example/autodiscover/autodiscover.xml
"""
DOMAINS = ("soak.example", "x.tenants.soak.example", "bücher.example", "user.example")

Request = tuple[str, str, dict[str, str], bytes | None, tuple[int, ...]]


def _pox(address: str, namespace: str) -> bytes:
    return (
        f'<Autodiscover xmlns="{namespace}"><Request><EMailAddress>{address}</EMailAddress>'
        "</Request></Autodiscover>"
    ).encode()


OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
MOBILESYNC_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
XML = {"Content-Type": "text/xml"}

MIX: tuple[tuple[int, Callable[[str, str], Request]], ...] = (
    (6, lambda a, d: ("GET", f"/mail/config-v1.1.xml?emailaddress={a}", {}, None, (200,))),
    (1, lambda a, d: ("GET", f"/v1.1/{d}", {}, None, (200,))),
    (5, lambda a, d: ("POST", "/autodiscover/autodiscover.xml", XML, _pox(a, OUTLOOK_NS), (200,))),
    (
        1,
        lambda a, d: (
            "POST",
            "/autodiscover/autodiscover.xml",
            XML,
            _pox(a, MOBILESYNC_NS),
            (200,),
        ),
    ),
    (
        3,
        lambda a, d: (
            "GET",
            f"/autodiscover/autodiscover.json?Email={a}&Protocol=AutodiscoverV1",
            {},
            None,
            (200,),
        ),
    ),
    (
        1,
        lambda a, d: (
            "GET",
            f"/autodiscover/autodiscover.json/v1.0/{a}?Protocol=ActiveSync",
            {},
            None,
            (200, 404),
        ),
    ),
    (2, lambda a, d: ("GET", f"/email.mobileconfig?emailaddress={a}", {}, None, (200,))),
    (2, lambda a, d: ("GET", f"/settings?emailaddress={a}", {}, None, (200,))),
    (
        1,
        lambda a, d: (
            "GET",
            "/.well-known/user-agent-configuration.json",
            {"Host": f"ua-auto-config.{d}"},
            None,
            (200,),
        ),
    ),
    (
        1,
        lambda a, d: (
            "GET",
            "/autodiscover/autodiscover.xml?email=k@away.example",
            {},
            None,
            (302,),
        ),
    ),
    (1, lambda a, d: ("GET", f"/nowhere/{a}", {}, None, (404,))),
    (1, lambda a, d: ("GET", "/healthz", {}, None, (200,))),
    (1, lambda a, d: ("GET", "/metrics", {}, None, (200, 404))),
)
"""(weight, request for an address at a domain): mostly what clients send, some noise."""


def _requests(seed: int) -> Iterator[Request]:
    rng = random.Random(seed)
    weighted = [make for weight, make in MIX for _ in range(weight)]
    for n in itertools.count():
        domain = rng.choice(DOMAINS)
        address = f"u{seed}x{n}{rng.randrange(10**6)}@{domain}"
        yield rng.choice(weighted)(address, domain)


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.errors: list[str] = []
        self.statuses: Counter[int] = Counter()


async def _client(session: aiohttp.ClientSession, base: str, seed: int, stop: float, tally):
    for n, (method, target, headers, body, allowed) in enumerate(_requests(seed)):
        if time.monotonic() >= stop:
            return
        try:
            async with session.request(
                method, base + target, headers=headers, data=body, allow_redirects=False
            ) as response:
                raw = await response.read()
                tally.statuses[response.status] += 1
                if response.status not in allowed:
                    tally.errors.append(f"{method} {target}: {response.status} {raw[:200]!r}")
                elif n % CHECK_EVERY == 0:
                    check_answer(Answer(method, target, response.status, response.headers, raw))
        except (aiohttp.ClientError, TimeoutError, AssertionError) as exc:
            tally.errors.append(f"{method} {target}: {exc!r}"[:500])
        tally.requests += 1


async def test_soak(tmp_path: Path):
    config = tmp_path / "providers.yaml"
    config.write_text(PROVIDERS.format(version=0))
    with live_server(config, tmp_path, "--no-watch") as server:
        tally = Tally()
        started = time.monotonic()
        stop = started + SOAK_SECONDS
        timeout = aiohttp.ClientTimeout(total=10)
        connector = aiohttp.TCPConnector(limit=SOAK_CLIENTS)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            clients = [
                asyncio.create_task(_client(session, server.url, seed, stop, tally))
                for seed in range(SOAK_CLIENTS)
            ]
            await asyncio.sleep(min(WARM_UP, SOAK_SECONDS / 4))
            rss_start = rss_bytes(server.pid)
            rss_max = rss_start
            reloads = 0
            while time.monotonic() < stop - RELOAD_EVERY / 2:
                await asyncio.sleep(RELOAD_EVERY)
                reloads += 1
                config.write_text(PROVIDERS.format(version=reloads))
                os.kill(server.pid, signal.SIGHUP)
                rss_max = max(rss_max, rss_bytes(server.pid))
            await asyncio.gather(*clients)
            await asyncio.sleep(1.0)  # let the last reload finish
            async with session.get(server.url + "/healthz") as response:
                health = await response.json()
        rss_end = rss_bytes(server.pid)
        elapsed = time.monotonic() - started
        alive = server.alive()
        log = server.stderr()
    growth = rss_end - rss_start
    print(
        f"\nsoak: {elapsed:.0f} s, {tally.requests} requests ({tally.requests / elapsed:.0f}/s), "
        f"{len(tally.errors)} errors, {reloads} reloads (generation {health['generation']}), "
        f"RSS start {rss_start / 2**20:.1f} MiB, end {rss_end / 2**20:.1f} MiB "
        f"(+{growth / 2**20:.1f}, max {rss_max / 2**20:.1f}, bound "
        f"+{SOAK_RSS_BOUND / 2**20:.0f}), statuses {dict(sorted(tally.statuses.items()))}"
    )
    assert tally.errors == [], tally.errors[:20]
    assert alive and crashes(log) == []
    assert health["status"] == "ok" and health["generation"] == 1 + reloads, health
    assert growth < SOAK_RSS_BOUND, f"RSS grew by {growth / 2**20:.1f} MiB"
