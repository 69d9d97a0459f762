"""Production serving on real sockets: TLS, the plain-HTTP listener, workers, probes, metrics,
environment variables and a graceful stop."""

import http.client
import json
import signal
import socket
import ssl
import time
import urllib.error
import urllib.request
import warnings

import pytest
import trustme
from lxml import etree

from .conftest import BUNDLED, free_port
from .server_support import ServerProcess, wait_until
from .test_web_autodiscover import pox


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_cert(ca: trustme.CA, folder, name: str = "server") -> tuple:
    cert = ca.issue_cert("127.0.0.1", "localhost", "autoconfig.example.com")
    chain, key = folder / f"{name}.pem", folder / f"{name}.key"
    cert.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return chain, key, cert


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def get(url: str, context: ssl.SSLContext | None = None, **headers: str):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_https_with_modern_tls_only(tmp_path, ca):
    chain, key, _ = write_cert(ca, tmp_path)
    with ServerProcess(BUNDLED, "--tls-cert", str(chain), "--tls-key", str(key)) as server:
        assert f"https://127.0.0.1:{server.port}" in server.banner
        url = f"https://127.0.0.1:{server.port}/mail/config-v1.1.xml?emailaddress=a%40example.com"
        status, _, body = get(url, client_context(ca))
        assert status == 200
        assert etree.fromstring(body).find("emailProvider").get("id") == "example.com"
        old = client_context(ca)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        with (
            pytest.raises((ssl.SSLError, OSError)),
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
            old.wrap_socket(sock, server_hostname="127.0.0.1"),
        ):
            pass


def test_certificate_is_reloaded_on_sighup_without_restart(tmp_path, ca):
    chain, key, _ = write_cert(ca, tmp_path)
    with ServerProcess(BUNDLED, "--tls-cert", str(chain), "--tls-key", str(key)) as server:

        def served_serial() -> int:
            context = client_context(ca)
            with (
                socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock,
                context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
            ):
                der = tls.getpeercert(binary_form=True)
            from cryptography import x509

            return x509.load_der_x509_certificate(der).serial_number

        before = served_serial()
        renewed = ca.issue_cert("127.0.0.1", "localhost")
        renewed.private_key_pem.write_to_path(str(key))
        chain.write_bytes(b"".join(blob.bytes() for blob in renewed.cert_chain_pems))
        server.signal(signal.SIGHUP)
        wait_until(lambda: served_serial() != before)
        assert server.process.poll() is None


