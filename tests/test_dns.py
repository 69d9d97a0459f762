"""`autoconfig dns`: the zone-file records an admin pastes so that every client finds the server.

Every output is parsed with dnspython, as a name server would read it, and the records are checked
field by field against the providers the tests load or build.
"""

import re
import subprocess
import sys
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone
import dns.zonefile
import pytest

from autoconfig.config.loader import load_providers
from autoconfig.formats.zone import render_zone
from autoconfig.model import Authentication, Domain, Provider, Redirect, Server, SocketType

BUNDLED = Path(__file__).resolve().parent.parent / "providers.yaml"
MAIL_SERVICES = ("_imaps", "_imap", "_pop3s", "_pop3", "_submissions", "_submission")
NOT_OFFERED = [(0, 0, 0, ".")]


@pytest.fixture(scope="module")
def bundled() -> tuple[Provider, ...]:
    return load_providers(BUNDLED)


def server(
    kind: str,
    hostname: str,
    port: int,
    socket_type: SocketType = SocketType.SSL,
    authentication: tuple[Authentication, ...] = (Authentication.PASSWORD_CLEARTEXT,),
) -> Server:
    return Server(kind, hostname, port, socket_type, authentication, "%EMAILADDRESS%")


def provider(
    incoming: tuple[Server, ...] = (),
    outgoing: tuple[Server, ...] = (),
    redirect: Redirect | None = None,
) -> Provider:
    return Provider(
        id="mail.example",
        display_name="Test Mail",
        short_name="Test",
        domains=(Domain("mail.example"),),
        incoming=incoming,
        outgoing=outgoing,
        redirect=redirect,
    )


def parse(text: str, domain: str) -> dns.zone.Zone:
    """Read the text as a name server loads a zone file; raises on any syntax error."""
    return dns.zone.from_text(text, origin=f"{domain}.", relativize=False, check_origin=False)


def srv(zone: dns.zone.Zone, owner: str) -> list[tuple[int, int, int, str]]:
    """(priority, weight, port, target) of every SRV record at `owner`, best priority first."""
    rdataset = zone.get_rdataset(owner, dns.rdatatype.SRV)
    if rdataset is None:
        return []
    return sorted((r.priority, r.weight, r.port, r.target.to_text()) for r in rdataset)


def has_records(zone: dns.zone.Zone, owner: str) -> bool:
    node = zone.get_node(owner)
    return node is not None and len(node.rdatasets) > 0


def comments(text: str) -> str:
    """All comment text as one string, so that wrapped sentences can be searched."""
    parts = [line.lstrip(";").strip() for line in text.splitlines() if line.startswith(";")]
    return " ".join(parts)


def record_lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip() and line[0] != ";"]


# --- the bundled providers.yaml ----------------------------------------------------------------


def test_bundled_provider_publishes_each_server_with_its_position_as_priority(bundled):
    text = render_zone(bundled[0], "example.com")
    zone = parse(text, "example.com")

    assert srv(zone, "_imaps._tcp.example.com.") == [(0, 1, 993, "imap.example.com.")]
    assert srv(zone, "_pop3s._tcp.example.com.") == [(1, 1, 995, "pop.example.com.")]
    assert srv(zone, "_submissions._tcp.example.com.") == [(0, 1, 465, "smtp.example.com.")]
    assert srv(zone, "_submission._tcp.example.com.") == [(1, 1, 587, "smtp.example.com.")]


def test_services_the_provider_lacks_are_published_as_not_offered(bundled):
    zone = parse(render_zone(bundled[0], "example.com"), "example.com")

    assert srv(zone, "_imap._tcp.example.com.") == NOT_OFFERED
    assert srv(zone, "_pop3._tcp.example.com.") == NOT_OFFERED


def test_header_names_the_provider_and_the_domain(bundled):
    text = render_zone(bundled[0], "example.net")
    header = text.splitlines()[:3]

    assert all(line.startswith(";") for line in header[:2])
    assert "example.net" in header[0] or "example.net" in header[1]
    assert any(bundled[0].id in line and bundled[0].display_name in line for line in header)


