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
from autoconfig.doctor.resolve import Lookup, ResolveError
from autoconfig.formats import pacc
from autoconfig.web.app import AppOptions, create_app

from . import doctor_lab as lab_tools

pytest.importorskip("trustme", reason="trustme is a test extra: make install-test")
pytest.importorskip("aiosmtpd", reason="aiosmtpd is a test extra: make install-test")

TIMEOUT = 1.5
"""Seconds per network step: everything answers in milliseconds on loopback; only the probe of
a silent port waits this long."""

GOOD, NOTLS, EXPIRED, WEB, STALE = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"

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
moved.test.                 MX    10 mx.good.test.
autoconfig.moved.test.      CNAME web.good.test.
autodiscover.moved.test.    CNAME web.good.test.
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

    @property
    def options(self) -> Options:
        return Options(
            nameservers=parse_nameservers(self.nameserver),
            ca_file=self.ca_file,
            https_port=self.https_port,
            timeout=TIMEOUT,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "autoconfig",
            "doctor",
            "--config",
            str(self.config),
            "--nameserver",
            self.nameserver,
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
    moved_names = ("autoconfig.moved.test", "autodiscover.moved.test")
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
    values = {**dovecot_ports, **smtp_ports, "closed": lab_tools.free_port(GOOD)}
    config = folder / "providers.yaml"
    config.write_text(PROVIDERS.format(broken=BROKEN.format(**values), **values))
    stale_config = folder / "stale.yaml"
    stale_config.write_text(PROVIDERS.format(broken=STALE_BROKEN, **values))

    https_port = _same_port_on((WEB, STALE))

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
    assert text.rstrip().splitlines()[-1].endswith("0 failed")


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


async def test_a_redirected_domain_gets_its_redirect_everywhere(lab):
    report = await diagnose(lab.catalog, parse_targets(["bob@moved.test"]), lab.options)
    redirect = "https://autodiscover.good.test/autodiscover/autodiscover.xml"
    expected = {
        "https.thunderbird": ("autoconfig", "404: the provider has no servers"),
        "https.autodiscover": ("autodiscover", f"302 to {redirect}"),
        "https.autodiscover-json": ("autodiscover", f"points Outlook at {redirect}"),
    }
    for check, (host, words) in expected.items():
        (finding,) = [f for f in report.findings if f.check == check]
        assert finding.status is Status.PASS, finding
        assert words in finding.detail
        assert finding.subject.startswith(f"https://{host}.moved.test:{lab.https_port}/")
    assert not [f for f in report.findings if f.section == "mail"]


async def test_the_test_zone_answers_nothing_outside_it(lab):
    lookup = Lookup(parse_nameservers(lab.nameserver), timeout=2)
    with pytest.raises(ResolveError, match="REFUSED"):
        await lookup.records("example.com", "A")


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
