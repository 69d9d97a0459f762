"""What hostile requests can do to the server's logs: forge lines, flood them, or leak addresses.

A log is read by people and by tools that trust one line per event, so a request must never be
able to start a line of its own, and it must cost the attacker as much as it costs the log.
These run against a live server, because logging is configured by `autoconfig serve`.
"""

import json
import re
import time
from pathlib import Path

from .security_support import SECURITY_YAML, LiveServer, live_server, raw_exchange

FORGED = b"/v1.1/plain.example%0A127.0.0.1%20-%20-%20%5Bforged%5D%20%22GET%20admin%22%20200"
"""A path whose decoded form carries a line break and a whole fake common-log line."""

COMMON_LINE = re.compile(r'\S+ - \S+ \[[^\]]+\] "[A-Z]+ [^"]*" \d{3} - \S+\Z')


def _access_lines(server: LiveServer, at_least: int = 2) -> list[str]:
    """The lines of standard error that are not the server's own `autoconfig: ...` messages.

    Access lines are written in batches (every 0.2 s), so this waits for `at_least` of them,
    then a batch longer, so that any extra line a forged request made is there too.
    """
    deadline = time.monotonic() + 10

    def lines() -> list[str]:
        text = server.stderr()
        return [line for line in text.splitlines() if not line.startswith("autoconfig:")]

    while len(lines()) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return lines()


def _send(server: LiveServer, target: bytes) -> None:
    raw_exchange(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")


def test_common_access_log_lines_cannot_be_forged(tmp_path: Path):
    with live_server(SECURITY_YAML, tmp_path, "--access-log", "common") as server:
        _send(server, FORGED)
        _send(server, b"/healthz")
        lines = _access_lines(server)
    assert len(lines) == 2, lines
    assert all(COMMON_LINE.match(line) for line in lines), lines


def test_json_access_log_lines_cannot_be_forged(tmp_path: Path):
    """The JSON format escapes the path: one request, one parseable line, the break inside it."""
    with live_server(SECURITY_YAML, tmp_path, "--access-log", "json") as server:
        _send(server, FORGED)
        _send(server, b"/healthz")
        lines = _access_lines(server)
    records = [json.loads(line) for line in lines]
    assert [record["status"] for record in records] == [400, 200]
    assert "\n" in records[0]["path"]


def test_malformed_requests_do_not_flood_the_log_or_leak_addresses(tmp_path: Path):
    malformed = [
        b"GET /mail/config-v1.1.xml?emailaddress=alice.secret@plain.example\x01 HTTP/1.1\r\n"
        b"Host: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: \x01\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
    ]
    with live_server(SECURITY_YAML, tmp_path) as server:
        for request in malformed * 5:
            raw_exchange(server.port, request)
        time.sleep(0.2)
        log = server.stderr()
    assert "alice.secret" not in log
    assert "Traceback" not in log
    assert len(log.splitlines()) <= len(malformed) * 5, log
