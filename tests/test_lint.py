"""`autoconfig check` as a linter: warnings with stable codes at the right file and line."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autoconfig.config.lint import lint
from autoconfig.config.loader import load_config

from .conftest import BUNDLED


def provider(incoming: str, outgoing: str, domains: str = "[a.example]", extra: str = "") -> str:
    return (
        "providers:\n"
        "  - id: a.example\n"
        "    displayName: A\n"
        f"    domains: {domains}\n"
        "    incoming:\n"
        + textwrap.indent(incoming, "      ")
        + "    outgoing:\n"
        + textwrap.indent(outgoing, "      ")
        + extra
    )


IMAP_SSL = "- {type: imap, hostname: imap.a.example, socketType: SSL}\n"
SMTP_SSL = "- {hostname: smtp.a.example, socketType: SSL}\n"


def warnings_for(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return [str(warning) for warning in lint(load_config(path))]


def line_of(text: str, needle: str) -> int:
    (line,) = [n for n, row in enumerate(text.splitlines(), start=1) if needle in row]
    return line


def test_the_bundled_file_has_no_warnings():
    assert lint(load_config(BUNDLED)) == []


@pytest.mark.parametrize(
    ("incoming", "outgoing", "needle", "path", "code"),
    [
        (
            "- {type: imap, hostname: imap.a.example, port: 143, socketType: plain}\n",
            SMTP_SSL,
            "socketType: plain",
            "providers[0].incoming[0].socketType",
            "AC101",
        ),
        (
            "- {type: imap, hostname: imap.a.example, port: 993, socketType: STARTTLS}\n",
            SMTP_SSL,
            "port: 993",
            "providers[0].incoming[0].port",
            "AC102",
        ),
        (
            IMAP_SSL,
            "- {hostname: smtp.a.example, port: 587, socketType: SSL}\n",
            "port: 587",
            "providers[0].outgoing[0].port",
            "AC102",
        ),
        (
            IMAP_SSL,
            "- {hostname: smtp.a.example, port: 25, socketType: STARTTLS}\n",
            "port: 25",
            "providers[0].outgoing[0].port",
            "AC103",
        ),
        (
            "- {type: pop3, hostname: pop.a.example, socketType: SSL}\n",
            SMTP_SSL,
            "incoming:",
            "providers[0].incoming",
            "AC104",
        ),
        (
            "- type: imap\n  hostname: imap.a.example\n  socketType: SSL\n"
            "  authentication: OAuth2\n",
            SMTP_SSL,
            "authentication: OAuth2",
            "providers[0].incoming[0].authentication",
            "AC105",
        ),
    ],
    ids=[
        "plaintext",
        "ssl-port-with-starttls",
        "starttls-port-with-ssl",
        "port-25",
        "pop3-only",
        "oauth2-only",
    ],
)
def test_each_warning_names_code_file_line_and_path(
    tmp_path, incoming, outgoing, needle, path, code
):
    text = provider(incoming, outgoing)
    found = warnings_for(tmp_path, text)
    prefix = f"{tmp_path / 'p.yaml'}:{line_of(text, needle)}: {path}: {code} "
    assert any(w.startswith(prefix) for w in found), found


def test_plaintext_to_a_local_host_is_fine(tmp_path):
    incoming = "- {type: imap, hostname: 127.0.0.1, port: 143, socketType: plain}\n"
    outgoing = "- {hostname: localhost, port: 587, socketType: plain}\n"
    assert not [w for w in warnings_for(tmp_path, provider(incoming, outgoing)) if "AC101" in w]


def test_local_part_login_warns_only_when_several_domains_share_the_server(tmp_path):
    incoming = (
        "- {type: imap, hostname: imap.a.example, socketType: SSL, username: '%EMAILLOCALPART%'}\n"
    )
    single = warnings_for(tmp_path, provider(incoming, SMTP_SSL))
    assert not [w for w in single if "AC106" in w]
    several = warnings_for(tmp_path, provider(incoming, SMTP_SSL, "[a.example, b.example]"))
    assert [w for w in several if "AC106" in w and "providers[0].incoming[0].username" in w]
    both = (
        "- {type: imap, hostname: imap.a.example, socketType: SSL,"
        " username: '%EMAILLOCALPART%+%EMAILDOMAIN%'}\n"
    )
    assert not [
        w
        for w in warnings_for(tmp_path, provider(both, SMTP_SSL, "[a.example, b.example]"))
        if "AC106" in w
    ]


def test_wildcard_shadowed_by_an_exact_domain_of_another_provider(tmp_path):
    text = provider(IMAP_SSL, SMTP_SSL, '["*.shops.example"]') + (
        "  - id: b.example\n"
        "    displayName: B\n"
        "    domains: [big.shops.example]\n"
        "    incoming:\n"
        "      - {type: imap, hostname: imap.b.example, socketType: SSL}\n"
        "    outgoing:\n"
        "      - {hostname: smtp.b.example, socketType: SSL}\n"
    )
    found = [w for w in warnings_for(tmp_path, text) if "AC107" in w]
    assert len(found) == 1
    assert found[0].startswith(
        f"{tmp_path / 'p.yaml'}:{line_of(text, '*.shops')}: providers[0].domains[0]: AC107"
    )
    assert "big.shops.example" in found[0] and "providers[1]" in found[0]


def test_default_provider_is_announced(tmp_path):
    text = provider(IMAP_SSL, SMTP_SSL, extra="defaultProvider: a.example\n")
    found = [w for w in warnings_for(tmp_path, text) if "AC108" in w]
    assert found == [
        f"{tmp_path / 'p.yaml'}:{line_of(text, 'defaultProvider')}: defaultProvider: AC108 "
        + found[0].split(" AC108 ", 1)[1]
    ]
    assert "every domain listed nowhere" in found[0]


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoconfig", "check", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_warnings_exit_0_unless_strict(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        provider("- {type: pop3, hostname: pop.a.example, socketType: SSL}\n", SMTP_SSL)
    )
    lenient = run_check(str(path))
    assert lenient.returncode == 0
    assert "AC104" in lenient.stderr
    assert lenient.stdout.strip().endswith("1 warning")
    strict = run_check(str(path), "--strict")
    assert strict.returncode == 1


def test_json_format_for_pipelines(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        provider("- {type: pop3, hostname: pop.a.example, socketType: SSL}\n", SMTP_SSL)
    )
    report = json.loads(run_check(str(path), "--format", "json").stdout)
    assert report["valid"] is True
    assert report["providers"] == 1
    assert [w["code"] for w in report["warnings"]] == ["AC104"]
    assert report["warnings"][0]["path"] == "providers[0].incoming"
    path.write_text("providers: [")
    broken = run_check(str(path), "--format", "json")
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["valid"] is False
    assert report["errors"][0]["line"] == 1
