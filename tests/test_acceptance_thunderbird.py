"""Thunderbird's own autoconfig reader (releases 128, 140 and current) on the live server.

Runs ../shared/tools/thunderbird: Thunderbird's readFromXML, sanitizer and HTTP fetcher, unmodified,
under Node. Skips with the reason when that harness, Node or Thunderbird's sources are missing.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autoconfig.config.loader import load_providers

from .conftest import BUNDLED, SHARED, VARIED

TOOL = SHARED / "tools" / "thunderbird"
CACHE = Path(os.environ.get("TB_ROOT", "/tmp/tbparser"))
RELEASES = {
    "current": "cf9726f56328e24a2cd2d24eaf01563c676a28e6",
    "140": "ae6aa8cae07de62f1d2fdd1af01636d3d3bc047e",
    "128": "ea71a85d3433c02ba7fe75ceb20d9ee0ce65d540",
}


def _mirror() -> Path | None:
    candidates = [
        os.environ.get("TB_MIRROR"),
        SHARED.parent / ".mirror/mozilla+releases-comm-central/repo",
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


def _release_dir(release: str) -> Path:
    """Thunderbird's files for one release, extracted by the harness when a mirror is at hand."""
    if not TOOL.is_dir():
        pytest.skip(f"{TOOL} is absent (../shared is not beside the checkout)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed; the Thunderbird harness runs under Node >= 20")
    commit = RELEASES[release]
    target = CACHE / f"tb-{commit[:12]}"
    if not (target / "MANIFEST.json").is_file():
        mirror = _mirror()
        if mirror is None:
            pytest.skip(
                "no mirror of mozilla/releases-comm-central to extract Thunderbird from (TB_MIRROR)"
            )
        env = {**os.environ, "TB_MIRROR": str(mirror), "TB_CACHE_NO_LINK": "1"}
        result = subprocess.run(
            ["bash", str(TOOL / "fetch_tb.sh"), commit],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0 or not (target / "MANIFEST.json").is_file():
            pytest.skip(f"could not extract Thunderbird {release}: {result.stderr[-500:]}")
    if not (CACHE / "node" / "node_modules").is_dir():
        pytest.skip("the harness's npm packages are missing (run fetch_tb.sh once)")
    return target


def tb_parse(release_dir: Path, url: str, email: str) -> dict:
    result = subprocess.run(
        ["node", str(TOOL / "tb_parse.mjs"), "--strict", "--compact", url, email],
        env={**os.environ, "TB_CACHE": str(release_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    assert result.returncode == 0, (
        f"Thunderbird rejected {url} for {email}: {report.get('error')} {report.get('lint')}"
    )
    return report


def _summary(server) -> dict:
    return {
        "hostname": server.hostname,
        "port": server.port,
        "socketType": server.socket_type.value,
    }


CASES = [
    (BUNDLED, "alice@example.com", "example.com"),
    (BUNDLED, "bob@example.net", "example.net"),
    # Thunderbird's replaceVariables() refuses a U-label domain in the address itself
    # (InputSanitizer.hostname), so the A-label form is what reaches a server from it.
    (VARIED, "anne@xn--bcher-kva.example", "xn--bcher-kva.example"),
    (VARIED, "info@shop.sites.hoster.example", "shop.sites.hoster.example"),
]


@pytest.mark.parametrize("release", list(RELEASES))
@pytest.mark.parametrize(("config", "email", "domain"), CASES, ids=[c[1] for c in CASES])
def test_thunderbird_accepts_the_answer(
    release, config, email, domain, bundled_server, varied_server
):
    release_dir = _release_dir(release)
    base = bundled_server if config == BUNDLED else varied_server
    provider = next(
        p
        for p in load_providers(config)
        if domain in p.exact_domains
        or any(d.wildcard and domain.endswith("." + d.name) for d in p.domains)
    )
    for path in ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"):
        report = tb_parse(release_dir, base + path, email)
        assert report["isComplete"] is True
        summary = report["summary"]
        assert summary["id"] == provider.id
        assert domain in summary["domains"]
        first_in, first_out = provider.incoming[0], provider.outgoing[0]
        got_in = {k: summary["incoming"][k] for k in ("hostname", "port", "socketType")}
        expected_in = _summary(first_in) | {
            "hostname": first_in.hostname.replace("%EMAILDOMAIN%", domain)
        }
        assert got_in | {"socketType": first_in.socket_type.value} == expected_in
        assert summary["incoming"]["socketType"] in {"SSL", "alwaysSTARTTLS", "plain"}
        assert summary["outgoing"]["hostname"] == first_out.hostname.replace(
            "%EMAILDOMAIN%", domain
        )
        assert summary["outgoing"]["port"] == first_out.port
        alternatives = [a for a in summary["incomingAlternatives"] if a["type"] in ("imap", "pop3")]
        assert len(alternatives) == len(provider.incoming) - 1


def test_current_thunderbird_offers_the_ews_service_as_an_alternative(varied_server):
    release_dir = _release_dir("current")
    report = tb_parse(release_dir, varied_server + "/mail/config-v1.1.xml", "anne@oauth.example")
    alternatives = [(a["type"], a["hostname"]) for a in report["summary"]["incomingAlternatives"]]
    assert ("ews", "ews.oauth.example") in alternatives
    assert report["summary"]["incoming"]["type"] == "imap"
