"""The settings of a doctor run and the shared clients built from them.

Everything a check needs to reach the outside world comes from here (resolver, TLS trust, HTTP
client), so that tests can point all of it at servers on loopback with three options.
"""

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from .resolve import AiohttpResolver, Lookup, Nameserver
from .tls import client_context

REQUEST_STEPS = 3
"""An HTTPS request is connect, handshake and one reply: each a step, and three in all."""


@dataclass(frozen=True, slots=True)
class Options:
    """How the doctor probes; the CLI builds it from its flags."""

    nameservers: tuple[Nameserver, ...] = ()
    """Nameservers for every lookup; empty: the system's (/etc/resolv.conf)."""
    ca_file: Path | None = None
    """PEM CA certificates to trust instead of the system's."""
    https_port: int = 443
    """Where clients reach the autoconfig/autodiscover names; 443 except for staging or tests."""
    timeout: float = 5.0
    """Seconds for each network step (lookup, connect, handshake, one reply)."""
    concurrency: int = 16
    """Probes running at the same time."""


@dataclass(frozen=True, slots=True)
class Context:
    options: Options
    lookup: Lookup
    tls: ssl.SSLContext
    http: aiohttp.ClientSession


@asynccontextmanager
async def open_context(options: Options) -> AsyncIterator[Context]:
    lookup = Lookup(options.nameservers, timeout=options.timeout)
    tls = client_context(options.ca_file)
    connector = aiohttp.TCPConnector(
        resolver=AiohttpResolver(lookup), ssl=tls, force_close=True, limit=options.concurrency
    )
    step = options.timeout
    timeout = aiohttp.ClientTimeout(
        total=step * REQUEST_STEPS, connect=step * 2, sock_connect=step, sock_read=step
    )
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"User-Agent": "autoconfig-doctor"}
    ) as http:
        yield Context(options=options, lookup=lookup, tls=tls, http=http)
