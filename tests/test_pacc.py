"""PACC: the per-domain JSON document, byte-stable, and the DNS digest that binds it."""

import base64
import hashlib
import json
import subprocess
import sys

import dns.zone
import pytest

from autoconfig.config.loader import load_providers, parse_providers
from autoconfig.formats import pacc

from .conftest import BUNDLED

PROVIDERS = {p.id: p for p in load_providers(BUNDLED)}


def test_digest_record_matches_the_spec_notes_example():
    """The worked example of ../shared/specs/pacc-draft.md §9: its bytes and its digest."""
    body = (
        b'{"protocols":{"imap":{"host":"mail.example.net"},"submit":{"host":"mail.example.net"},'
        b'"caldav":{"url":"https://dav.example.net/calendars/"}},"authentication":{"password":true},'
        b'"info":{"provider":{"name":"Example Networks Mail","shortName":"ExampleNet"}}}'
    )
    assert len(body) == 254
    assert (
        pacc.txt_record(body) == "v=UAAC1; a=sha256; d=37/Z+Rejj1A/z/ks3T5EnJsl5Nihcbckce7O2Q8Vl+4="
    )
    assert pacc.txt_record(body + b"\n").endswith("d=2EedXzIwtLnGjewtsYLmMSP7gqSDws8h9snuC8rLtyE=")


def test_bundled_example_document_field_by_field():
    provider = PROVIDERS["example.com"]
    body = pacc.render(provider, "example.com")
    assert not body.endswith(b"\n") and b" " not in body.replace(b"Example Mail", b"")
    document = json.loads(body)
    assert list(document) == ["protocols", "authentication", "info"]
    assert document["protocols"] == {
        "imap": {"host": "imap.example.com"},
        "pop3": {"host": "pop.example.com"},
        "submit": {"host": "smtp.example.com"},
        "smtp": {"host": "smtp.example.com"},
    }
    assert document["authentication"] == {"password": True}
    assert document["info"]["provider"] == {"name": "Example Mail", "shortName": "Example"}
    assert document["info"]["help"] == {"documentation": provider.documentation[0].url}


def test_groupware_document_has_urls_and_the_oauth_issuer():
    provider = PROVIDERS["groupware.example.org"]
    document = json.loads(pacc.render(provider, "groupware.example.org"))
    protocols = document["protocols"]
    assert protocols["jmap"] == {"url": provider.service("jmap").url}
    assert protocols["caldav"] == {"url": provider.service("caldav").url}
    assert protocols["carddav"] == {"url": provider.service("carddav").url}
    assert document["authentication"]["oauth-public"] == {
        "issuer": "https://" + provider.oauth2.issuer
    }


def test_hosts_are_filled_for_the_domain():
    provider = PROVIDERS["hosting.example.org"]
    document = json.loads(pacc.render(provider, "shop.customers.example.org"))
    assert document["protocols"]["imap"] == {"host": "mail.shop.customers.example.org"}


def test_what_pacc_cannot_say_is_left_out_and_reported():
    (provider,) = parse_providers(
        "providers:\n"
        "  - id: old.example\n"
        "    displayName: Old\n"
        "    domains: [old.example]\n"
        "    incoming:\n"
        "      - {type: imap, hostname: imap.old.example, socketType: STARTTLS}\n"
        "      - type: pop3\n"
        "        hostname: pop.old.example\n"
        "        socketType: SSL\n"
        "        username: '%EMAILLOCALPART%'\n"
        "    outgoing:\n"
        "      - {hostname: smtp.old.example, port: 2525, socketType: SSL}\n",
        "p.yaml",
    )
    document = json.loads(pacc.render(provider, "old.example"))
    assert document["protocols"] == {}
    missing = list(pacc.unexpressed(provider))
    assert any("imap.old.example" in m and "implicit TLS" in m for m in missing)
    assert any("pop.old.example" in m and "%EMAILLOCALPART%" in m for m in missing)
    assert any("2525" in m for m in missing)


@pytest.mark.parametrize(
    "host", ["ua-auto-config.example.com", "example.com", "UA-AUTO-CONFIG.Example.COM:443"]
)
async def test_served_bytes_hash_to_the_published_record(client, host):
    answers = set()
    for path in (pacc.PATH, pacc.LEGACY_PATH):
        response = await client.get(path, headers={"Host": host})
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert "Content-Encoding" not in response.headers
        answers.add(await response.read())
    (body,) = answers
    zone = subprocess.run(
        [sys.executable, "-m", "autoconfig", "dns", "example.com", "--target", "cfg.example.net"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    parsed = dns.zone.from_text(zone, origin="example.com.", relativize=False, check_origin=False)
    (txt,) = parsed.find_rdataset("_ua-auto-config.example.com.", "TXT")
    record = b"".join(txt.strings).decode()
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert record == f"v=UAAC1; a=sha256; d={digest}"


async def test_unknown_host_is_404(client):
    response = await client.get(pacc.PATH, headers={"Host": "ua-auto-config.unknown.example"})
    assert response.status == 404
    response = await client.get(pacc.PATH, headers={"Host": "127.0.0.1"})
    assert response.status == 404
