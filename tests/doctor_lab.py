"""A small internet on loopback for the doctor's tests: DNS, HTTPS, IMAP, POP3 and SMTP.

- DNS: a UDP server built on dnspython that answers from one zone (`test.`) and refuses every
  other name, so a lookup the tests forgot can never leave the machine.
- TLS: a test CA (trustme) issues every certificate, valid, expired or about to expire.
- IMAP/POP3: Debian's Dovecot, one instance per behaviour, each on its own loopback address
  (127.0.0.2...). Dovecot treats a client whose address equals the server's as secure and then
  offers passwords before TLS; a dedicated server address keeps the client's (127.0.0.1)
  different, as on a real network.
- SMTP: aiosmtpd (submission with implicit TLS or STARTTLS).
- HTTPS: the autoconfig app itself on an aiohttp TLS site.
- Black holes: a TCP port that accepts and never answers (no TLS handshake completes there) and
  a UDP port that never answers (a nameserver that is down).

Servers that live in Python run on one event loop in a background thread, so they keep answering
while a test blocks on a subprocess. Every address used is in 127.0.0.0/8.
"""

import asyncio
import contextlib
import datetime
import ipaddress
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
)
APT_HINT = "apt-get install dovecot-imapd dovecot-pop3d (`make test` does it as root)"


def dovecot_missing() -> str | None:
    """Why Dovecot-backed tests cannot run here, or None when they can."""
    if DOVECOT is None:
        return f"Dovecot is not installed: {APT_HINT}"
    if os.geteuid() != 0:
        return "the Dovecot test instances run as root (their login processes drop to dovenull)"
    return None


def loopback_only(address: str) -> str:
    """Every server and record of the lab must stay on this machine."""
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"{address} is not a loopback address")
    return address


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((loopback_only(address), 0))
        return sock.getsockname()[1]


