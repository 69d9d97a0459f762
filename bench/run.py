"""`make bench`: autoconfig against a bare aiohttp app, side by side, with wrk on loopback.

Both servers run at the same time pinned to core 0 and are loaded at the same moment by two wrk
processes pinned to core 1, so machine noise hits both alike and the ratio is what counts.
Every request asks for a different address at one of the catalog's 101,000 domains. The last
line of output is machine-readable JSON.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import catalog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
POX = (
    '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
    'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>%s'
    "</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/"
    "autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>"
    "</Autodiscover>"
)


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    """Path template; %s is replaced by a URL-encoded address (or the address, in POST bodies)."""
    target: float
    """The ratio to the baseline the issue asks for."""


ENDPOINTS = (
    Endpoint("thunderbird", "GET", "/mail/config-v1.1.xml?emailaddress=%s", 0.90),
    Endpoint("outlook-pox", "POST", "/autodiscover/autodiscover.xml", 0.75),
    Endpoint(
        "autodiscover-json",
        "GET",
        "/autodiscover/autodiscover.json?Email=%s&Protocol=AutodiscoverV1",
        0.85,
    ),
    Endpoint("apple-profile", "GET", "/email.mobileconfig?emailaddress=%s", 0.85),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lua_script(endpoint: Endpoint, domains: list[str]) -> str:
    """A wrk script asking for user<N>@<a domain of the catalog>, a new address each request."""
    quoted = ",".join(f'"{d}"' for d in domains)
    if endpoint.method == "GET":
        make = f'wrk.format("GET", string.format("{endpoint.path}", addr_q))'
    else:
        body = POX.replace('"', '\\"')
        make = (
            f'wrk.format("POST", "{endpoint.path}", '
            f'{{["Content-Type"]="text/xml"}}, string.format("{body}", addr))'
        )
    return f"""
