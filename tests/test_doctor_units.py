"""The doctor's pieces on their own: judgements, parsers, reporters, the runner, the command line,
and protocol edge cases against tiny fake servers on 127.0.0.1 (nothing else is contacted: names
are IP addresses, and the only nameserver configured is a closed loopback port)."""

import asyncio
import contextlib
import io
import json
import socket
import ssl
import threading
import time
import warnings

import pytest

from autoconfig.address import parse_address
from autoconfig.catalog import Catalog
from autoconfig.cli import main
from autoconfig.config.loader import load_config
from autoconfig.doctor import (
    Nameserver,
    Options,
    Target,
    answers,
    mail,
    records,
    report,
    rules,
    run,
)
from autoconfig.doctor.context import open_context
from autoconfig.doctor.findings import Finding, Report, Status, Timing, failed, passed, warned
from autoconfig.doctor.protocols import Capabilities
from autoconfig.doctor.resolve import AiohttpResolver, Failure, Lookup, ResolveError
from autoconfig.doctor.tls import Handshake, judge_handshake
from autoconfig.formats import outlook
from autoconfig.model import Authentication, Server, SocketType

from .conftest import BUNDLED
from .doctor_lab import udp_black_hole

A = Authentication


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def options(**changes) -> Options:
    settings = {
        "nameservers": (Nameserver("127.0.0.1", closed_port()),),
        "timeout": 0.5,
    }
    settings.update(changes)
    return Options(**settings)


def server(kind="imap", port=993, socket_type=SocketType.SSL, auth=(A.PASSWORD_CLEARTEXT,)):
    return Server(kind, "127.0.0.1", port, socket_type, tuple(auth), "%EMAILADDRESS%")


def caps(*mechanisms, starttls=False, cleartext_login=False) -> Capabilities:
    return Capabilities(starttls, frozenset(mechanisms), cleartext_login, " ".join(mechanisms))


# --- command-line values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", Nameserver("192.0.2.1", 53)),
        ("192.0.2.1:5353", Nameserver("192.0.2.1", 5353)),
        ("2001:db8::1", Nameserver("2001:db8::1", 53)),
        ("[2001:db8::1]:5353", Nameserver("2001:db8::1", 5353)),
        ("[::1]", Nameserver("::1", 53)),
    ],
)
def test_nameserver_forms(text, expected):
    assert Nameserver.parse(text) == expected


@pytest.mark.parametrize("text", ["ns.example.com", "192.0.2.1:0", "192.0.2.1:x", "[::1]x", ""])
def test_nameserver_must_be_an_address_and_port(text):
    with pytest.raises(ValueError):
        Nameserver.parse(text)


@pytest.mark.parametrize(
    ("nameserver", "shown"),
    [
        (Nameserver("192.0.2.1"), "192.0.2.1"),
        (Nameserver("192.0.2.1", 5353), "192.0.2.1:5353"),
        (Nameserver("2001:db8::1", 5353), "[2001:db8::1]:5353"),
    ],
)
def test_a_nameserver_is_shown_as_it_is_written_on_the_command_line(nameserver, shown):
    assert str(nameserver) == shown
    assert Nameserver.parse(shown) == nameserver


def test_target_from_address_or_domain():
    alice = Target.parse("Alice@Bücher.example")
    assert (alice.domain, alice.given_address) == ("xn--bcher-kva.example", True)
    domain = Target.parse("Example.COM")
    assert (domain.domain, domain.given_address, str(domain.address)) == (
        "example.com",
        False,
        "postmaster@example.com",
    )


# --- judgements -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "offered", "status"),
    [
        ((A.PASSWORD_CLEARTEXT,), caps("PLAIN"), Status.PASS),
        ((A.PASSWORD_CLEARTEXT,), caps(cleartext_login=True), Status.PASS),
        ((A.PASSWORD_CLEARTEXT,), caps("CRAM-MD5"), Status.FAIL),
        ((A.PASSWORD_ENCRYPTED,), caps("SCRAM-SHA-256", "PLAIN"), Status.PASS),
        ((A.PASSWORD_ENCRYPTED,), caps("PLAIN", "LOGIN"), Status.FAIL),
        ((A.OAUTH2, A.PASSWORD_CLEARTEXT), caps("OAUTHBEARER", "PLAIN"), Status.PASS),
        ((A.OAUTH2, A.PASSWORD_CLEARTEXT), caps("PLAIN"), Status.FAIL),
        ((A.PASSWORD_CLEARTEXT, A.OAUTH2), caps("PLAIN"), Status.WARN),
        ((A.CLIENT_IP_ADDRESS,), caps(), Status.PASS),
        ((A.TLS_CLIENT_CERT,), caps(), Status.PASS),
    ],
)
def test_announced_authentication_against_offered_mechanisms(auth, offered, status):
    target = rules.MailTarget(server(auth=auth), "127.0.0.1")
    finding = rules.judge_auth(target, offered)
    assert finding.status is status, finding
    if status is not Status.PASS:
        assert finding.fix


