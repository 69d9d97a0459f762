"""The shared mobileconfig checker (Apple's device-management schema) on the live server.

Runs ../shared/tools/outlook/mobileconfig_check.py from the Outlook harness's virtualenv against
`autoconfig serve` on a loopback port, unsigned and signed with a throw-away CA. Skips with the
reason when ../shared, the harness venv (created by its setup.sh from PyPI) or openssl is absent.
"""

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .apple_support import SigningFiles, make_signing_files
from .conftest import BUNDLED, live_server
from .conftest import OUTLOOK_TOOL as TOOL


def serving(*options: str):
    """`autoconfig serve` with extra options, in its own process, as Safari would reach it."""
    return live_server(BUNDLED, "--no-watch", *options)


@pytest.fixture(scope="module")
def plain_server() -> Iterator[str]:
    with serving() as url:
        yield url


@pytest.fixture(scope="module")
def signing(tmp_path_factory) -> SigningFiles:
    return make_signing_files(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def signed_server(signing) -> Iterator[str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is absent: the checker unwraps signed profiles with it")
    with serving("--profile-cert", str(signing.chain), "--profile-key", str(signing.key)) as url:
        yield url


def check(python: Path, url: str, *args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [str(python), str(TOOL / "mobileconfig_check.py"), url, *args, "--strict", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def failures(report: dict) -> list:
    return [c for c in report.get("checks", []) if not c.get("ok")] or [report]


def info(report: dict, rule: str) -> str:
    return next(c["detail"] for c in report["checks"] if c["rule"] == rule)


EXAMPLE = (
    "--email",
    "user@example.com",
    "--expect-imap",
    "imap.example.com:993",
    "--expect-smtp",
    "smtp.example.com:465",
)


@pytest.mark.parametrize("path", ["/email.mobileconfig", "/apple/mobileconfig"])
def test_checker_passes_the_unsigned_profile_strictly(harness, plain_server, path):
    code, report = check(harness, f"{plain_server}{path}?email=user@example.com", *EXAMPLE)
    assert code == 0, failures(report)
    assert info(report, "signed") == "no (plain plist)"
    assert report["extracted"]["IncomingMailServerUseSSL"] is True
    assert report["extracted"]["IncomingMailServerUsername"] == "user@example.com"


def test_checker_passes_the_groupware_profile_with_dav_payloads(harness, plain_server):
    url = f"{plain_server}/email.mobileconfig?emailaddress=bob@groupware.example.org"
    code, report = check(harness, url, "--email", "bob@groupware.example.org")
    assert code == 0, failures(report)
    payload_types = [
        c["detail"] for c in report["checks"] if c["rule"].startswith("PayloadContent")
    ]
    assert any("com.apple.caldav.account" in detail for detail in payload_types)
    assert any("com.apple.carddav.account" in detail for detail in payload_types)


def test_checker_passes_the_signed_profile_strictly(harness, signed_server):
    code, report = check(
        harness, f"{signed_server}/email.mobileconfig?email=user@example.com", *EXAMPLE
    )
    assert code == 0, failures(report)
    assert info(report, "signed").startswith("yes")
