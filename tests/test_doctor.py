"""`autoconfig doctor` against real servers on loopback: every broken variant gets its failure.

The lab (tests/doctor_lab.py) serves three domains from a test zone:
- good.test: everything right (Dovecot IMAP/POP3 with SSL and STARTTLS, aiosmtpd submission with
  SSL and STARTTLS, the autoconfig app on HTTPS, every recommended record): all pass, exit 0.
- soon.test: working servers, but an HTTPS certificate that expires in 5 days and no SRV
  records: warnings only, exit 1.
- broken.test: one server per classic mistake (STARTTLS missing, an expired certificate, PLAIN
  before TLS, SSL announced on a STARTTLS port and the reverse, a closed port, a certificate for
  another host, a method the server does not offer), a stale autoconfig answer, no
  autodiscover name, a wrong SRV record and no MX: exit 2, each reported as its own failure.

Dovecot comes from Debian (`make test` installs it as root); without it the tests that need
IMAP/POP3 are skipped with the reason.
"""

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autoconfig.catalog import Catalog
from autoconfig.config.loader import load_config
from autoconfig.doctor import Options, Report, Status, diagnose, parse_targets
from autoconfig.doctor.resolve import Failure, Lookup, ResolveError
from autoconfig.formats import pacc
from autoconfig.web.app import AppOptions, create_app

from . import doctor_lab as lab_tools

pytest.importorskip("trustme", reason="trustme is a test extra: make install-test")
pytest.importorskip("aiosmtpd", reason="aiosmtpd is a test extra: make install-test")

TIMEOUT = 1.5
"""Seconds per network step: everything answers in milliseconds on loopback; only the probe of
a silent port waits this long."""

GOOD, NOTLS, EXPIRED, WEB, STALE = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"
STUCK = "127.0.0.7"
"""Every port here accepts connections and never answers: no TLS handshake completes."""

PROVIDERS = """\
providers:
  - id: good.test
    displayName: Good Mail
    domains: [good.test]
    incoming:
      - {{type: imap, hostname: imap.good.test, port: {good[imaps]}, socketType: SSL}}
      - {{type: imap, hostname: imap.good.test, port: {good[imap]}, socketType: STARTTLS}}
      - {{type: pop3, hostname: pop.good.test, port: {good[pop3s]}, socketType: SSL}}
      - {{type: pop3, hostname: pop.good.test, port: {good[pop3]}, socketType: STARTTLS}}
    outgoing:
      - {{hostname: smtp.good.test, port: {smtps}, socketType: SSL}}
      - {{hostname: smtp.good.test, port: {submission}, socketType: STARTTLS}}
  - id: soon.test
    displayName: Soon Mail
    domains: [soon.test]
    incoming:
      - {{type: imap, hostname: imap.good.test, port: {good[imaps]}, socketType: SSL}}
    outgoing:
      - {{hostname: smtp.good.test, port: {smtps}, socketType: SSL}}
  - id: moved.test
    displayName: Moved Mail
    domains: [moved.test]
    redirectUrl: https://autodiscover.good.test/autodiscover/autodiscover.xml
  - id: forward.test
    displayName: Forwarded Mail
    domains: [forward.test]
    redirectAddr: "%EMAILLOCALPART%@good.test"
  - id: stuck.test
    displayName: Stuck Mail
    domains: [stuck.test]
    incoming:
      - {{type: imap, hostname: imap.stuck.test, port: {stuck_imaps}, socketType: SSL}}
    outgoing:
      - {{hostname: smtp.stuck.test, port: {stuck_smtps}, socketType: SSL}}
{broken}"""