@pytest.mark.parametrize(
    ("kind", "offered", "status"),
    [
        ("imap", caps(starttls=True), Status.PASS),
        ("imap", caps("PLAIN", starttls=True), Status.FAIL),
        ("imap", caps(starttls=True, cleartext_login=True), Status.WARN),
        ("pop3", caps(starttls=True, cleartext_login=True), Status.FAIL),
        ("smtp", caps("LOGIN", starttls=True), Status.FAIL),
        ("smtp", caps("CRAM-MD5", starttls=True), Status.PASS),
    ],
)
def test_no_cleartext_password_before_tls(kind, offered, status):
    target = rules.MailTarget(server(kind, 143, SocketType.STARTTLS), "127.0.0.1")
    assert rules.judge_cleartext(target, offered).status is status


def test_submission_on_the_relay_port_warns():
    relay = rules.judge_port(rules.MailTarget(server("smtp", 25, SocketType.STARTTLS), "h"))
    assert relay is not None and relay.status is Status.WARN and "587" in (relay.fix or "")
    assert rules.judge_port(rules.MailTarget(server("smtp", 587, SocketType.STARTTLS), "h")) is None


def test_certificate_expiry_warns_within_14_days():
    soon = Handshake("TLSv1.3", time.time() + 3 * 86400)
    later = Handshake("TLSv1.2", time.time() + 60 * 86400)
    assert judge_handshake("mail.tls", "s", "h", soon).status is Status.WARN
    finding = judge_handshake("mail.tls", "s", "h", later)
    assert finding.status is Status.PASS and "TLSv1.2" in finding.detail


# --- answers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example():
    match = Catalog.from_config(load_config(BUNDLED)).lookup("example.com")
    assert match is not None
    return match


def test_thunderbird_answer_is_read_back_as_its_servers(example):
    servers = answers.thunderbird_servers(example.entry.thunderbird.fill("example.com"))
    assert [str(s) for s in servers] == [
        "imap imap.example.com:993 SSL",
        "pop3 pop.example.com:995 SSL",
        "smtp smtp.example.com:465 SSL",
        "smtp smtp.example.com:587 STARTTLS",
    ]


def test_autodiscover_answer_is_read_back_the_same_way(example):
    body = example.entry.outlook.fill(parse_address("alice@example.com"))
    servers = answers.autodiscover_servers(body)
    assert str(servers[-1]) == "smtp smtp.example.com:587 STARTTLS"
    error = outlook.render_error(outlook.ErrorCode.ADDRESS_NOT_FOUND)
    with pytest.raises(answers.AnswerError, match="error 500"):
        answers.autodiscover_servers(error)


def test_answers_from_the_network_cannot_read_local_files():
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b'<clientConfig><emailProvider><incomingServer type="imap"><hostname>&x;</hostname>'
        b"<port>993</port><socketType>SSL</socketType></incomingServer></emailProvider>"
        b"</clientConfig>"
    )
    (found,) = answers.thunderbird_servers(hostile)
    assert found.host == ""
    with pytest.raises(answers.AnswerError):
        answers.thunderbird_servers(b"<html>not found</html")


def test_differences_name_what_changed():
    a = answers.Announced("imap", "imap.example.com", "993", "SSL")
    b = answers.Announced("imap", "imap.example.com", "143", "STARTTLS")
    c = answers.Announced("smtp", "smtp.example.com", "465", "SSL")
    assert answers.differences([a, c], [a, c]) == []
    assert "another order" in answers.differences([a, c], [c, a])[0]
    assert answers.differences([a, c], [b, c]) == [
        "announces imap imap.example.com:143 STARTTLS",
        "providers.yaml says imap imap.example.com:993 SSL",
    ]


# --- DNS expectations -------------------------------------------------------------------------


