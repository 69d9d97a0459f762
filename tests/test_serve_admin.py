"""What an admin meets starting and running `autoconfig serve`: options refused before anything
listens, one line for a busy port, the start-up lines, a TLS renewal that cannot be used shown in
/healthz and the metrics, probes outside the rate limit, the headers every answer carries, the
application log. Real processes on loopback, read the way an admin reads them."""

import hashlib
import hmac
import http.client
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
import trustme

from autoconfig import __version__

from .conftest import BUNDLED, free_port
from .server_support import ServerProcess, wait_until

SERVE = [sys.executable, "-m", "autoconfig", "serve", "--config", str(BUNDLED), "--no-watch"]


def serve_fails(*options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [*SERVE, *options],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def request(port: int, method: str, target: str, headers: dict[str, str] | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# Options refused before anything listens


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--port", "99999"], "argument --port: 99999 is not a port (0-65535)"),
        (["--port", "-1"], "-1 is not a port (0-65535)"),
        (["--http-port", "70000"], "argument --http-port: 70000 is not a port"),
        (["--metrics-port", "http"], "'http' is not a port number"),
        (["--tls-key", "/etc/ssl/key.pem"], "--tls-key needs --tls-cert"),
        (["--port", "8123", "--http-port", "8123"], "--http-port 8123 is --port too"),
        (
            ["--port", "8123", "--http-port", "8124", "--metrics-port", "8124"],
            "--metrics-port 8124 is --http-port too",
        ),
    ],
)
def test_options_that_cannot_work_are_refused_before_listening(options, words):
    result = serve_fails(*options)
    assert result.returncode == 2, result
    assert words in result.stderr
    assert "Traceback" not in result.stderr and "serving" not in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("AUTOCONFIG_NO_WATCH", "maybe", "AUTOCONFIG_NO_WATCH: 'maybe' is not a switch value"),
        ("AUTOCONFIG_NO_SETTINGS_PAGE", "on", "AUTOCONFIG_NO_SETTINGS_PAGE: 'on' is not a switch"),
        ("AUTOCONFIG_PORT", "99999", "AUTOCONFIG_PORT: 99999 is not a port (0-65535)"),
        ("AUTOCONFIG_RATE_LIMIT", "fast", "AUTOCONFIG_RATE_LIMIT: 'fast' is not a number"),
        ("AUTOCONFIG_ACCESS_LOG", "yes", "AUTOCONFIG_ACCESS_LOG: 'yes' is not one of json"),
    ],
)
def test_environment_values_an_option_cannot_take_are_refused_by_name(variable, value, words):
    result = serve_fails(env={variable: value})
    assert result.returncode == 2, result
    assert result.stderr.strip() == f"autoconfig: {words}" or words in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["1", "TRUE", "yes"])
def test_a_switch_variable_turns_its_feature_off(value):
    with ServerProcess(BUNDLED, env={"AUTOCONFIG_NO_SETTINGS_PAGE": value}) as server:
        assert request(server.port, "GET", "/")[0] == 404


@pytest.mark.parametrize("value", ["0", "false", "No", ""])
def test_a_false_switch_variable_leaves_its_feature_on(value):
    with ServerProcess(BUNDLED, env={"AUTOCONFIG_NO_SETTINGS_PAGE": value}) as server:
        assert request(server.port, "GET", "/")[0] == 200


# Listening


def _held_port() -> tuple[socket.socket, int]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


@pytest.mark.parametrize("flag", ["--port", "--http-port", "--metrics-port"])
def test_a_port_in_use_is_one_line_naming_its_option(flag):
    holder, busy = _held_port()
    with holder:
        options = ["--port", str(free_port())] if flag != "--port" else []
        result = serve_fails(*options, flag, str(busy))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"autoconfig: cannot listen on 127.0.0.1:{busy} ({flag}): Address already in use"
    ]