BROKEN = """\
  - id: broken.test
    displayName: Broken Mail
    domains: [broken.test]
    incoming:
      - {{type: imap, hostname: imap.broken.test, port: {notls[imap]}, socketType: STARTTLS}}
      - {{type: pop3, hostname: pop.broken.test, port: {notls[pop3]}, socketType: STARTTLS}}
      - {{type: imap, hostname: expired.broken.test, port: {expired[imaps]}, socketType: SSL}}
      - {{type: imap, hostname: expired.broken.test, port: {expired[imap]}, socketType: STARTTLS}}
      - {{type: imap, hostname: imap.good.test, port: {good[imap]}, socketType: SSL}}
      - {{type: pop3, hostname: pop.good.test, port: {good[pop3s]}, socketType: STARTTLS}}
      - {{type: imap, hostname: imap.good.test, port: {closed}, socketType: SSL}}
      - {{type: imap, hostname: alias.good.test, port: {good[imaps]}, socketType: SSL}}
    outgoing:
      - {{hostname: smtp.broken.test, port: {notls_smtp}, socketType: STARTTLS}}
      - {{hostname: smtp-auth.broken.test, port: {auth_first}, socketType: STARTTLS}}
      - hostname: smtp.good.test
        port: {submission}
        socketType: STARTTLS
        authentication: password-encrypted
"""

STALE_BROKEN = """\
  - id: broken.test
    displayName: Broken Mail
    domains: [broken.test]
    incoming:
      - {type: imap, hostname: imap.broken.test, port: 143, socketType: STARTTLS}
    outgoing:
      - {hostname: smtp.broken.test, port: 587, socketType: STARTTLS}
"""

ZONE = """\
$TTL 300
@                           SOA   ns.test. admin.test. 1 3600 600 86400 300
@                           NS    ns.test.
ns                          A     127.0.0.1
good.test.                  A     {web}
good.test.                  MX    10 mx.good.test.
web.good.test.              A     {web}
autoconfig.good.test.       CNAME web.good.test.
autodiscover.good.test.     CNAME web.good.test.
ua-auto-config.good.test.   CNAME web.good.test.
_ua-auto-config.good.test.  TXT   "{pacc_txt}"
imap.good.test.             A     {good}
pop.good.test.              A     {good}
smtp.good.test.             A     {good}
alias.good.test.            A     {good}
_autodiscover._tcp.good.test. SRV 0 0 {https} web.good.test.
_imaps._tcp.good.test.      SRV   0 1 {ports[imaps]} imap.good.test.
_imap._tcp.good.test.       SRV   1 1 {ports[imap]} imap.good.test.
_pop3s._tcp.good.test.      SRV   2 1 {ports[pop3s]} pop.good.test.
_pop3._tcp.good.test.       SRV   3 1 {ports[pop3]} pop.good.test.
_submissions._tcp.good.test. SRV  0 1 {smtps} smtp.good.test.
_submission._tcp.good.test. SRV   1 1 {submission} smtp.good.test.
soon.test.                  MX    10 mx.good.test.
autodiscover.moved.test.    CNAME web.good.test.
_autodiscover._tcp.moved.test. SRV 0 0 {https} web.good.test.
autodiscover.forward.test.  CNAME web.good.test.
_autodiscover._tcp.forward.test. SRV 0 0 {https} web.good.test.
autoconfig.stuck.test.      A     {stuck}
autodiscover.stuck.test.    A     {stuck}
imap.stuck.test.            A     {stuck}
smtp.stuck.test.            A     {stuck}
autoconfig.soon.test.       A     {stale}
autodiscover.soon.test.     A     {stale}
autoconfig.broken.test.     A     {stale}
imap.broken.test.           A     {notls}
pop.broken.test.            A     {notls}
smtp.broken.test.           A     {notls}
expired.broken.test.        A     {expired}
smtp-auth.broken.test.      A     {expired}
_imaps._tcp.broken.test.    SRV   0 1 993 imap.broken.test.
"""