def test_expected_records_are_those_autoconfig_dns_prints(example):
    wanted = records.Recommended.of(example.provider, "example.com")
    srv = {rrset.name.to_text(): rrset for rrset in wanted.of_type("SRV")}
    assert "_imaps._tcp.example.com." in srv
    assert [r.to_text() for r in srv["_imap._tcp.example.com."]] == ["0 0 0 ."]
    assert wanted.of_type("TXT")[0].name.to_text() == "_ua-auto-config.example.com."


@pytest.mark.parametrize(
    ("found", "status", "words"),
    [
        ([(0, 993, "imap.example.com."), (1, 995, "pop.example.com.")], Status.PASS, "as provid"),
        ([(0, 995, "pop.example.com."), (1, 993, "imap.example.com.")], Status.WARN, "order"),
        ([], Status.WARN, "not published"),
        ([(0, 143, "imap.example.com.")], Status.FAIL, "publishes imap.example.com:143"),
    ],
)
def test_srv_records_are_judged_against_the_recommendation(found, status, words):
    wanted = records.dns.rrset.from_text_list(
        "_imaps._tcp.example.com.",
        3600,
        "IN",
        "SRV",
        ["0 1 993 imap.example.com.", "1 1 995 pop.example.com."],
    )
    finding = records._judge_srv("_imaps._tcp.example.com.", wanted, found)
    assert finding.status is status, finding
    assert words in finding.detail


def test_a_service_providers_yaml_does_not_offer():
    wanted = records.dns.rrset.from_text_list("_pop3._tcp.x.", 3600, "IN", "SRV", ["0 0 0 ."])
    assert records._judge_srv("_pop3._tcp.x.", wanted, []).status is Status.PASS
    extra = records._judge_srv("_pop3._tcp.x.", wanted, [(0, 110, "pop.x.")])
    assert extra.status is Status.WARN and "does not announce" in extra.detail


# --- reports ----------------------------------------------------------------------------------


TIMING = Timing(seconds=2.04, timeout=5, steps=23)


def sample_report() -> Report:
    return Report(
        ("example.com",),
        (
            passed("dns.mx", "example.com MX", "10 mx.example.com."),
            warned("dns.srv", "_imaps._tcp.example.com SRV", "not published", "line one\nline two"),
            failed("mail.tls", "imap imap.example.com:993 SSL", "certificate has expired", "renew"),
            passed("mail.connect", "imap imap.example.com:993 SSL", "connected"),
        ),
        TIMING,
    )


def test_exit_code_is_the_worst_status():
    assert Report((), (), TIMING).exit_code == 0
    assert Report((), (passed("a.b", "s", "d"),), TIMING).exit_code == 0
    assert Report((), (passed("a.b", "s", "d"), warned("a.b", "s", "d")), TIMING).exit_code == 1
    assert sample_report().exit_code == 2


def test_text_report_has_a_line_per_check_and_fixes_under_problems():
    text = report.render_text(sample_report())
    lines = text.splitlines()
    assert lines[0] == "autoconfig doctor: example.com"
    assert lines.index("DNS") < lines.index("Mail servers")
    assert "    FAIL  tls      certificate has expired" in lines
    assert any(line.strip() == "fix: renew" for line in lines)
    fix = next(i for i, line in enumerate(lines) if "fix: line one" in line)
    assert lines[fix + 1].strip() == "line two"
    assert lines[fix + 1].index("line two") == lines[fix].index("line one")
    assert "fix:" not in next(line for line in lines if "10 mx.example.com." in line)
    assert lines[-2] == "4 checks: 2 passed, 1 warning, 1 failed"
    assert lines[-1] == "took 2.0 s (limit 115 s: 23 x --timeout 5 s)"


def test_json_report_for_monitoring():
    document = json.loads(report.render_json(sample_report()))
    assert document["status"] == "fail"
    assert document["exit_code"] == 2
    assert document["counts"] == {"pass": 2, "warn": 1, "fail": 1}
    assert document["findings"][2]["section"] == "mail"
    assert document["timing"] == {
        "seconds": 2.04,
        "limit_seconds": 115,
        "timeout_seconds": 5,
        "steps": 23,
    }


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal():
    piped = io.StringIO()
    line = report.ProgressLine(piped)
    line(1, 2, "imap imap.example.com:993 SSL")
    line.clear()
    assert piped.getvalue() == ""
    terminal = Terminal()
    line = report.ProgressLine(terminal)
    line(1, 12, "imap imap.example.com:993 SSL")
    line.clear()
    assert terminal.getvalue() == "\r\x1b[K[ 1/12] imap imap.example.com:993 SSL\r\x1b[K"


