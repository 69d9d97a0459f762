"""Shared by the security tests: checks that parse every answer, a raw HTTP/1.1 client for bytes
aiohttp's own client refuses to send, and a live server whose stderr and memory can be read.

The checks are deliberately independent of the package's renderers: an answer is parsed the way a
client or a browser would parse it, and judged on what came out, so a bug in an escaping helper
cannot hide behind the same helper in the test.
"""

import contextlib
import json
import os
import plistlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import lxml.html
from lxml import etree

from autoconfig.formats.mobilesync import RESPONSE_NS as MOBILESYNC_NS
from autoconfig.formats.outlook import BASE_NS, OUTLOOK_NS
from autoconfig.formats.settings_page import load_assets

from .conftest import DATA, free_port

SECURITY_YAML = DATA / "security.yaml"
"""Every place a request's value lands in an answer (see the file's header)."""

CANARIES = (
    "<x-pwn>",
    '"><x-pwn a="',
    "'><x-pwn>",
    "<script>alert(1)</script>",
    "]]><x-pwn>",
    "<!--x-pwn-->",
    "<?x-pwn?>",
    "&x-pwn;",
    "&#60;x-pwn&#62;",
)
"""Markup an attacker would try to smuggle through a value into a page or a document."""

RAW_MARKERS = (b"<x-pwn", b"<script>alert", b"<!--x-pwn", b"<?x-pwn", b"&x-pwn;")
"""Bytes the server never writes itself: seeing one raw in XML, plist or HTML is an injection."""

XML_TAGS = {
    None: frozenset(
        [
            "clientConfig",
            "emailProvider",
            "domain",
            "displayName",
            "displayShortName",
            "incomingServer",
            "outgoingServer",
            "hostname",
            "port",
            "socketType",
            "authentication",
            "username",
            "documentation",
            "descr",
            "webMail",
            "loginPage",
            "calendar",
            "addressbook",
            "url",
            "oAuth2",
            "issuer",
            "scope",
            "authURL",
            "tokenURL",
            "clientID",
        ]
    ),
    BASE_NS: frozenset({"Autodiscover", "Response", "Error", "ErrorCode", "Message", "DebugData"}),
    OUTLOOK_NS: frozenset(
        [
            "Response",
            "User",
            "DisplayName",
            "AutoDiscoverSMTPAddress",
            "Account",
            "AccountType",
            "Action",
            "Protocol",
            "Type",
            "Server",
            "Port",
            "DomainRequired",
            "LoginName",
            "SPA",
            "SSL",
            "Encryption",
            "AuthRequired",
            "UsePOPAuth",
            "SMTPLast",
            "RedirectAddr",
        ]
    ),
    MOBILESYNC_NS: frozenset(
        [
            "Response",
            "Culture",
            "User",
            "EMailAddress",
            "Action",
            "Settings",
            "Server",
            "Type",
            "Url",
            "Name",
            "Redirect",
            "Error",
            "Status",
            "Message",
            "DebugData",
        ]
    ),
}
"""Every element the server's XML answers may hold, by namespace: anything else came from input."""

JSON_KEYS = frozenset({"Protocol", "Url", "ErrorCode", "ErrorMessage"})
"""The keys of autodiscover.json answers."""

STATIC = {asset.path: asset for asset in load_assets().values()}


def hardened_xml_parser() -> etree.XMLParser:
    """How the tests read XML answers: nothing resolved, nothing fetched, nothing huge."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
    )


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as the test saw it, from aiohttp's client or from a raw socket."""

    method: str
    target: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def describe(self) -> str:
        where = f"{self.method} {self.target!r} -> {self.status} {self.content_type}"
        return f"{where}: {self.body[:300]!r}"


def _check_xml(answer: Answer) -> etree._Element:
    root = etree.fromstring(answer.body, hardened_xml_parser())
    docinfo = root.getroottree().docinfo
    assert not docinfo.doctype, answer.describe()
    assert not docinfo.internalDTD, answer.describe()
    for node in root.iter():
        assert isinstance(node.tag, str), (
            f"comment, PI or entity in the answer: {answer.describe()}"
        )
        qname = etree.QName(node)
        allowed = XML_TAGS.get(qname.namespace, frozenset())
        assert qname.localname in allowed, f"unexpected element {node.tag}: {answer.describe()}"
    for marker in RAW_MARKERS:
        assert marker not in answer.body, f"raw {marker!r} in XML: {answer.describe()}"
    return root


