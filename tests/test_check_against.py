"""`check --against URL`: what loading a file on a running server would change.

A real `autoconfig serve` loads one file; `check` is run on edited copies of it and must name
each change, and nothing else; after the server reloads the edit, the same check finds none.
"""

import http.server
import json
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT
from .server_support import ServerProcess, wait_until

SERVED = """\
providers:
  - id: acme.test
    displayName: Acme
    domains:
      - acme.test
      - acme.example
      - "*.acme.test"
      - name: old.test
        redirectAddr: "%EMAILLOCALPART%@acme.test"
    incoming: [{type: imap, hostname: imap.acme.test, socketType: SSL}]
    outgoing: [{hostname: smtp.acme.test, socketType: SSL}]

  - id: hoster.test
    displayName: Hoster
    domainsFile: customers.txt
    incoming: [{type: imap, hostname: "mail.%EMAILDOMAIN%", socketType: SSL}]
    outgoing: [{hostname: "mail.%EMAILDOMAIN%", socketType: SSL}]

  - id: gone.test
    displayName: Gone
    domains: [gone.test]
    incoming: [{type: imap, hostname: imap.gone.test, socketType: SSL}]
    outgoing: [{hostname: smtp.gone.test, socketType: SSL}]
"""
CUSTOMERS = "secret-customer-one.test\nsecret-customer-two.test\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoconfig", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[ServerProcess, Path]]:
    folder = tmp_path_factory.mktemp("served")
    (folder / "customers.txt").write_text(CUSTOMERS, encoding="utf-8")
    config = folder / "providers.yaml"
    config.write_text(SERVED, encoding="utf-8")
    with ServerProcess(config, "--no-watch") as process:
        yield process, folder