# --- the runner -------------------------------------------------------------------------------


async def test_runner_bounds_concurrency_and_keeps_plan_order():
    running = peak = 0

    async def probe(n: int) -> list[Finding]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 * (5 - n))
        running -= 1
        return [passed("dns.x", f"s{n}", "ok")]

    probes = [run.Probe(f"p{n}", "dns.x", f"s{n}", lambda n=n: probe(n)) for n in range(5)]
    findings = await run.run_probes(probes, options(concurrency=2))
    assert [f.subject for f in findings] == ["s0", "s1", "s2", "s3", "s4"]
    assert peak == 2


async def test_a_hanging_probe_costs_one_failure_not_the_run():
    async def hang() -> list[Finding]:
        await asyncio.sleep(60)
        return []

    started = time.monotonic()
    (finding,) = await run.run_probes(
        [run.Probe("slow", "mail.connect", "imap slow:993 SSL", hang)], options(timeout=0.05)
    )
    assert time.monotonic() - started < 5
    assert finding.status is Status.FAIL and "no result within" in finding.detail


async def test_hanging_probes_end_within_the_limit_the_report_prints():
    """Five probes that never finish, two at a time: each is cut off, and the run ends within
    the bound `limit_steps` documents for five probes (plus a margin for scheduling)."""

    async def hang() -> list[Finding]:
        await asyncio.sleep(60)
        return []

    settings = options(timeout=0.05, concurrency=2)
    probes = [run.Probe(f"p{n}", "mail.connect", f"s{n}", hang) for n in range(5)]
    started = time.monotonic()
    findings = await run.run_probes(probes, settings)
    elapsed = time.monotonic() - started
    assert [f.status for f in findings] == [Status.FAIL] * 5
    assert elapsed <= run.limit_steps(len(probes), settings) * settings.timeout + 0.5


async def test_each_lookup_with_its_retries_ends_within_the_timeout():
    """A nameserver that never answers: dnspython retries within its lifetime and used to
    overrun it; the lookup must end within --timeout (plus a margin for scheduling), and say
    so without dnspython's trace of attempts."""
    with udp_black_hole() as silent:
        port = silent.getsockname()[1]
        lookup = Lookup([Nameserver("127.0.0.1", port)], timeout=0.6)
        started = time.monotonic()
        with pytest.raises(ResolveError) as silence:
            await lookup.addresses("imap.example.com")
        assert time.monotonic() - started <= 0.6 + 0.5
    assert silence.value.failure is Failure.NO_ANSWER
    assert str(silence.value) == (
        f"cannot look up imap.example.com: the nameserver 127.0.0.1:{port} did not answer "
        "within 0.6 s"
    )


async def test_http_client_only_connects_where_the_doctor_resolved():
    resolver = AiohttpResolver(Lookup([Nameserver("127.0.0.1", closed_port())], timeout=0.2))
    (result,) = await resolver.resolve("127.0.0.1", 443)
    assert (result["host"], result["port"]) == ("127.0.0.1", 443)
    with pytest.raises(OSError):
        await resolver.resolve("127.0.0.1", 443, socket.AF_INET6)


# --- protocol edge cases against fake servers -------------------------------------------------


async def fake_server(script):
    """A TCP server on 127.0.0.1 that runs `script(reader, writer)` per connection."""

    async def handle(reader, writer):
        try:
            await script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def probe(target_server: Server, **changes) -> list[Finding]:
    async with open_context(options(**changes)) as context:
        return await mail.check_server(context, rules.MailTarget(target_server, "127.0.0.1"))


def by_check(findings):
    return {f.check: f for f in findings}


async def test_plain_socket_type_with_passwords_fails_and_names_starttls():
    async def imap(reader, writer):
        writer.write(b"* OK ready\r\n")
        while line := await reader.readline():
            tag, command = line.decode().split()[:2]
            if command == "CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n")
            writer.write(f"{tag} OK done\r\n".encode())

    server_, port = await fake_server(imap)
    async with server_:
        findings = by_check(await probe(server("imap", port, SocketType.PLAIN)))
    assert findings["mail.greeting"].status is Status.PASS
    encryption = findings["mail.encryption"]
    assert encryption.status is Status.FAIL
    assert "passwords" in encryption.detail and "offers STARTTLS" in (encryption.fix or "")