def _check_json(answer: Answer) -> object:
    document = json.loads(answer.body)
    if answer.target.lower().startswith("/autodiscover/autodiscover.json"):
        assert isinstance(document, dict), answer.describe()
        assert set(document) <= JSON_KEYS, answer.describe()
        assert all(isinstance(value, str) for value in document.values()), answer.describe()
    else:
        assert isinstance(document, dict), answer.describe()
    return document


def _check_plist(answer: Answer) -> object:
    for marker in RAW_MARKERS:
        assert marker not in answer.body, f"raw {marker!r} in a profile: {answer.describe()}"
    profile = plistlib.loads(answer.body, fmt=plistlib.FMT_XML)
    assert isinstance(profile, dict), answer.describe()
    assert profile.get("PayloadType") == "Configuration", answer.describe()
    return profile


def _check_html(answer: Answer) -> lxml.html.HtmlElement:
    for marker in RAW_MARKERS:
        assert marker not in answer.body, f"raw {marker!r} in HTML: {answer.describe()}"
    document = lxml.html.document_fromstring(answer.body)
    for element in document.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag != "x-pwn", answer.describe()
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"event handler {name}: {answer.describe()}"
            assert not value.strip().lower().startswith("javascript:"), answer.describe()
        if element.tag == "script":
            assert (element.get("src") or "").startswith("/static/"), answer.describe()
            assert not (element.text or "").strip(), f"inline script: {answer.describe()}"
    csp = answer.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp, f"no CSP on a page: {answer.describe()}"
    return document


def check_answer(answer: Answer) -> object:
    """Fail unless the answer is a well-formed, non-5xx answer that carries no injected markup.

    Returns the parsed document (or the text of a plain-text answer) for further checks.
    """
    assert 200 <= answer.status < 500, answer.describe()
    assert b"Traceback" not in answer.body, answer.describe()
    if answer.method == "HEAD" or answer.status in (204, 304):
        assert answer.body == b"", answer.describe()
        return None
    kind = answer.content_type
    if answer.status in (301, 302, 303, 307, 308):
        assert answer.headers.get("Location"), answer.describe()
        location = answer.headers["Location"]
        assert location.startswith("https://"), answer.describe()
        return answer.body.decode("utf-8")
    if kind in ("text/xml", "application/xml"):
        return _check_xml(answer)
    if kind == "application/json":
        return _check_json(answer)
    if kind == "application/x-apple-aspen-config":
        return _check_plist(answer)
    if kind == "text/html":
        return _check_html(answer)
    if kind in ("text/css", "text/javascript"):
        path = answer.target.split("?", 1)[0]
        assert path in STATIC and answer.body == STATIC[path].body, answer.describe()
        return None
    assert kind == "text/plain" or not answer.body, f"unexpected type: {answer.describe()}"
    return answer.body.decode("utf-8")


def xml_text(root: etree._Element, local_name: str) -> list[str]:
    """The texts of every element with this local name, in document order."""
    return [node.text or "" for node in root.iter() if etree.QName(node).localname == local_name]


# ---------------------------------------------------------------------------------------------
# A raw HTTP/1.1 client: bytes in, one parsed answer out.


class NoAnswer(AssertionError):
    """The server closed the connection, or said nothing in time."""


def _read_until(sock: socket.socket, buffer: bytearray, marker: bytes, deadline: float) -> int:
    while (index := buffer.find(marker)) < 0:
        _receive(sock, buffer, deadline)
    return index