local domains = {{{quoted}}}
local n = 0
request = function()
  n = n + 1
  local addr = "user" .. n .. "@" .. domains[(n % #domains) + 1]
  local addr_q = "user" .. n .. "%40" .. domains[(n % #domains) + 1]
  return {make}
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"status_errors":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def serve_command(config: Path, port: int, *options: str) -> list[str]:
    """`autoconfig serve` of the generated catalog on a loopback port, files not watched."""
    command = [sys.executable, "-m", "autoconfig", "serve", "--config", str(config)]
    return [*command, "--port", str(port), "--no-watch", *options]


def start(command: list[str], port: int, core: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ["taskset", "-c", str(core), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def wrk(port: int, script: Path, seconds: int, core: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "taskset",
            "-c",
            str(core),
            "wrk",
            "-t1",
            "-c50",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def result(process: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = process.communicate(timeout=120)
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    data = json.loads(line[len("RESULT ") :])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def side_by_side(
    port: int, base_port: int, script: Path, args: argparse.Namespace
) -> list[tuple[dict[str, float], dict[str, float]]]:
    """`args.rounds` rounds of wrk on our server and the baseline at the same moment:
    (ours, baseline) results per round."""
    rounds = []
    for _ in range(args.rounds):
        ours_run = wrk(port, script, args.seconds, 1)
        base_run = wrk(base_port, script, args.seconds, 1)
        rounds.append((result(ours_run), result(base_run)))
    return rounds


def works(port: int, endpoint: Endpoint, domain: str) -> bool:
    address = f"probe@{domain}"
    url = f"http://127.0.0.1:{port}" + endpoint.path.replace("%s", address.replace("@", "%40"))
    data = (POX % address).encode() if endpoint.method == "POST" else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reload_stall(port: int, process: subprocess.Popen[str]) -> float:
    """Longest /healthz round trip (ms) while the big catalog reloads after SIGHUP."""

    def generation() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as reply:
            return json.loads(reply.read())["generation"]

    before = generation()
    worst = 0.0
    stop = threading.Event()

    def probe() -> None:
        nonlocal worst
        connection = socket.create_connection(("127.0.0.1", port))
        request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
        while not stop.is_set():
            started = time.perf_counter()
            connection.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                data += connection.recv(65536)
            worst = max(worst, time.perf_counter() - started)
        connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    time.sleep(0.3)
    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while generation() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    thread.join()
    return worst * 1000


def access_log_ratio(
    config: Path, base_port: int, domains: list[str], work: Path, args: argparse.Namespace
) -> float:
    """The Thunderbird ratio again, with JSON access logs on (written, then thrown away)."""
    port = free_port()
    logged = start(serve_command(config, port, "--access-log", "json"), port, core=0)
    try:
        script = work / "thunderbird-logged.lua"
        script.write_text(lua_script(ENDPOINTS[0], domains))
        rounds = side_by_side(port, base_port, script, args)
        return round(statistics.median(o["rps"] / b["rps"] for o, b in rounds), 3)
    finally:
        logged.terminate()
        logged.wait(timeout=10)


def signing_files(work: Path, kind: str) -> tuple[Path, Path]:
    """A self-signed profile-signing certificate and its key: RSA 2048 or ECDSA P-256."""
    key = (
        rsa.generate_private_key(65537, 2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bench {kind}")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = work / f"{kind}.crt", work / f"{kind}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def signed_profile_ratios(
    config: Path, base_port: int, domains: list[str], work: Path, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """The Apple profile ratio with signing on, for an RSA and an ECDSA signing key."""
    apple = next(e for e in ENDPOINTS if e.name == "apple-profile")
    script = work / "apple-signed.lua"
    script.write_text(lua_script(apple, domains))
    results = {}
    for kind in ("rsa", "ecdsa"):
        cert, key = signing_files(work, kind)
        port = free_port()
        signing = ("--profile-cert", str(cert), "--profile-key", str(key))
        server = start(serve_command(config, port, *signing), port, core=0)
        try:
            rounds = side_by_side(port, base_port, script, args)
            results[kind] = {
                "rps": round(statistics.median(o["rps"] for o, _ in rounds)),
                "ratio": round(statistics.median(o["rps"] / b["rps"] for o, b in rounds), 3),
                "p99_ms": round(statistics.median(o["p99_us"] for o, _ in rounds) / 1000, 2),
            }
        finally:
            server.terminate()
            server.wait(timeout=10)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="*", metavar="ENDPOINT", help="measure these endpoints")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="autoconfig-bench-"))
    config = catalog.write(work)
    domains = [catalog.provider_domain(i) for i in range(0, catalog.PROVIDERS, 3)]
    domains += [catalog.hosted_domain(i) for i in range(0, catalog.HOSTED_DOMAINS, 97)]

    ours_port, base_port = free_port(), free_port()
    started = time.monotonic()
    ours = start(serve_command(config, ours_port), ours_port, core=0)
    startup = time.monotonic() - started
    rss = rss_mib(ours.pid)
    base = start([sys.executable, str(HERE / "baseline_app.py"), str(base_port)], base_port, 0)
    report: dict[str, object] = {
        "startup_s": round(startup, 2),
        "rss_mib": round(rss, 1),
        "domains": catalog.HOSTED_DOMAINS + 2 * catalog.PROVIDERS + 1,
        "providers": catalog.PROVIDERS + 1,
    }
    print(
        f"catalog: {report['providers']} providers, {report['domains']} domains; "
        f"start-up to ready {startup:.2f} s, RSS {rss:.0f} MiB"
    )
    results = {}
    try:
        for endpoint in ENDPOINTS:
            if args.only and endpoint.name not in args.only:
                continue
            if not works(ours_port, endpoint, domains[0]):
                print(f"{endpoint.name:18} skipped: the server does not answer it (yet)")
                continue
            script = work / f"{endpoint.name}.lua"
            script.write_text(lua_script(endpoint, domains))
            rounds = side_by_side(ours_port, base_port, script, args)
            ratio = statistics.median(o["rps"] / b["rps"] for o, b in rounds)
            summary = {
                "rps": round(statistics.median(o["rps"] for o, _ in rounds)),
                "baseline_rps": round(statistics.median(b["rps"] for _, b in rounds)),
                "ratio": round(ratio, 3),
                "target": endpoint.target,
                "p50_ms": round(statistics.median(o["p50_us"] for o, _ in rounds) / 1000, 2),
                "p99_ms": round(statistics.median(o["p99_us"] for o, _ in rounds) / 1000, 2),
                "baseline_p99_ms": round(
                    statistics.median(b["p99_us"] for _, b in rounds) / 1000, 2
                ),
                "errors": sum(o["socket_errors"] + o["status_errors"] for o, _ in rounds),
            }
            results[endpoint.name] = summary
            print(
                f"{endpoint.name:18} {summary['rps']:>7} req/s"
                f"  baseline {summary['baseline_rps']:>7}"
                f"  ratio {summary['ratio']:.2f} (target {endpoint.target:.2f})"
                f"  p50 {summary['p50_ms']} ms  p99 {summary['p99_ms']} ms"
                f" (baseline {summary['baseline_p99_ms']} ms)  errors {summary['errors']}"
            )
        if args.only is None or "thunderbird" in args.only:
            report["thunderbird_access_log_ratio"] = access_log_ratio(
                config, base_port, domains, work, args
            )
            print(
                "thunderbird with --access-log json: ratio "
                f"{report['thunderbird_access_log_ratio']:.2f} (logs written to /dev/null)"
            )
        if args.only is None or "apple-profile" in args.only:
            signed = signed_profile_ratios(config, base_port, domains, work, args)
            report["apple_profile_signed"] = signed
            for kind, figures in signed.items():
                print(
                    f"apple-profile signed ({kind}): {figures['rps']} req/s, ratio "
                    f"{figures['ratio']:.2f}, p99 {figures['p99_ms']} ms"
                )
        report["reload_stall_ms"] = round(reload_stall(ours_port, ours), 1)
        stall = report["reload_stall_ms"]
        print(f"reload of the whole catalog: longest /healthz round trip {stall} ms")
    finally:
        for process in (ours, base):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    report["endpoints"] = results
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