async def test_another_protocol_on_the_port_is_named():
    async def smtp(reader, writer):
        writer.write(b"220 mail.example ESMTP\r\n")
        await reader.readline()

    server_, port = await fake_server(smtp)
    async with server_:
        findings = by_check(await probe(server("imap", port, SocketType.STARTTLS)))
    greeting = findings["mail.greeting"]
    assert greeting.status is Status.FAIL and "this port speaks SMTP" in greeting.detail


async def test_an_endless_line_ends_the_probe():
    async def flood(reader, writer):
        writer.write(b"* OK " + b"x" * 100_000)
        await writer.drain()
        await reader.read(1)

    server_, port = await fake_server(flood)
    async with server_:
        findings = by_check(await probe(server("imap", port, SocketType.STARTTLS)))
    assert findings["mail.greeting"].status is Status.FAIL
    assert "longer than" in findings["mail.greeting"].detail


async def test_a_silent_port_fails_within_the_timeouts():
    async def silent(reader, writer):
        await reader.read(1)

    server_, port = await fake_server(silent)
    started = time.monotonic()
    async with server_:
        findings = by_check(await probe(server("pop3", port, SocketType.STARTTLS), timeout=0.3))
    assert time.monotonic() - started < 3
    greeting = findings["mail.greeting"]
    assert greeting.status is Status.FAIL and "no greeting" in greeting.detail


async def test_a_handshake_that_never_completes_after_starttls_is_a_handshake_timeout():
    async def imap(reader, writer):
        writer.write(b"* OK ready\r\n")
        while line := await reader.readline():
            tag, command = line.decode().split()[:2]
            if command == "CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n")
            writer.write(f"{tag} OK begin TLS\r\n".encode())
            if command == "STARTTLS":
                await reader.read()  # take the ClientHello, never answer it

    server_, port = await fake_server(imap)
    async with server_:
        findings = by_check(await probe(server("imap", port, SocketType.STARTTLS), timeout=0.3))
    tls = findings["mail.tls"]
    assert tls.status is Status.FAIL
    assert tls.detail.startswith("after STARTTLS: TLS handshake timeout: the port accepted")
    assert "within 0.3 s" in tls.detail


async def test_tls_older_than_1_2_is_refused(tmp_path):
    trustme = pytest.importorskip("trustme", reason="trustme is a test extra")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as exc:
        pytest.skip(f"this OpenSSL cannot serve TLS 1.1 to test against: {exc}")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    # A blocking server in a thread: asyncio's TLS server drops the connection without sending
    # the protocol_version alert that real servers send.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            with contextlib.suppress(ssl.SSLError, OSError):
                context.wrap_socket(connection, server_side=True).sendall(b"* OK ready\r\n")
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    findings = by_check(await probe(server("imap", port), ca_file=ca_file))
    thread.join(5)
    assert findings["mail.tls"].status is Status.FAIL
    assert "TLS 1.2" in findings["mail.tls"].detail


# --- the command ------------------------------------------------------------------------------


def test_command_without_a_target_fails(capsys):
    assert main(["doctor", "--config", str(BUNDLED)]) == 2
    assert "name a domain" in capsys.readouterr().err


def test_command_with_an_invalid_address_fails(capsys):
    assert main(["doctor", "--config", str(BUNDLED), "alice@@example.com"]) == 2
    assert "alice@@example.com" in capsys.readouterr().err


def test_command_with_a_broken_config_fails(tmp_path, capsys):
    broken = tmp_path / "providers.yaml"
    broken.write_text("providers: 3\n")
    assert main(["doctor", "--config", str(broken), "example.com"]) == 2
    assert "providers.yaml" in capsys.readouterr().err


def test_command_with_a_missing_ca_file_fails(tmp_path, capsys):
    missing = tmp_path / "nope.pem"
    assert main(["doctor", "--config", str(BUNDLED), "--ca-file", str(missing), "x.org"]) == 2
    assert "--ca-file" in capsys.readouterr().err


def test_command_with_an_unknown_provider_fails(capsys):
    assert main(["doctor", "--config", str(BUNDLED), "--provider", "nobody"]) == 2
    assert "no provider has the id" in capsys.readouterr().err


def test_command_rejects_a_host_name_as_nameserver(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["doctor", "--config", str(BUNDLED), "--nameserver", "ns.example", "x.org"])
    assert exit_.value.code == 2
    assert "must be an IP address" in capsys.readouterr().err