class BackgroundLoop:
    """An event loop in a daemon thread; `run` executes a coroutine there and waits for it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class ZoneServer(asyncio.DatagramProtocol):
    """Authoritative answers from one dnspython zone: CNAMEs chased inside it, REFUSED outside."""

    def __init__(self, zone: dns.zone.Zone) -> None:
        self.zone = zone
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return
        if self.transport is not None:
            self.transport.sendto(self.answer(query).to_wire(), addr)

    def _soa(self) -> dns.rrset.RRset:
        origin = self.zone.origin
        assert origin is not None
        rdataset = self.zone.get_rdataset(origin, dns.rdatatype.SOA)
        assert rdataset is not None
        return dns.rrset.from_rdata_list(origin, rdataset.ttl, list(rdataset))

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        name, rdtype = query.question[0].name, query.question[0].rdtype
        origin = self.zone.origin
        assert origin is not None
        if not name.is_subdomain(origin):
            response.set_rcode(dns.rcode.REFUSED)
            return response
        for _ in range(8):
            node = self.zone.get_node(name)
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                response.authority.append(self._soa())
                return response
            found = node.get_rdataset(dns.rdataclass.IN, rdtype)
            if found is not None:
                response.answer.append(dns.rrset.from_rdata_list(name, found.ttl, list(found)))
                return response
            alias = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if alias is None:
                response.authority.append(self._soa())
                return response
            response.answer.append(dns.rrset.from_rdata_list(name, alias.ttl, list(alias)))
            name = next(iter(alias)).target
            if not name.is_subdomain(origin):
                return response
        return response


async def serve_zone(
    zone_text: str, address: str = "127.0.0.1"
) -> tuple[asyncio.BaseTransport, int]:
    zone = dns.zone.from_text(zone_text, origin="test.", relativize=False)
    for _, rdataset in zone.iterate_rdatasets("A"):
        for record in rdataset:
            loopback_only(record.to_text())
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: ZoneServer(zone), local_addr=(loopback_only(address), 0)
    )
    return transport, transport.get_extra_info("sockname")[1]


@dataclass
class Certificates:
    """A test CA and the PEM files it issued, in a folder the Dovecot processes can read."""

    folder: Path
    ca: Any = field(init=False)

    def __post_init__(self) -> None:
        import trustme

        self.ca = trustme.CA()
        self.ca_file = self.folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def issue(
        self, name: str, *hosts: str, days: float = 90, expired: bool = False
    ) -> tuple[Path, Path]:
        """(chain, key) PEM files for these host names."""
        now = datetime.datetime.now(datetime.UTC)
        if expired:
            not_before, not_after = (
                now - datetime.timedelta(days=60),
                now - datetime.timedelta(days=1),
            )
        else:
            not_before, not_after = (
                now - datetime.timedelta(days=1),
                now + datetime.timedelta(days=days),
            )
        leaf = self.ca.issue_cert(*hosts, not_before=not_before, not_after=not_after)
        chain, key = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key.write_bytes(leaf.private_key_pem.bytes())
        return chain, key

    def server_context(self, chain: Path, key: Path) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain, key)
        return context


@dataclass
class Dovecot:
    """One Dovecot with its own configuration, base_dir and log, in the foreground (-F)."""

    folder: Path
    address: str
    tls: tuple[Path, Path] | None
    plaintext_auth: bool = False
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        listeners = {"imap": ("imap", "imap-login"), "pop3": ("pop3", "pop3-login")}
        blocks = []
        for protocol, (name, service) in listeners.items():
            self.ports[protocol] = free_port(self.address)
            inner = f"  inet_listener {name} {{\n    port = {self.ports[protocol]}\n  }}\n"
            if self.tls is not None:
                self.ports[f"{protocol}s"] = free_port(self.address)
                inner += (
                    f"  inet_listener {name}s {{\n    port = {self.ports[f'{protocol}s']}\n"
                    "    ssl = yes\n  }\n"
                )
            blocks.append(f"service {service} {{\n{inner}}}\n")
        ssl_settings = "ssl = no\n"
        if self.tls is not None:
            chain, key = self.tls
            ssl_settings = f"ssl = yes\nssl_cert = <{chain}\nssl_key = <{key}\n"
        return (
            f"base_dir = {self.folder}/run\n"
            f"state_dir = {self.folder}/state\n"
            f"log_path = {self.folder}/dovecot.log\n"
            f"instance_name = autoconfig-doctor-{self.address}\n"
            "protocols = imap pop3\n"
            f"listen = {loopback_only(self.address)}\n"
            f"{ssl_settings}"
            f"disable_plaintext_auth = {'no' if self.plaintext_auth else 'yes'}\n"
            "auth_mechanisms = plain login\n"
            "passdb {\n  driver = static\n"
            f"  args = password={secrets.token_hex(16)}\n}}\n"
            "userdb {\n  driver = static\n"
            f"  args = uid=nobody gid=nogroup home={self.folder}/home\n}}\n" + "".join(blocks)
        )

    def start(self) -> None:
        self.folder.mkdir(parents=True)
        config = self.folder / "dovecot.conf"
        config.write_text(self.config())
        assert DOVECOT is not None
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, deadline: float) -> None:
        """Until the IMAP port gives Dovecot's real greeting (its auth process is up)."""
        last = b""
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.address, self.ports["imap"]), timeout=1) as sock,
            ):
                last = sock.recv(512)
                if b"ready" in last:
                    return
            time.sleep(0.1)
        log = (
            (self.folder / "dovecot.log").read_text(errors="replace")
            if (self.folder / "dovecot.log").exists()
            else ""
        )
        raise RuntimeError(f"Dovecot on {self.address} did not start: {last!r}\n{log}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@contextlib.contextmanager
def dovecots(
    folder: Path, specs: dict[str, tuple[str, tuple[Path, Path] | None, bool]]
) -> Iterator[dict[str, Dovecot]]:
    """Start several Dovecots at once: name -> (address, TLS files or None, plaintext auth).

    `folder` must be readable by Dovecot's unprivileged login processes (not under a 0700 tmp).
    """
    started = {
        name: Dovecot(folder / name, address, tls, plaintext)
        for name, (address, tls, plaintext) in specs.items()
    }
    try:
        for instance in started.values():
            instance.start()
        deadline = time.monotonic() + 20
        for instance in started.values():
            instance.wait_ready(deadline)
        yield started
    finally:
        for instance in started.values():
            instance.stop()


async def smtp_server(
    address: str,
    *,
    implicit_tls: ssl.SSLContext | None = None,
    starttls: ssl.SSLContext | None = None,
    auth_before_tls: bool = False,
) -> tuple[asyncio.base_events.Server, int]:
    """An aiosmtpd submission server that refuses every login and accepts no mail."""
    from aiosmtpd.smtp import SMTP, AuthResult

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "554 the doctor's test server takes no mail"

    def refuse(*_: Any) -> AuthResult:
        return AuthResult(success=False)

    def factory() -> SMTP:
        return SMTP(
            Sink(),
            hostname="smtp.test",
            tls_context=starttls,
            require_starttls=starttls is not None and not auth_before_tls,
            auth_require_tls=not (auth_before_tls or implicit_tls is not None),
            authenticator=refuse,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, loopback_only(address), 0, ssl=implicit_tls)
    return server, server.sockets[0].getsockname()[1]


async def tcp_black_hole(address: str, port: int = 0) -> tuple[asyncio.base_events.Server, int]:
    """A port that accepts connections and then says nothing, ever: a TLS client's handshake
    never completes (a stuck proxy or load balancer with no server behind it)."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        writer.close()

    server = await asyncio.start_server(swallow, loopback_only(address), port)
    return server, server.sockets[0].getsockname()[1]


def udp_black_hole(address: str = "127.0.0.1") -> socket.socket:
    """A bound UDP socket nobody reads: a nameserver that never answers. Being bound, the port
    sends no ICMP "port unreachable" either, so the client can only wait for its timeout."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((loopback_only(address), 0))
    return sock


async def https_site(app: Any, address: str, port: int, context: ssl.SSLContext) -> Any:
    """The autoconfig app behind TLS, as a reverse proxy would publish it."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, loopback_only(address), port, ssl_context=context)
    await site.start()
    return runner