def _receive(sock: socket.socket, buffer: bytearray, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise NoAnswer(f"no complete answer in time; got {bytes(buffer[:200])!r}")
    sock.settimeout(remaining)
    try:
        chunk = sock.recv(65536)
    except TimeoutError as exc:
        raise NoAnswer(f"no complete answer in time; got {bytes(buffer[:200])!r}") from exc
    if not chunk:
        raise NoAnswer(f"connection closed; got {bytes(buffer[:200])!r}")
    buffer += chunk


def read_answer(
    sock: socket.socket,
    method: str,
    target: str,
    timeout: float = 5.0,
    buffer: bytearray | None = None,
) -> Answer:
    """Read exactly one HTTP/1.1 answer (Content-Length, chunked, or until close).

    Pass the same `buffer` to read several answers from one connection: bytes of the next
    answer that arrived with this one stay in it.
    """
    deadline = time.monotonic() + timeout
    buffer = bytearray() if buffer is None else buffer
    end = _read_until(sock, buffer, b"\r\n\r\n", deadline)
    head = bytes(buffer[:end]).decode("latin-1")
    del buffer[: end + 4]
    status_line, *lines = head.split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    assert re.fullmatch(r"HTTP/[0-9]\.[0-9]", version), status_line  # aiohttp echoes the request's
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().title()] = value.strip()
    code = int(status)
    if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
        body = b""
    elif headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = bytearray()
        while True:
            line_end = _read_until(sock, buffer, b"\r\n", deadline)
            size = int(bytes(buffer[:line_end]).split(b";")[0], 16)
            del buffer[: line_end + 2]
            while len(buffer) < size + 2:
                _receive(sock, buffer, deadline)
            chunks += buffer[:size]
            del buffer[: size + 2]
            if size == 0:
                break
        body = bytes(chunks)
    elif "Content-Length" in headers:
        length = int(headers["Content-Length"])
        while len(buffer) < length:
            _receive(sock, buffer, deadline)
        body = bytes(buffer[:length])
        del buffer[:length]
    else:
        with contextlib.suppress(NoAnswer):
            while True:
                _receive(sock, buffer, deadline)
        body = bytes(buffer)
        buffer.clear()
    return Answer(method, target, code, _CaseInsensitive(headers), body)


class _CaseInsensitive(dict):
    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.title(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.title())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.title())


def raw_exchange(port: int, data: bytes, method: str = "GET", timeout: float = 5.0) -> Answer:
    """Send raw bytes to 127.0.0.1:port and read the first answer."""
    target = data.split(b" ", 2)[1].decode("latin-1") if data.count(b" ") >= 2 else "?"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answer(sock, method, target, timeout)


# ---------------------------------------------------------------------------------------------
# A live `autoconfig serve` process.


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmRSS")


def peak_rss_bytes(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmHWM")


@dataclass
class LiveServer:
    """`autoconfig serve` in its own process; its output goes to files the test can read.

    Files, not pipes: a server that logs every request would fill a pipe nobody drains and stall.
    """

    process: subprocess.Popen
    port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def reload(self) -> None:
        os.kill(self.process.pid, signal.SIGHUP)


def crashes(log: str) -> list[str]:
    """Tracebacks in a server log that are not aiohttp refusing a malformed request.

    aiohttp logs every request it cannot parse with a traceback ending in
    `aiohttp.http_exceptions.*`; anything else is a handler or server failure.
    """
    found = []
    for record in log.split("Traceback (most recent call last):")[1:]:
        lines = [line for line in record.splitlines() if line and not line.startswith(" ")]
        last = next((line for line in lines if not line.startswith("autoconfig:")), "")
        if not last.startswith("aiohttp.http_exceptions."):
            found.append(record[:2000])
    return found


def serve_command(config: Path, port: int, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "autoconfig",
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *options,
    ]


@contextlib.contextmanager
def live_server(
    config: Path, workdir: Path, *options: str, timeout: float = 20.0
) -> Iterator[LiveServer]:
    """Start `autoconfig serve` on a free loopback port and wait for its banner."""
    port = free_port()
    stdout_path = workdir / f"server-{port}.stdout"
    stderr_path = workdir / f"server-{port}.stderr"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            serve_command(config, port, *options),
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = LiveServer(process, port, stdout_path, stderr_path)
    try:
        deadline = time.monotonic() + timeout
        while "serving" not in server.stdout():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {server.stdout()} {server.stderr()}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
