"""exchangelib's POX Autodiscover client and the Outlook spec checker on the live server, and
the harness's Autodiscover v2 (JSON) and ActiveSync (MS-ASCMD XSD) checkers.

Runs ../shared/tools/outlook in its own virtualenvs (exchangelib 4.9.0, the last release with
the POX parser). The venvs are created by the harness's setup.sh from PyPI when missing; the tests
skip with the reason when ../shared or PyPI is out of reach.
"""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import BUNDLED
from .conftest import OUTLOOK_TOOL as TOOL


def check(python: Path, script: str, *args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [str(python), str(TOOL / script), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def _failures(report: dict) -> list:
    return [
        c for c in report.get("checks", []) if c.get("level") in ("FAIL", "ERROR", "error")
    ] or report


@pytest.mark.parametrize(
    "path", ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"]
)
def test_spec_checker_passes_settings_and_error_probes(harness, bundled_server, path):
    code, report = check(
        harness,
        "pox_spec_check.py",
        bundled_server + path,
        "--email",
        "user@example.com",
        "--expect",
        "settings",
        "--probe-errors",
    )
    assert code == 0, _failures(report)


def test_spec_checker_passes_get_without_body(harness, bundled_server):
    code, report = check(
        harness,
        "pox_spec_check.py",
        bundled_server + "/autodiscover/autodiscover.xml",
        "--method",
        "GET",
    )
    assert code == 0, _failures(report)


def test_exchangelib_reads_every_protocol(harness, bundled_server):
    code, report = check(
        harness,
        "pox_exchangelib_check.py",
        bundled_server + "/autodiscover/autodiscover.xml",
        "--email",
        "user@example.com",
        "--expect-kind",
        "settings",
        "--expect-protocol",
        "IMAP:imap.example.com:993",
        "--expect-protocol",
        "POP3:pop.example.com:995",
        "--expect-protocol",
        "SMTP:smtp.example.com:465",
        "--expect-protocol",
        "SMTP:smtp.example.com:587",
    )
    assert code == 0, _failures(report)
    protocols = report["extracted"]["protocols"]
    assert [(p["type"], p["ssl"], p["spa"], p["login_name"]) for p in protocols] == [
        ("IMAP", True, False, "user@example.com"),
        ("POP3", True, False, "user@example.com"),
        ("SMTP", True, False, "user@example.com"),
        ("SMTP", True, False, "user@example.com"),
    ]


def test_exchangelib_reads_unknown_domain_as_error_500(harness, bundled_server):
    code, report = check(
        harness,
        "pox_exchangelib_check.py",
        bundled_server + "/autodiscover/autodiscover.xml",
        "--email",
        "user@unknown.example",
        "--expect-kind",
        "error",
    )
    assert code == 0, _failures(report)
    assert report["extracted"]["code"] == "500"


def test_exchangelib_follows_redirect_address(harness, varied_server):
    code, report = check(
        harness,
        "pox_exchangelib_check.py",
        varied_server + "/autodiscover/autodiscover.xml",
        "--email",
        "carol@moved.example",
        "--expect-kind",
        "redirectAddr",
    )
    assert code == 0, _failures(report)
    assert report["extracted"]["redirect_address"] == "carol@hoster.example"


def test_exchangelib_follows_the_302_to_the_https_target(harness, varied_server):
    """exchangelib follows a 302 only to https; the harness then stops it at its loopback guard."""
    _, report = check(
        harness,
        "pox_exchangelib_check.py",
        varied_server + "/autodiscover/autodiscover.xml",
        "--email",
        "a@redirect.example",
    )
    text = json.dumps(report)
    assert "https://autodiscover.other.example/autodiscover/autodiscover.xml" in text
    assert "harness guard" in text


# Autodiscover v2 (JSON) and ActiveSync Autodiscover (mobilesync) ------------------------------

GROUPWARE_EAS = next(
    p["activeSync"]
    for p in yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))["providers"]
    if p["id"] == "groupware.example.org"
)
"""The bundled providers.yaml's activeSync URL, read as the admin wrote it."""


def test_json_checker_passes_autodiscover_v1_and_activesync(harness, bundled_server):
    code, report = check(
        harness,
        "autodiscover_json_check.py",
        "--base",
        bundled_server,
        "--email",
        "user@groupware.example.org",
        "--activesync",
        "--strict",
    )
    assert code == 0, _failures(report)
    # The Host (127.0.0.1:port) names no domain of the address, so the answer does not trust it
    # and points at autodiscover.<the address's domain>, where DNS sends Outlook anyway.
    pox = "https://autodiscover.groupware.example.org/autodiscover/autodiscover.xml"
    assert report["extracted"] == {
        "query": {"Protocol": "AutodiscoverV1", "Url": pox},
        "path": {"Protocol": "AutodiscoverV1", "Url": pox},
        "activesync": {"Protocol": "ActiveSync", "Url": GROUPWARE_EAS},
    }


@pytest.mark.parametrize("email", ["user@example.com", "someone@a.customers.example.org"])
def test_json_checker_passes_for_providers_without_activesync(harness, bundled_server, email):
    code, report = check(
        harness,
        "autodiscover_json_check.py",
        "--base",
        bundled_server,
        "--email",
        email,
        "--strict",
    )
    assert code == 0, _failures(report)


def test_json_checker_passes_on_the_varied_configuration(harness, varied_server):
    code, report = check(
        harness,
        "autodiscover_json_check.py",
        "--base",
        varied_server,
        "--email",
        "anne@oauth.example",
        "--strict",
    )
    assert code == 0, _failures(report)


@pytest.mark.parametrize(
    "path", ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"]
)
def test_mobilesync_checker_reads_the_activesync_settings(harness, bundled_server, path):
    code, report = check(
        harness,
        "mobilesync_check.py",
        bundled_server + path,
        "--email",
        "user@groupware.example.org",
        "--expect",
        "settings",
        "--strict",
    )
    assert code == 0, _failures(report)
    assert report["extracted"] == {
        "user": "user@groupware.example.org",
        "kind": "settings",
        "servers": [{"type": "MobileSync", "url": GROUPWARE_EAS, "name": GROUPWARE_EAS}],
    }


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("user@example.com", "ActiveSync is not offered for example.com."),
        ("user@unknown.example", "No settings are published here for unknown.example."),
    ],
)
def test_mobilesync_checker_reads_no_activesync_as_an_error(
    harness, bundled_server, email, message
):
    code, report = check(
        harness,
        "mobilesync_check.py",
        bundled_server + "/autodiscover/autodiscover.xml",
        "--email",
        email,
        "--expect",
        "error",
        "--strict",
    )
    assert code == 0, _failures(report)
    assert report["extracted"] == {
        "user": email,
        "kind": "error",
        "status": "2",
        "message": message,
    }


def test_mobilesync_checker_follows_a_redirect_address(harness, varied_server):
    code, report = check(
        harness,
        "mobilesync_check.py",
        varied_server + "/autodiscover/autodiscover.xml",
        "--email",
        "carol@moved.example",
        "--expect",
        "redirect",
        "--strict",
    )
    assert code == 0, _failures(report)
    assert report["extracted"]["redirect"] == "carol@hoster.example"