@dataclass
class Lab:
    config: Path
    catalog: Catalog
    nameserver: str
    ca_file: Path
    https_port: int
    dovecot: str | None
    """None when Dovecot runs, else why not."""
    ports: dict
    """Every port the servers listen on, by the names the templates use."""
    silent_nameserver: str
    """A loopback UDP port that drops every query: a nameserver that is down."""

    @property
    def options(self) -> Options:
        return Options(
            nameservers=parse_nameservers(self.nameserver),
            ca_file=self.ca_file,
            https_port=self.https_port,
            timeout=TIMEOUT,
        )

    def cli(
        self, *args: str, nameserver: str | None = None, config: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "autoconfig",
            "doctor",
            "--config",
            str(config or self.config),
            "--nameserver",
            nameserver or self.nameserver,
            "--ca-file",
            str(self.ca_file),
            "--https-port",
            str(self.https_port),
            "--timeout",
            str(TIMEOUT),
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    def needs_dovecot(self) -> None:
        if self.dovecot is not None:
            pytest.skip(self.dovecot)


def parse_nameservers(text: str):
    from autoconfig.doctor import Nameserver

    return (Nameserver.parse(text),)


def _closed_ports() -> dict[str, int]:
    """Stand-ins for Dovecot's ports when it cannot run: nothing listens there."""
    return {name: lab_tools.free_port(GOOD) for name in ("imap", "imaps", "pop3", "pop3s")}


def _same_port_on(addresses: tuple[str, ...]) -> int:
    """A port free on every address, so one --https-port reaches both web servers."""
    for _ in range(20):
        port = lab_tools.free_port(addresses[0])
        with contextlib.ExitStack() as stack:
            try:
                for address in addresses[1:]:
                    sock = stack.enter_context(lab_tools.socket.socket())
                    sock.bind((address, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free on every web address")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    try:
        with lab_tools.socket.socket() as probe:
            probe.bind((STALE, 0))
    except OSError as exc:
        pytest.skip(f"cannot bind loopback addresses beyond 127.0.0.1 here: {exc}")
    folder = Path(tempfile.mkdtemp(prefix="autoconfig-doctor-"))
    folder.chmod(0o755)
    loop = lab_tools.BackgroundLoop()
    closers = []
    try:
        with contextlib.ExitStack() as stack:
            yield _build(folder, loop, stack, closers)
    finally:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                loop.run(close())
        loop.close()
        shutil.rmtree(folder, ignore_errors=True)


def _build(
    folder: Path, loop: lab_tools.BackgroundLoop, stack: contextlib.ExitStack, closers: list
) -> Lab:
    certs = lab_tools.Certificates(folder)
    good_tls = certs.issue("good", "imap.good.test", "pop.good.test", "smtp.good.test")
    expired_tls = certs.issue("expired", "expired.broken.test", expired=True)
    smtp_tls = certs.issue("broken-smtp", "smtp.broken.test", "smtp-auth.broken.test")
    web_names = ("good.test", "web.good.test", "autoconfig.good.test", "autodiscover.good.test")
    moved_names = ("autodiscover.moved.test", "autodiscover.forward.test")
    web_tls = certs.issue("web", *web_names, "ua-auto-config.good.test", *moved_names)
    stale_names = ("autoconfig.broken.test", "autoconfig.soon.test", "autodiscover.soon.test")
    stale_tls = certs.issue("stale", *stale_names, days=5)

    why_not = lab_tools.dovecot_missing()
    if why_not is None:
        instances = stack.enter_context(
            lab_tools.dovecots(
                folder / "dovecot",
                {
                    "good": (GOOD, good_tls, False),
                    "notls": (NOTLS, None, False),
                    "expired": (EXPIRED, expired_tls, True),
                },
            )
        )
        dovecot_ports = {name: instance.ports for name, instance in instances.items()}
    else:
        dovecot_ports = {name: _closed_ports() for name in ("good", "notls", "expired")}

    async def start_smtp() -> dict[str, int]:
        good = certs.server_context(*good_tls)
        broken = certs.server_context(*smtp_tls)
        servers = {
            "smtps": await lab_tools.smtp_server(GOOD, implicit_tls=good),
            "submission": await lab_tools.smtp_server(GOOD, starttls=good),
            "notls_smtp": await lab_tools.smtp_server(NOTLS),
            "auth_first": await lab_tools.smtp_server(
                EXPIRED, starttls=broken, auth_before_tls=True
            ),
        }
        for server, _ in servers.values():

            async def close(server=server) -> None:
                server.close()
                await server.wait_closed()

            closers.append(close)
        return {name: port for name, (_, port) in servers.items()}

    smtp_ports = loop.run(start_smtp())
    https_port = _same_port_on((WEB, STALE, STUCK))

    async def start_black_holes() -> dict[str, int]:
        ports = {}
        for name, port in (("stuck_imaps", 0), ("stuck_smtps", 0), ("stuck_https", https_port)):
            server, ports[name] = await lab_tools.tcp_black_hole(STUCK, port)

            async def close(server=server) -> None:
                server.close()
                await server.wait_closed()

            closers.append(close)
        return ports

    stuck_ports = loop.run(start_black_holes())
    silent = stack.enter_context(lab_tools.udp_black_hole())
    values = {
        **dovecot_ports,
        **smtp_ports,
        **stuck_ports,
        "closed": lab_tools.free_port(GOOD),
    }
    config = folder / "providers.yaml"
    config.write_text(PROVIDERS.format(broken=BROKEN.format(**values), **values))
    stale_config = folder / "stale.yaml"
    stale_config.write_text(PROVIDERS.format(broken=STALE_BROKEN, **values))

    async def start_web() -> None:
        for address, path, tls in ((WEB, config, web_tls), (STALE, stale_config, stale_tls)):
            app = create_app(AppOptions(config_path=path))
            runner = await lab_tools.https_site(
                app, address, https_port, certs.server_context(*tls)
            )
            closers.append(runner.cleanup)

    loop.run(start_web())
    catalog = Catalog.from_config(load_config(config))
    good_match = catalog.lookup("good.test")
    assert good_match is not None
    zone = ZONE.format(
        web=WEB,
        stale=STALE,
        good=GOOD,
        notls=NOTLS,
        expired=EXPIRED,
        stuck=STUCK,
        https=https_port,
        ports=dovecot_ports["good"],
        pacc_txt=pacc.txt_record(pacc.render(good_match.provider, "good.test")),
        **smtp_ports,
    )
    transport, dns_port = loop.run(lab_tools.serve_zone(zone))

    async def close_dns() -> None:
        transport.close()

    closers.append(close_dns)
    return Lab(
        config=config,
        catalog=catalog,
        nameserver=f"127.0.0.1:{dns_port}",
        ca_file=certs.ca_file,
        https_port=https_port,
        dovecot=why_not,
        ports={**values, "https": https_port},
        silent_nameserver=f"127.0.0.1:{silent.getsockname()[1]}",
    )


def not_passed(report: Report) -> list[str]:
    return [
        f"{f.status} {f.check} {f.subject}: {f.detail}"
        for f in report.findings
        if f.status is not Status.PASS
    ]


def find(report: Report, check: str, subject: str) -> list:
    return [f for f in report.findings if f.check == check and f.subject == subject]


@pytest.fixture(scope="module")
def broken_report(lab) -> Report:
    return asyncio.run(diagnose(lab.catalog, parse_targets(["broken.test"]), lab.options))


async def test_good_domain_passes_every_check(lab):
    lab.needs_dovecot()
    report = await diagnose(lab.catalog, parse_targets(["alice@good.test"]), lab.options)
    assert not_passed(report) == []
    assert report.exit_code == 0
    checks = {f.check for f in report.findings}
    assert {
        "dns.name",
        "dns.srv",
        "dns.mx",
        "dns.pacc",
        "https.tls",
        "https.thunderbird",
        "https.autodiscover",
        "https.autodiscover-json",
        "https.pacc",
        "mail.connect",
        "mail.tls",
        "mail.greeting",
        "mail.starttls",
        "mail.cleartext",
        "mail.auth",
    } <= checks
    # Every announced server was reached: 4 Dovecot listeners and 2 submission ports.
    imaps = f"imap imap.good.test:{lab.ports['good']['imaps']} SSL"
    assert len(find(report, "mail.auth", imaps)) == 1
    assert sum(1 for f in report.findings if f.check == "mail.auth") == 6


def port_of(lab: Lab, kind: str, socket_type: str) -> int:
    match = lab.catalog.lookup("good.test")
    assert match is not None
    servers = (*match.provider.incoming, *match.provider.outgoing)
    return next(s.port for s in servers if s.type == kind and s.socket_type == socket_type)


def test_good_domain_json_for_monitoring_exits_0(lab):
    lab.needs_dovecot()
    result = lab.cli("good.test", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "pass"
    assert report["exit_code"] == 0
    assert report["counts"]["fail"] == report["counts"]["warn"] == 0
    assert set(report["findings"][0]) == {"section", "check", "subject", "status", "detail", "fix"}
    assert result.stderr == ""  # no progress line when stderr is not a terminal


def test_warnings_only_exit_1_with_readable_fixes(lab):
    lab.needs_dovecot()
    result = lab.cli("soon.test")
    assert result.returncode == 1, result.stdout + result.stderr
    text = result.stdout
    assert "FAIL" not in text
    tls = next(line for line in text.splitlines() if "WARN  tls" in line)
    assert "expires in 4." in tls or "expires in 5." in tls
    assert "_imaps._tcp.soon.test SRV" in text
    assert (
        f"fix: _imaps._tcp.soon.test. 3600 IN SRV 0 1 {port_of(lab, 'imap', 'SSL')} imap.good.test."
        in text
    )
    assert text.rstrip().splitlines()[-2].endswith("0 failed")


BROKEN_CASES = [
    # (check, subject template, status, words in the detail, needs Dovecot)
    ("dns.name", "autodiscover.broken.test", "fail", "no A or AAAA record", False),
    ("dns.srv", "_imaps._tcp.broken.test SRV", "fail", "publishes imap.broken.test:993", False),
    ("dns.mx", "broken.test MX", "fail", "no MX record", False),
    ("https.tls", "https://autodiscover.broken.test:{https}", "fail", "cannot be reached", False),
    ("https.tls", "https://autoconfig.broken.test:{https}", "warn", "expires in", False),
    (
        "https.thunderbird",
        "https://autoconfig.broken.test:{https}/mail/config-v1.1.xml"
        "?emailaddress=postmaster@broken.test",
        "fail",
        "announces imap imap.broken.test:143 STARTTLS",
        False,
    ),
    (
        "mail.starttls",
        "imap imap.broken.test:{notls[imap]} STARTTLS",
        "fail",
        "STARTTLS is not offered",
        True,
    ),
    (
        "mail.starttls",
        "pop3 pop.broken.test:{notls[pop3]} STARTTLS",
        "fail",
        "STLS is not offered",
        True,
    ),
    (
        "mail.tls",
        "imap expired.broken.test:{expired[imaps]} SSL",
        "fail",
        "certificate has expired",
        True,
    ),
    (
        "mail.cleartext",
        "imap expired.broken.test:{expired[imap]} STARTTLS",
        "fail",
        "before TLS",
        True,
    ),
    (
        "mail.tls",
        "imap expired.broken.test:{expired[imap]} STARTTLS",
        "fail",
        "after STARTTLS: certificate rejected: certificate has expired",
        True,
    ),
    ("mail.tls", "imap imap.good.test:{good[imap]} SSL", "fail", "answers in clear text", True),
    (
        "mail.greeting",
        "pop3 pop.good.test:{good[pop3s]} STARTTLS",
        "fail",
        "implicit-TLS port",
        True,
    ),
    ("mail.connect", "imap imap.good.test:{closed} SSL", "fail", "Connection refused", False),
    ("mail.tls", "imap alias.good.test:{good[imaps]} SSL", "fail", "Hostname mismatch", True),
    (
        "mail.starttls",
        "smtp smtp.broken.test:{notls_smtp} STARTTLS",
        "fail",
        "STARTTLS is not offered",
        False,
    ),
    (
        "mail.cleartext",
        "smtp smtp-auth.broken.test:{auth_first} STARTTLS",
        "fail",
        "offers LOGIN, PLAIN before TLS",
        False,
    ),
    (
        "mail.auth",
        "smtp smtp.good.test:{submission} STARTTLS",
        "fail",
        "password-encrypted needs CRAM-MD5 or SCRAM-*",
        False,
    ),
]


@pytest.mark.parametrize(("check", "subject", "status", "words", "dovecot"), BROKEN_CASES)
def test_broken_variant_is_reported_as_its_failure(
    lab, broken_report, check, subject, status, words, dovecot
):
    if dovecot:
        lab.needs_dovecot()
    subject = subject.format(**lab.ports)
    found = find(broken_report, check, subject)
    assert found, f"no {check} finding for {subject}; got:\n" + "\n".join(not_passed(broken_report))
    assert [f.status.value for f in found] == [status], found
    assert words in found[0].detail, found[0]
    if status != "pass":
        assert found[0].fix, found[0]


def test_broken_domain_exits_2_and_reports_every_problem_once(lab, broken_report):
    assert broken_report.exit_code == 2
    keys = [(f.check, f.subject) for f in broken_report.findings if f.check != "mail.connect"]
    assert len(keys) == len(set(keys))


def test_a_redirect_only_domain_is_checked_for_autodiscover_and_nothing_more(lab):
    """moved.test (redirectUrl) and forward.test (redirectAddr) have no servers: Thunderbird
    gets 404 for them by design, so their zones publish no autoconfig.<domain> (and no MX), and
    the doctor must not fail on that; it checks the Autodiscover redirect, which is all such a
    domain promises."""
    result = lab.cli("bob@moved.test", "bob@forward.test", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    subjects = " ".join(f["subject"] for f in report["findings"])
    assert "autoconfig." not in subjects
    assert {f["section"] for f in report["findings"]} == {"dns", "https"}
    assert not [f for f in report["findings"] if f["check"] in ("dns.mx", "https.thunderbird")]
    redirect = "https://autodiscover.good.test/autodiscover/autodiscover.xml"
    pox = f"https://autodiscover.{{}}.test:{lab.https_port}/autodiscover/autodiscover.xml"

    def detail(check: str, subject: str) -> str:
        (finding,) = [
            f for f in report["findings"] if (f["check"], f["subject"]) == (check, subject)
        ]
        assert finding["status"] == "pass", finding
        return finding["detail"]

    assert detail("https.autodiscover", pox.format("moved")) == (
        f"302 to {redirect}, as providers.yaml"
    )
    assert detail("https.autodiscover", pox.format("forward")) == (
        "redirectAddr bob@good.test, as providers.yaml"
    )
    assert detail("dns.name", "autodiscover.moved.test").startswith(f"resolves to {WEB}")
    json_checks = [f for f in report["findings"] if f["check"] == "https.autodiscover-json"]
    assert len(json_checks) == 2 and all(f["status"] == "pass" for f in json_checks)


async def test_the_test_zone_answers_nothing_outside_it(lab):
    lookup = Lookup(parse_nameservers(lab.nameserver), timeout=2)
    with pytest.raises(ResolveError, match="refused to answer") as refused:
        await lookup.records("example.com", "A")
    assert refused.value.failure is Failure.REFUSED


def test_unknown_domain_is_a_failure(lab):
    result = lab.cli("nobody.test", "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert [(f["check"], f["status"]) for f in report["findings"]] == [("config.provider", "fail")]


def test_provider_option_checks_every_domain_and_probes_shared_servers_once(lab):
    lab.needs_dovecot()
    result = lab.cli("--provider", "soon.test", "good.test", "--json")
    report = json.loads(result.stdout)
    assert report["targets"] == ["good.test", "soon.test"]
    subjects = [f["subject"] for f in report["findings"] if f["check"] == "mail.auth"]
    assert len(subjects) == len(set(subjects)) == 6


# --- when the network itself misbehaves ------------------------------------------------------

MARGIN = 1.0
"""Seconds a run may exceed its printed limit: event-loop scheduling and closing the client. The
limit counts network waits only; loading providers.yaml and starting Python come before it."""


def _findings(result: subprocess.CompletedProcess[str]) -> list[dict]:
    return json.loads(result.stdout)["findings"]


def test_a_nameserver_that_never_answers_is_one_finding_within_one_timeout(lab):
    """A nameserver that drops every query (a loopback UDP port nobody reads) is reported once,
    in plain words, and nothing else is probed, since every check starts with a lookup.

    The README documents the bound of such a run: the single question to the nameserver, one
    --timeout. The run's own measured time must stay within it plus MARGIN; before, each DNS
    step overran the timeout and the steps ran one after another (34 s at --timeout 5)."""
    targets = ("good.test", "broken.test", "alice@stuck.test")
    result = lab.cli(*targets, nameserver=lab.silent_nameserver)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stdout.rstrip().splitlines()
    (failure,) = [line for line in lines if "FAIL" in line]
    expected = f"the nameserver {lab.silent_nameserver} did not answer within {TIMEOUT:g} s"
    assert expected in failure
    assert "asked about good.test, broken.test, stuck.test" in failure
    assert "nothing else was checked" in failure
    assert "publish" not in result.stdout
    for dnspython_words in ("lifetime", "Do53", "timed out after", "answered The DNS"):
        assert dnspython_words not in result.stdout
    assert lines[-2] == "1 check: 0 passed, 0 warnings, 1 failed"
    took, limit = lines[-1].split(" (limit ")
    assert limit == f"{TIMEOUT:g} s: 1 x --timeout {TIMEOUT:g} s)"
    assert float(took.removeprefix("took ").removesuffix(" s")) <= TIMEOUT + MARGIN

    report = json.loads(lab.cli("good.test", "--json", nameserver=lab.silent_nameserver).stdout)
    assert [f["check"] for f in report["findings"]] == ["dns.resolver"]
    assert report["findings"][0]["subject"] == f"nameserver {lab.silent_nameserver}"
    assert report["timing"]["limit_seconds"] == TIMEOUT
    assert report["timing"]["seconds"] <= TIMEOUT + MARGIN


OUTSIDE = """\
  - id: outside.example
    displayName: Outside
    domains: [outside.example]
    incoming:
      - {type: imap, hostname: imap.outside.example, port: 993, socketType: SSL}
    outgoing:
      - {hostname: smtp.outside.example, port: 465, socketType: SSL}
"""


def test_a_nameserver_that_refuses_a_domain_is_one_finding_and_the_rest_is_checked(lab, tmp_path):
    """The lab's nameserver refuses every name outside `test.`: outside.example gets one finding
    about the nameserver (not a "publish this record" per line, not even for its mail servers),
    and soon.test, which it does answer for, is checked as usual."""
    config = tmp_path / "providers.yaml"
    config.write_text(lab.config.read_text() + OUTSIDE)
    result = lab.cli("soon.test", "outside.example", "--json", config=config)
    findings = _findings(result)
    about_outside = [f for f in findings if "outside.example" in f["subject"] + f["detail"]]
    assert [(f["check"], f["status"]) for f in about_outside] == [("dns.resolver", "fail")]
    (resolver,) = about_outside
    assert resolver["detail"] == (
        f"the nameserver {lab.nameserver} refused to answer (asked about outside.example): "
        "the checks of outside.example were not run"
    )
    assert "recursion" in resolver["fix"]
    soon = [f for f in findings if f["subject"] == "autoconfig.soon.test"]
    assert [(f["check"], f["status"]) for f in soon] == [("dns.name", "pass")]


def test_a_port_that_never_completes_a_handshake_is_a_tls_handshake_timeout(lab):
    """stuck.test's HTTPS names and its SSL mail servers lead to ports that accept the TCP
    connection and then say nothing: each is reported as a TLS handshake timeout (the connect
    itself worked), not as a port that cannot be reached."""
    result = lab.cli("stuck.test", "--json")
    assert result.returncode == 2
    findings = _findings(result)
    https = f"https://{{}}.stuck.test:{lab.https_port}"
    mail_servers = (
        f"imap imap.stuck.test:{lab.ports['stuck_imaps']} SSL",
        f"smtp smtp.stuck.test:{lab.ports['stuck_smtps']} SSL",
    )
    expected = [
        ("https.tls", https.format("autoconfig")),
        ("https.tls", https.format("autodiscover")),
        *(("mail.tls", server) for server in mail_servers),
    ]
    timeouts = [
        (f["check"], f["subject"])
        for f in findings
        if f["detail"].startswith("TLS handshake timeout: the port accepted the connection")
        and f"within {TIMEOUT:g} s" in f["detail"]
        and f["status"] == "fail"
    ]
    assert timeouts == expected
    for server, port in zip(mail_servers, ("stuck_imaps", "stuck_smtps"), strict=True):
        (connect,) = [f for f in findings if (f["check"], f["subject"]) == ("mail.connect", server)]
        assert (connect["status"], connect["detail"]) == (
            "pass",
            f"connected to {STUCK}:{lab.ports[port]}",
        )
    assert not [f for f in findings if "cannot connect" in f["detail"]]