def test_port_zero_says_which_ports_the_listeners_got():
    process = subprocess.Popen(
        [*SERVE, "--port", "0", "--http-port", "0", "--metrics-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)] if process.stdout else []
        main = re.search(r"on http://127\.0\.0\.1:(\d+)$", lines[0].strip())
        plain = re.search(r"plain HTTP on http://127\.0\.0\.1:(\d+): ", lines[1])
        metrics = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics$", lines[2].strip())
        assert main and plain and metrics, lines
        ports = [int(found.group(1)) for found in (main, plain, metrics)]
        assert 0 not in ports and len(set(ports)) == 3
        assert request(ports[0], "GET", "/readyz")[0] == 200
        assert request(ports[1], "GET", "/readyz")[0] == 200
        assert request(ports[2], "GET", "/metrics")[0] == 200
        assert "(this server has no --tls-cert" in lines[1]
        assert "(3 providers, 5 domains)" in lines[0]
    finally:
        process.terminate()
        process.wait(timeout=15)


# A TLS renewal that cannot be used


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _write_pair(cert: trustme.LeafCert, chain, key) -> None:
    cert.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))


def _health(port: int, context: ssl.SSLContext) -> dict:
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        connection.request("GET", "/healthz")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _source_failed(port: int, context: ssl.SSLContext) -> str:
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    found = re.search(r'^autoconfig_source_failed\{source="tls"\} (\S+)$', text, re.M)
    assert found, text
    return found.group(1)


def test_a_renewal_that_replaced_the_key_first_shows_in_healthz_until_a_good_pair(tmp_path, ca):
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    _write_pair(ca.issue_cert("127.0.0.1"), chain, key)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with ServerProcess(BUNDLED, "--tls-cert", str(chain), "--tls-key", str(key)) as server:
        assert _health(server.port, context)["status"] == "ok"
        assert _source_failed(server.port, context) == "0.0"
        renewed = ca.issue_cert("127.0.0.1")
        renewed.private_key_pem.write_to_path(str(key))  # the key first: a non-atomic renewal
        server.signal(signal.SIGHUP)
        wait_until(lambda: _health(server.port, context)["status"] == "degraded")
        health = _health(server.port, context)
        error = health["source_errors"]["tls"]["error"]
        assert str(key) in error and "does not belong to the first certificate" in error
        assert health["last_reload_error"] is None, "providers.yaml itself is fine"
        assert _source_failed(server.port, context) == "1.0"
        log = server.log()
        assert "Traceback" not in log and "KEY_VALUES_MISMATCH" not in log
        assert re.search(r"ERROR tls: .*does not belong.*; the previous one stays in use", log)
        chain.write_bytes(b"".join(blob.bytes() for blob in renewed.cert_chain_pems))
        server.signal(signal.SIGHUP)
        wait_until(lambda: _health(server.port, context)["status"] == "ok")
        assert _health(server.port, context)["source_errors"] == {}
        assert _source_failed(server.port, context) == "0.0"


@pytest.mark.parametrize(
    ("write", "words"),
    [
        (lambda chain, key: chain.write_text("not a certificate\n"), "no PEM certificate found"),
        (lambda chain, key: key.write_text("not a key\n"), "no PEM private key found"),
    ],
    ids=["no-certificate", "no-key"],
)
def test_a_tls_file_without_its_pem_block_is_named_at_start(tmp_path, ca, write, words):
    chain, key = tmp_path / "srv.pem", tmp_path / "srv.key"
    _write_pair(ca.issue_cert("127.0.0.1"), chain, key)
    write(chain, key)
    result = serve_fails("--port", "0", "--tls-cert", str(chain), "--tls-key", str(key))
    assert result.returncode == 1
    assert words in result.stderr and "PEM lib" not in result.stderr
    assert "Traceback" not in result.stderr


# Headers, probes and the rate limit


