"""The `autoconfig` command as an admin runs it: real processes, real files, a real socket."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import BUNDLED, ROOT, VARIED
from .server_support import ServerProcess


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoconfig", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_bundled_file_summarises_it():
    result = run("check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "providers.yaml: OK, 3 providers, 5 domains"


ONE_PROVIDER = (
    "providers:\n"
    "  - id: example.com\n"
    "    displayName: Example\n"
    "    domains: [example.com]\n"
    "    incoming:\n"
    "      - {type: imap, hostname: imap.example.com, socketType: SSL}\n"
    "    outgoing:\n"
    "      - {hostname: smtp.example.com, socketType: SSL}\n"
)


def test_check_counts_in_words(tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(ONE_PROVIDER)
    assert run("check", cwd=tmp_path).stdout == "providers.yaml: OK, 1 provider, 1 domain\n"
    path.write_text(ONE_PROVIDER.replace("[example.com]", "[example.com, example.net]"))
    assert run("check", cwd=tmp_path).stdout == "providers.yaml: OK, 1 provider, 2 domains\n"


def test_serve_counts_in_words(tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(ONE_PROVIDER)
    with ServerProcess(path) as server:
        assert "(1 provider, 1 domain)" in server.banner, server.banner
    with ServerProcess(BUNDLED) as server:
        assert "(3 providers, 5 domains)" in server.banner, server.banner


def test_check_takes_a_path_or_config(tmp_path):
    assert run("check", str(VARIED)).returncode == 0
    assert run("check", "--config", str(VARIED)).returncode == 0


def test_check_reports_every_error_with_file_and_line(tmp_path):
    broken = tmp_path / "providers.yaml"
    broken.write_text(
        "providers:\n"
        "  - id: example.com\n"
        "    displayName: Example\n"
        "    domains: [example.com]\n"
        "    incoming:\n"
        "      - type: imap\n"
        "        hostname: imap.example.com\n"
        "        socketType: SSL\n"
        "      - type: imap\n"
        "        hostname: imap.example.com\n"
        "        port: 70000\n"
        "        socketType: SSL\n"
        "    outgoing:\n"
        "      - hostnme: smtp.example.com\n"
        "        socketType: SSL\n"
    )
    result = run("check", str(broken))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert f"{broken}:11: providers[0].incoming[1].port: 70000 is not a port (1-65535)" in lines
    assert any(
        line.startswith(f"{broken}:14: providers[0].outgoing[0].hostnme: unknown key")
        for line in lines
    )
    assert any(
        line.startswith(f"{broken}:14: providers[0].outgoing[0].hostname: is missing")
        for line in lines
    )
    assert result.stdout == ""


def test_check_of_a_missing_file_says_so(tmp_path):
    result = run("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "nope.yaml: cannot be read" in result.stderr


def test_default_config_is_providers_yaml_in_the_current_folder(tmp_path):
    (tmp_path / "providers.yaml").write_text(VARIED.read_text())
    result = run("check", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("providers.yaml: OK, 3 providers")


async def test_render_prints_exactly_what_the_server_sends(client):
    tb = run("render", "thunderbird", "alice@example.com")
    assert tb.returncode == 0, tb.stderr
    response = await client.get(
        "/mail/config-v1.1.xml", params={"emailaddress": "alice@example.com"}
    )
    assert tb.stdout.encode() == await response.read()

    ol = run("render", "outlook", "alice@example.com")
    assert ol.returncode == 0, ol.stderr
    from .test_web_autodiscover import URL, pox

    response = await client.post(URL, data=pox("alice@example.com"))
    assert ol.stdout.encode() == await response.read()


def test_render_rejects_bad_input():
    assert run("render", "thunderbird", "a@").returncode == 2
    unknown = run("render", "outlook", "a@unknown.example")
    assert unknown.returncode == 1
    assert "unknown.example" in unknown.stderr
    assert run("render", "pdf", "a@example.com").returncode == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("entry", [["-m", "autoconfig"], ["console-script"]])
def test_serve_answers_on_a_real_socket(entry):
    port = _free_port()
    if entry == ["console-script"]:
        command = [str(Path(sys.executable).with_name("autoconfig"))]
        if not Path(command[0]).exists():
            pytest.skip("the autoconfig console script is not installed in this environment")
    else:
        command = [sys.executable, *entry]
    process = subprocess.Popen(
        [*command, "serve", "--config", str(BUNDLED), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        url = f"http://127.0.0.1:{port}/mail/config-v1.1.xml?emailaddress=a%40example.com"
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200
                    assert b'<emailProvider id="example.com">' in response.read()
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_serve_refuses_a_broken_config(tmp_path):
    broken = tmp_path / "p.yaml"
    broken.write_text("providers: [")
    result = run("serve", "--config", str(broken), "--port", str(_free_port()))
    assert result.returncode == 1
    assert f"{broken}:1:" in result.stderr


def test_service_link_variables_are_not_taken_for_options(tmp_path):
    """Kubernetes sets AUTOCONFIG_PORT=tcp://... for a Service named autoconfig."""
    import os

    from autoconfig.cli import build_parser

    saved = os.environ.get("AUTOCONFIG_PORT")
    os.environ["AUTOCONFIG_PORT"] = "tcp://10.96.0.12:80"
    try:
        assert build_parser().parse_args(["serve"]).port == 8080
        os.environ["AUTOCONFIG_PORT"] = "9090"
        assert build_parser().parse_args(["serve"]).port == 9090
    finally:
        if saved is None:
            del os.environ["AUTOCONFIG_PORT"]
        else:
            os.environ["AUTOCONFIG_PORT"] = saved


def test_version_is_printed():
    from autoconfig import __version__

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"autoconfig {__version__}"


def test_config_may_come_before_the_command_name_and_after_it_wins(tmp_path):
    result = run("--config", str(VARIED), "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{VARIED}: OK, 3 providers")
    result = run("--config", str(tmp_path / "missing.yaml"), "check", "--config", str(BUNDLED))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{BUNDLED}: OK")


@pytest.mark.parametrize("command", [["schema"], ["check", "--format", "json"], ["--help"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(command):
    """`autoconfig schema | head`: the pipe closes before the output is written."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "autoconfig", *command, "--config", str(BUNDLED)]
            if command[0] == "check"
            else [sys.executable, "-m", "autoconfig", *command],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    finally:
        os.close(writer)
    assert result.stderr == ""
    assert result.returncode in (0, 141)