def edited(tmp_path: Path, served_folder: Path, text: str, customers: str = CUSTOMERS) -> Path:
    (tmp_path / "customers.txt").write_text(customers, encoding="utf-8")
    path = tmp_path / "providers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def against(path: Path, url: str) -> dict:
    result = run("check", str(path), "--against", url, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["against"]


def test_the_served_file_itself_changes_nothing(served, tmp_path):
    process, folder = served
    result = run("check", str(folder / "providers.yaml"), "--against", process.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == f"against {process.url} (generation 1): no change (3 providers the same)"
    report = against(folder / "providers.yaml", process.url + "/")
    assert report["changed"] is False
    assert report["providers_unchanged"] == 3


def test_providers_and_listed_domains_added_and_removed_are_named(served, tmp_path):
    process, folder = served
    text = SERVED.replace("      - acme.example\n", "      - acme.org\n")
    text = text[: text.index("  - id: gone.test")] + (
        "  - id: new.test\n"
        "    displayName: New\n"
        "    domains: [new.test, new.example]\n"
        "    incoming: [{type: imap, hostname: imap.new.test, socketType: SSL}]\n"
        "    outgoing: [{hostname: smtp.new.test, socketType: SSL}]\n"
    )
    report = against(edited(tmp_path, folder, text), process.url)

    assert report["changed"] is True
    assert report["providers_added"] == [{"id": "new.test", "domains": 2}]
    assert report["providers_removed"] == [{"id": "gone.test", "domains": 1}]
    (acme,) = report["providers_changed"]
    assert acme["id"] == "acme.test"
    assert (acme["domains_added"], acme["domains_removed"]) == (["acme.org"], ["acme.example"])
    assert acme["settings_changed"] is False
    assert acme["other_domains"] is None
    assert report["providers_unchanged"] == 1

    lines = run("check", str(tmp_path / "providers.yaml"), "--against", process.url).stdout
    assert "  + provider new.test (2 domains)" in lines
    assert "  - provider gone.test (1 domain)" in lines
    assert "  ~ provider acme.test: domains + acme.org, - acme.example" in lines


def test_settings_redirects_and_domain_list_files_are_told_apart(served, tmp_path):
    process, folder = served
    text = SERVED.replace(
        "imap.gone.test, socketType: SSL", "imap.gone.test, port: 9993, socketType: SSL"
    )
    text = text.replace(
        'redirectAddr: "%EMAILLOCALPART%@acme.test"', 'redirectAddr: "%EMAILADDRESS%"'
    )
    path = edited(tmp_path, folder, text, CUSTOMERS + "third.test\n")
    report = against(path, process.url)

    changes = {change["id"]: change for change in report["providers_changed"]}
    assert set(changes) == {"acme.test", "hoster.test", "gone.test"}
    assert changes["gone.test"]["settings_changed"] is True
    assert changes["gone.test"]["domains_added"] == []
    assert changes["acme.test"]["redirects_changed"] is True
    assert changes["acme.test"]["settings_changed"] is False
    assert changes["hoster.test"]["other_domains"] == {"served": 2, "file": 3}
    assert changes["hoster.test"]["settings_changed"] is False


def test_a_new_default_provider_is_reported(served, tmp_path):
    process, folder = served
    path = edited(tmp_path, folder, "defaultProvider: acme.test\n" + SERVED)
    report = against(path, process.url)
    assert report["default_provider"] == {"served": None, "file": "acme.test"}
    assert report["changed"] is True


def test_the_summary_shows_no_domain_that_the_public_answers_do_not(served):
    process, _ = served
    with urllib.request.urlopen(f"{process.url}/catalog", timeout=10) as reply:
        assert reply.headers["Cache-Control"] == "no-store"
        body = reply.read().decode()
    for hidden in ("secret-customer-one", "secret-customer-two", "*.acme.test", "@"):
        assert hidden not in body
    summary = json.loads(body)
    assert [p["id"] for p in summary["providers"]] == ["acme.test", "hoster.test", "gone.test"]
    (acme,) = [p for p in summary["providers"] if p["id"] == "acme.test"]
    assert acme["listed"] == ["acme.example", "acme.test", "old.test"]
    thunderbird = f"{process.url}/mail/config-v1.1.xml?emailaddress=a%40acme.test"
    with urllib.request.urlopen(thunderbird, timeout=10) as reply:
        answer = reply.read().decode()
    assert all(f"<domain>{name}</domain>" in answer for name in acme["listed"])


def test_after_a_reload_of_the_edit_nothing_is_left_to_change(tmp_path):
    (tmp_path / "customers.txt").write_text(CUSTOMERS, encoding="utf-8")
    config = tmp_path / "providers.yaml"
    config.write_text(SERVED, encoding="utf-8")
    edit = tmp_path / "edit"
    edit.mkdir()
    shutil.copy(tmp_path / "customers.txt", edit / "customers.txt")
    (edit / "providers.yaml").write_text(SERVED.replace("acme.example", "acme.org"))
    with ServerProcess(config, "--poll-interval", "0.2") as process:
        assert against(edit / "providers.yaml", process.url)["changed"] is True
        shutil.copy(edit / "providers.yaml", config)

        def reloaded() -> bool:
            with urllib.request.urlopen(f"{process.url}/healthz", timeout=10) as reply:
                return json.loads(reply.read())["generation"] == 2

        wait_until(reloaded)
        report = against(edit / "providers.yaml", process.url)
        assert report["changed"] is False
        assert report["generation"] == 2


class _NotAutoconfig(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"providers": [{"id": 7}]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def impostor() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _NotAutoconfig)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_servers_that_cannot_tell_are_a_clear_error(served, impostor):
    process, folder = served
    config = str(folder / "providers.yaml")
    cases = {
        f"{process.url}/healthz": "answered HTTP 404",
        "http://127.0.0.1:1": "cannot reach http://127.0.0.1:1",
        impostor: "is not an autoconfig catalog summary: providers[0].id",
        "ftp://example.com": "give the server's base URL",
    }
    for url, said in cases.items():
        result = run("check", config, "--against", url)
        assert result.returncode == 2, (url, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"autoconfig: --against {url}: ")
        assert said in result.stderr
        assert result.stdout == ""


def test_an_invalid_file_is_reported_before_the_server_is_asked(tmp_path):
    broken = tmp_path / "providers.yaml"
    broken.write_text("providers: {}\n", encoding="utf-8")
    result = run("check", str(broken), "--against", "http://127.0.0.1:1")
    assert result.returncode == 1
    assert f"{broken}:1:" in result.stderr
    assert "cannot reach" not in result.stderr