def test_every_record_is_absolute_class_in_with_the_ttl_and_the_text_ends_with_newline(bundled):
    text = render_zone(bundled[1], "hosting.example.org", target="mailconfig.example.net", ttl=300)

    assert text.endswith("\n")
    lines = record_lines(text)
    servers = len(bundled[1].incoming) + len(bundled[1].outgoing)
    # 2 CNAMEs, the Autodiscover SRV, the servers, "not offered" for _imap, _pop3s, _pop3,
    # and the PACC CNAME and TXT digest
    assert len(lines) == 3 + servers + 3 + 2
    for name, ttl, rdclass, *_ in lines:
        assert name.endswith("."), name
        assert (ttl, rdclass) == ("300", "IN")
    # Relative names would land under this origin instead of the domain.
    for rrset in dns.zonefile.read_rrsets(text, origin="relative.invalid.", relativize=False):
        assert rrset.name.is_subdomain(dns.name.from_text("hosting.example.org."))
        assert rrset.ttl == 300


def test_wildcard_customer_gets_records_for_its_own_domain(bundled):
    hosting = bundled[1]
    assert "customers.example.org" in {d.name for d in hosting.domains if d.wildcard}
    domain = "shop.customers.example.org"
    zone = parse(render_zone(hosting, domain), domain)
    host = f"mail.{domain}."

    (imap,) = hosting.incoming
    first_smtp, second_smtp = hosting.outgoing
    assert srv(zone, f"_imaps._tcp.{domain}.") == [(0, 1, imap.port, host)]
    assert srv(zone, f"_submissions._tcp.{domain}.") == [(0, 1, first_smtp.port, host)]
    assert srv(zone, f"_submission._tcp.{domain}.") == [(1, 1, second_smtp.port, host)]
    for label in ("_imap", "_pop3s", "_pop3"):
        assert srv(zone, f"{label}._tcp.{domain}.") == NOT_OFFERED
    parent = dns.name.from_text(f"{domain}.")
    assert all(name.is_subdomain(parent) for name in zone.nodes)


# --- autoconfig / autodiscover names ---------------------------------------------------------


def test_target_gives_cnames_and_an_autodiscover_srv_to_the_target(bundled):
    zone = parse(
        render_zone(bundled[0], "example.com", target="mailconfig.example.net"), "example.com"
    )

    for name in ("autoconfig.example.com.", "autodiscover.example.com."):
        (cname,) = zone.get_rdataset(name, dns.rdatatype.CNAME)
        assert cname.target.to_text() == "mailconfig.example.net."
    assert srv(zone, "_autodiscover._tcp.example.com.") == [(0, 0, 443, "mailconfig.example.net.")]


def test_without_target_there_is_no_cname_only_address_guidance(bundled):
    text = render_zone(bundled[0], "example.com")
    zone = parse(text, "example.com")

    for name in ("autoconfig.example.com.", "autodiscover.example.com."):
        assert not has_records(zone, name), name
        assert name in comments(text)
    assert " A " in comments(text) and " AAAA " in comments(text)
    assert srv(zone, "_autodiscover._tcp.example.com.") == [
        (0, 0, 443, "autodiscover.example.com.")
    ]


def test_redirect_only_provider_gets_client_names_and_no_mail_records():
    redirected = provider(redirect=Redirect(url="https://autodiscover.other.example/a.xml"))
    text = render_zone(redirected, "mail.example", target="mailconfig.example.net")
    zone = parse(text, "mail.example")

    assert zone.get_rdataset("autodiscover.mail.example.", dns.rdatatype.CNAME) is not None
    assert srv(zone, "_autodiscover._tcp.mail.example.") == [(0, 0, 443, "mailconfig.example.net.")]
    for label in MAIL_SERVICES:
        assert not has_records(zone, f"{label}._tcp.mail.example."), label
    assert "no mail servers" in comments(text)


# --- servers that need care ------------------------------------------------------------------