def test_broken_certificate_fails_start_up(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    port = free_port()
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autoconfig",
            "serve",
            "--config",
            str(BUNDLED),
            "--port",
            str(port),
            "--tls-cert",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "TLS" in result.stderr and str(bad) in result.stderr


def test_plain_http_listener_answers_thunderbird_and_sends_the_rest_to_https(tmp_path, ca):
    chain, key, _ = write_cert(ca, tmp_path)
    http_port = free_port()
    with ServerProcess(
        BUNDLED, "--tls-cert", str(chain), "--tls-key", str(key), "--http-port", str(http_port)
    ):
        base = f"http://127.0.0.1:{http_port}"
        status, _, body = get(f"{base}/mail/config-v1.1.xml?emailaddress=a%40example.com")
        assert status == 200 and b"imap.example.com" in body
        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        connection.request(
            "POST",
            "/autodiscover/autodiscover.xml",
            body=pox("a@example.com"),
            headers={"Host": "autodiscover.example.com"},
        )
        response = connection.getresponse()
        assert response.status == 302
        assert response.getheader("Location") == (
            "https://autodiscover.example.com/autodiscover/autodiscover.xml"
        )
        response.read()
        connection.request("GET", "/anything", headers={"Host": "evil.example"})
        forged = connection.getresponse()
        assert forged.status == 404, "a Host naming no served domain gets no redirect"
        assert forged.getheader("Location") is None


def test_exchangelib_follows_the_http_redirect_to_https(tmp_path, ca, monkeypatch):
    """Autodiscover clients re-POST after a 302 only to https: exchangelib does, here."""
    from .conftest import OUTLOOK_PYTHON as PYTHON
    from .conftest import OUTLOOK_TOOL as TOOL
    from .test_acceptance_outlook import check

    if not PYTHON.exists() or not TOOL.is_dir():
        pytest.skip("the Outlook harness is not set up (see tests/test_acceptance_outlook.py)")
    chain, key, _ = write_cert(ca, tmp_path)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    http_port = free_port()
    tls_port = free_port()
    with ServerProcess(
        BUNDLED,
        "--tls-cert",
        str(chain),
        "--tls-key",
        str(key),
        "--http-port",
        str(http_port),
        "--public-url",
        f"https://127.0.0.1:{tls_port}",
        port=tls_port,
    ):
        code, report = check(
            PYTHON,
            "pox_exchangelib_check.py",
            f"http://127.0.0.1:{http_port}/autodiscover/autodiscover.xml",
            "--email",
            "user@example.com",
            "--expect-kind",
            "settings",
            "--expect-protocol",
            "IMAP:imap.example.com:993",
        )
        assert code == 0, report


def test_probes_metrics_and_request_ids(tmp_path):
    with ServerProcess(BUNDLED) as server:
        assert get(f"{server.url}/readyz")[0] == 200
        for _ in range(3):
            status, headers, _ = get(
                f"{server.url}/mail/config-v1.1.xml?emailaddress=a%40example.com"
            )
            assert status == 200
        assert get(f"{server.url}/v1.1/unknown.example")[0] == 404
        status, headers, _ = get(f"{server.url}/healthz", **{"X-Request-Id": "abc-123"})
        assert headers["X-Request-Id"] == "abc-123"
        status, headers, _ = get(f"{server.url}/healthz", **{"X-Request-Id": "<script>"})
        assert headers["X-Request-Id"] != "<script>" and headers["X-Request-Id"]
        status, headers, body = get(f"{server.url}/metrics")
        assert status == 200
        text = body.decode()
        assert (
            'autoconfig_requests_total{endpoint="config-v1.1.xml",family="thunderbird",'
            'status="200"} 3.0' in text
        )
        assert 'family="thunderbird",status="404"} 1.0' in text
        assert "autoconfig_request_duration_seconds_bucket" in text
        assert "autoconfig_catalog_providers 3.0" in text
        assert "autoconfig_config_generation 1.0" in text


def test_metrics_on_their_own_port(tmp_path):
    metrics_port = free_port()
    with ServerProcess(BUNDLED, "--metrics-port", str(metrics_port)) as server:
        assert get(f"{server.url}/metrics")[0] == 404
        status, _, body = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200 and b"autoconfig_catalog_domains" in body


def test_every_option_can_come_from_the_environment(tmp_path):
    port = free_port()
    env = {
        "AUTOCONFIG_CONFIG": str(BUNDLED),
        "AUTOCONFIG_ACCESS_LOG": "json",
        "AUTOCONFIG_NO_SETTINGS_PAGE": "true",
    }
    with ServerProcess(BUNDLED, env=env, port=port) as server:
        assert get(f"{server.url}/")[0] == 404, "AUTOCONFIG_NO_SETTINGS_PAGE turned the page off"
        get(f"{server.url}/mail/config-v1.1.xml?emailaddress=a%40example.com")
        wait_until(lambda: '"path": "/mail/config-v1.1.xml"' in server.log())


def test_workers_share_the_port_and_stop_together(tmp_path):
    with ServerProcess(BUNDLED, "--workers", "2") as server:
        prefixes = set()
        deadline = time.monotonic() + 20
        while len(prefixes) < 2 and time.monotonic() < deadline:
            status, headers, _ = get(f"{server.url}/healthz")
            assert status == 200
            prefixes.add(headers["X-Request-Id"].split("-")[0])
        assert len(prefixes) == 2, "two worker processes answered"
    assert server.process.returncode == 0


def test_sigterm_lets_accepted_requests_finish(tmp_path):
    """Requests the server has begun to read finish after SIGTERM; new connections are refused."""
    with ServerProcess(BUNDLED, "--shutdown-timeout", "5") as server:
        body = pox("a@example.com")
        half = len(body) // 2
        sockets = []
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(
                b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\n"
                b"Host: autodiscover.example.com\r\n"
                + f"Content-Length: {len(body)}\r\nContent-Type: text/xml\r\n\r\n".encode()
                + body[:half]
            )
            sockets.append(sock)
        time.sleep(0.3)
        server.signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        for sock in sockets:
            sock.sendall(body[half:])
        for sock in sockets:
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            sock.close()
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
            assert b"imap.example.com" in answer
        assert server.process.wait(timeout=10) == 0


def test_readyz_is_503_while_draining(tmp_path):
    with ServerProcess(BUNDLED, "--drain-delay", "2") as server:
        assert get(f"{server.url}/readyz")[0] == 200
        server.signal(signal.SIGTERM)
        wait_until(lambda: get(f"{server.url}/readyz")[0] == 503)
        _, _, body = get(f"{server.url}/readyz")
        assert json.loads(body)["ready"] is False
        assert get(f"{server.url}/healthz")[0] == 200, "still serving while draining"


def test_runs_under_gunicorns_aiohttp_worker(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            str(gunicorn),
            "autoconfig.gunicorn:app",
            "--worker-class",
            "aiohttp.GunicornUVLoopWebWorker",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env={**os.environ, "AUTOCONFIG_CONFIG": str(BUNDLED)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/mail/config-v1.1.xml?emailaddress=a%40example.com"

        def answers() -> bool:
            try:
                return get(url)[0] == 200
            except OSError:
                return False

        wait_until(answers, timeout=30)
        _, _, body = get(url)
        assert b"imap.example.com" in body
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_plain_http_listener_requests_are_counted(tmp_path, ca):
    chain, key, _ = write_cert(ca, tmp_path)
    http_port = free_port()
    with ServerProcess(
        BUNDLED, "--tls-cert", str(chain), "--tls-key", str(key), "--http-port", str(http_port)
    ) as server:
        status, headers, _ = get(
            f"http://127.0.0.1:{http_port}/mail/config-v1.1.xml?emailaddress=a%40example.com"
        )
        assert status == 200 and headers["X-Request-Id"]
        url = f"https://127.0.0.1:{server.port}/metrics"
        _, _, body = get(url, client_context(ca))
    assert 'endpoint="config-v1.1.xml",family="thunderbird",status="200"} 1.0' in body.decode()


def test_the_rate_limit_guards_the_plain_http_listener_too(tmp_path, ca):
    """One bucket per client across both listeners: the plain port is no way around the limit."""
    chain, key, _ = write_cert(ca, tmp_path)
    http_port = free_port()
    with ServerProcess(
        BUNDLED, "--tls-cert", str(chain), "--tls-key", str(key), "--http-port", str(http_port),
        "--rate-limit", "0.01", "--rate-burst", "3",
    ) as server:  # fmt: skip
        url = "/mail/config-v1.1.xml?emailaddress=a%40example.com"
        statuses = [get(f"https://127.0.0.1:{server.port}{url}", client_context(ca))[0]]
        for _ in range(4):
            statuses.append(get(f"http://127.0.0.1:{http_port}{url}")[0])
    assert statuses == [200, 200, 200, 429, 429]