def test_every_answer_says_server_autoconfig_and_carries_a_request_id():
    with ServerProcess(BUNDLED, "--rate-limit", "0.001", "--rate-burst", "4") as server:
        answers = {
            "200": request(
                server.port, "GET", "/mail/config-v1.1.xml?emailaddress=a%40example.com"
            ),
            "404": request(server.port, "GET", "/no/such/path"),
            "405": request(server.port, "PUT", "/mail/config-v1.1.xml"),
            "417": request(server.port, "POST", "/autodiscover/autodiscover.xml", {"Expect": "x"}),
        }
        while True:
            status, headers, body = request(server.port, "GET", "/v1.1/example.com")
            if status == 429:
                answers["429"] = (status, headers, body)
                break
        for expected, (status, headers, _) in answers.items():
            assert str(status) == expected
            assert headers["server"] == "autoconfig", expected
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]+", headers["x-request-id"]), expected
        traced = request(server.port, "GET", "/nowhere", {"X-Request-Id": "trace-7"})
        assert traced[1]["x-request-id"] == "trace-7"
        assert __version__ and "python" not in answers["404"][1]["server"].lower()


def test_probes_are_never_rate_limited():
    with ServerProcess(BUNDLED, "--rate-limit", "0.001", "--rate-burst", "2") as server:
        statuses = [request(server.port, "GET", "/mail/config-v1.1.xml")[0] for _ in range(4)]
        assert 429 in statuses
        for path in ("/healthz", "/readyz", "/metrics", "/%68ealthz"):
            assert {request(server.port, "GET", path)[0] for _ in range(5)} == {200}, path


def test_version_in_healthz_and_metrics():
    with ServerProcess(BUNDLED) as server:
        health = json.loads(request(server.port, "GET", "/healthz")[2])
        assert health["version"] == __version__
        metrics = request(server.port, "GET", "/metrics")[2].decode()
        assert f'autoconfig_build_info{{version="{__version__}"}} 1.0' in metrics


# The application log


def test_the_log_has_utc_times_one_line_per_event_and_a_level(tmp_path):
    with ServerProcess(BUNDLED, "--log-level", "info") as server:
        server.signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in server.log())
        server.signal(signal.SIGTERM)
        server.process.wait(timeout=20)
        lines = server.log().splitlines()
    reloads = [line for line in lines if "reloaded" in line]
    assert len(reloads) == 1
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ autoconfig INFO reloaded .*providers\.yaml \(SIGHUP\): "
        r"generation 2, 3 providers, 5 domains",
        reloads[0],
    )
    assert len([line for line in lines if "stopping" in line]) == 1
    with ServerProcess(BUNDLED, "--log-level", "warning") as quiet:
        quiet.signal(signal.SIGHUP)
        wait_until(lambda: json.loads(request(quiet.port, "GET", "/healthz")[2])["generation"] == 2)
        time.sleep(0.3)
        assert "reloaded" not in quiet.log()


def test_the_hash_key_can_come_from_a_file(tmp_path):
    key_file = tmp_path / "hash.key"
    key_file.write_text("a-key-kept-out-of-ps\n")
    options = ("--access-log", "json", "--log-addresses", "hash", "--log-hash-key-file")
    with ServerProcess(BUNDLED, *options, str(key_file)) as server:
        request(server.port, "GET", "/mail/config-v1.1.xml?emailaddress=Alice%40example.com")
        wait_until(lambda: '"address"' in server.log())
        line = next(json.loads(raw) for raw in server.log().splitlines() if '"address"' in raw)
        ps = subprocess.run(["ps", "-o", "args=", "-p", str(server.process.pid)], text=True,
                            capture_output=True).stdout  # fmt: skip
    digest = hmac.new(b"a-key-kept-out-of-ps", b"alice@example.com", hashlib.sha256).hexdigest()
    assert line["address"] == f"{digest[:16]}@example.com"
    assert "a-key-kept-out-of-ps" not in ps