def test_priority_is_the_position_in_the_incoming_list_across_imap_and_pop3():
    incoming = (
        server("imap", "imap1.mail.example", 993),
        server("pop3", "pop.mail.example", 995),
        server("imap", "imap2.mail.example", 143, SocketType.STARTTLS),
        server("imap", "imap3.mail.example", 9993),
    )
    outgoing = (server("smtp", "smtp.mail.example", 587, SocketType.STARTTLS),)
    zone = parse(render_zone(provider(incoming, outgoing), "mail.example"), "mail.example")

    assert srv(zone, "_imaps._tcp.mail.example.") == [
        (0, 1, 993, "imap1.mail.example."),
        (3, 1, 9993, "imap3.mail.example."),
    ]
    assert srv(zone, "_pop3s._tcp.mail.example.") == [(1, 1, 995, "pop.mail.example.")]
    assert srv(zone, "_imap._tcp.mail.example.") == [(2, 1, 143, "imap2.mail.example.")]
    assert srv(zone, "_submission._tcp.mail.example.") == [(0, 1, 587, "smtp.mail.example.")]
    assert srv(zone, "_submissions._tcp.mail.example.") == NOT_OFFERED


def test_host_with_local_part_is_a_comment_not_a_record():
    incoming = (server("imap", "%EMAILLOCALPART%.imap.mail.example", 993),)
    outgoing = (server("smtp", "smtp.mail.example", 465),)
    text = render_zone(provider(incoming, outgoing), "mail.example")
    zone = parse(text, "mail.example")

    # Neither a record nor "not offered": the service exists, DNS just cannot name it.
    assert not has_records(zone, "_imaps._tcp.mail.example.")
    assert "_imaps._tcp.mail.example." in comments(text)
    assert "%EMAILLOCALPART%.imap.mail.example" in comments(text)
    assert srv(zone, "_submissions._tcp.mail.example.") == [(0, 1, 465, "smtp.mail.example.")]


def test_local_part_host_leaves_the_other_servers_and_their_priorities():
    incoming = (
        server("imap", "%EMAILLOCALPART%.imap.mail.example", 993),
        server("imap", "imap.%EMAILDOMAIN%", 993),
    )
    outgoing = (server("smtp", "smtp.mail.example", 465),)
    zone = parse(render_zone(provider(incoming, outgoing), "mail.example"), "mail.example")

    assert srv(zone, "_imaps._tcp.mail.example.") == [(1, 1, 993, "imap.mail.example.")]


def test_plain_server_is_published_with_a_warning():
    incoming = (server("pop3", "pop.mail.example", 110, SocketType.PLAIN),)
    outgoing = (
        server("smtp", "smtp.mail.example", 587, SocketType.STARTTLS),
        server("smtp", "relay.mail.example", 25, SocketType.PLAIN, (Authentication.NONE,)),
    )
    text = render_zone(provider(incoming, outgoing), "mail.example")
    zone = parse(text, "mail.example")

    assert srv(zone, "_pop3._tcp.mail.example.") == [(0, 1, 110, "pop.mail.example.")]
    assert srv(zone, "_submission._tcp.mail.example.") == [
        (0, 1, 587, "smtp.mail.example."),
        (1, 1, 25, "relay.mail.example."),
    ]
    lines = text.splitlines()
    for host in ("pop.mail.example.", "relay.mail.example."):
        (index,) = [i for i, line in enumerate(lines) if line.endswith(f" {host}")]
        assert lines[index - 1].startswith(";"), host
    warnings = comments(text)
    assert warnings.count("unencrypted") == 2
    assert "pop.mail.example port 110" in warnings
    assert "relay.mail.example port 25" in warnings
    assert "smtp.mail.example port 587" not in warnings


def test_starttls_servers_get_no_warning():
    incoming = (server("imap", "imap.mail.example", 143, SocketType.STARTTLS),)
    outgoing = (server("smtp", "smtp.mail.example", 587, SocketType.STARTTLS),)
    text = render_zone(provider(incoming, outgoing), "mail.example")
    zone = parse(text, "mail.example")

    assert srv(zone, "_imap._tcp.mail.example.") == [(0, 1, 143, "imap.mail.example.")]
    assert "unencrypted" not in comments(text)


def test_ip_address_host_is_a_comment_not_an_srv_target():
    incoming = (server("imap", "192.0.2.10", 993), server("imap", "2001:db8::10", 993))
    outgoing = (server("smtp", "smtp.mail.example", 465),)
    text = render_zone(provider(incoming, outgoing), "mail.example")
    zone = parse(text, "mail.example")

    assert not has_records(zone, "_imaps._tcp.mail.example.")
    assert "192.0.2.10" in comments(text) and "2001:db8::10" in comments(text)


def test_internationalised_domain_fills_host_names_with_a_labels():
    incoming = (server("imap", "imap.%EMAILDOMAIN%", 993),)
    outgoing = (server("smtp", "smtp.%EMAILDOMAIN%", 465),)
    domain = "xn--bcher-kva.example"
    zone = parse(render_zone(provider(incoming, outgoing), domain), domain)

    assert srv(zone, f"_imaps._tcp.{domain}.") == [(0, 1, 993, f"imap.{domain}.")]
    assert srv(zone, f"_submissions._tcp.{domain}.") == [(0, 1, 465, f"smtp.{domain}.")]


@pytest.mark.parametrize("ttl", [-1, 2**31])
def test_ttl_outside_the_dns_range_is_refused(bundled, ttl):
    with pytest.raises(ValueError, match="TTL"):
        render_zone(bundled[0], "example.com", ttl=ttl)


# --- a target that is one of the published names ---------------------------------------------


def certificate_names(text: str) -> list[str]:
    """The names of the "needs certificates for a, b and c." sentence, in order."""
    found = re.search(r"needs certificates for (.+?)\.(?: |$)", comments(text))
    assert found, text
    return re.split(r", | and ", found.group(1))


@pytest.mark.parametrize("prefix", ["autoconfig.", "autodiscover.", "ua-auto-config."])
def test_a_published_name_as_target_gets_addresses_and_the_others_point_at_it(bundled, prefix):
    target = f"{prefix}example.com"
    text = render_zone(bundled[0], "example.com", target=target)
    zone = parse(text, "example.com")

    assert zone.get_rdataset(f"{target}.", dns.rdatatype.CNAME) is None, "a CNAME to itself"
    assert f"{target}. 3600 IN A " in comments(text)
    others = {"autoconfig.", "autodiscover.", "ua-auto-config."} - {prefix}
    for other in others:
        (cname,) = zone.get_rdataset(f"{other}example.com.", dns.rdatatype.CNAME)
        assert cname.target.to_text() == f"{target}."
    assert srv(zone, "_autodiscover._tcp.example.com.") == [(0, 0, 443, f"{target}.")]
    names = certificate_names(text)
    assert sorted(names) == sorted(
        f"{p}example.com" for p in ("autoconfig.", "autodiscover.", "ua-auto-config.")
    )


def test_certificate_names_never_repeat_and_include_the_target(bundled):
    text = render_zone(bundled[0], "example.com", target="cfg.example.net")
    assert certificate_names(text) == [
        "autoconfig.example.com",
        "autodiscover.example.com",
        "ua-auto-config.example.com",
        "cfg.example.net",
    ]
    assert certificate_names(render_zone(bundled[0], "example.com")) == [
        "autoconfig.example.com",
        "autodiscover.example.com",
        "ua-auto-config.example.com",
    ]


def test_redirect_only_provider_publishes_only_outlooks_name():
    """Thunderbird clients get 404 for a provider without servers (and the doctor expects no
    autoconfig name for it), so neither an autoconfig record nor its certificate is asked for."""
    redirected = provider(redirect=Redirect(url="https://autodiscover.other.example/a.xml"))
    text = render_zone(redirected, "mail.example", target="autodiscover.mail.example")
    zone = parse(text, "mail.example")
    assert zone.get_rdataset("autodiscover.mail.example.", dns.rdatatype.CNAME) is None
    assert zone.get_node("autoconfig.mail.example.") is None
    assert certificate_names(text) == ["autodiscover.mail.example"]
    (srv,) = zone.get_rdataset("_autodiscover._tcp.mail.example.", dns.rdatatype.SRV)
    assert srv.target.to_text() == "autodiscover.mail.example."


def test_the_cli_handles_a_published_name_given_in_any_case_with_a_trailing_dot():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autoconfig",
            "dns",
            "example.com",
            "--config",
            str(BUNDLED),
            "--target",
            "AutoConfig.Example.COM.",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    zone = parse(result.stdout, "example.com")
    assert zone.get_rdataset("autoconfig.example.com.", dns.rdatatype.CNAME) is None
    (cname,) = zone.get_rdataset("autodiscover.example.com.", dns.rdatatype.CNAME)
    assert cname.target.to_text() == "autoconfig.example.com."
    assert certificate_names(result.stdout).count("autoconfig.example.com") == 1
