"""deploy/Dockerfile built with Debian's podman and run as the README runs it.

No image registry is reachable from the test machines, so the base image is made here from
Debian's packages: mmdebstrap of bookworm with python3 and python3-venv, from the mirrors this
machine's apt uses, imported into podman once and reused while its recipe is unchanged. The
Dockerfile is built on it (`--build-arg PYTHON_IMAGE`) with this machine's pip settings and CA
bundle mounted into the build only, so the image's pip reaches the package index the checkout's
own pip uses; podman's layer cache makes a rebuild of unchanged inputs take seconds.

The container runs read-only with the bundled providers.yaml's folder mounted read-only at
/etc/autoconfig, with the image's own command. It has a network namespace of its own with
loopback only (`--network none`), so the image's port and HEALTHCHECK stay as shipped and no port
of the shared machine can collide; clients' requests are sent from inside it, by the image's own
Python (`podman exec`), and their answers compared with the checkout's.

Containers run with runc and explicit nofile/nproc limits below this process's own: here crun
fails on cgroups and podman's default limits exceed what the machine allows. A step this machine
cannot do (podman, runc or mmdebstrap missing, no container can start, the package index out of
reach from a container) skips the tests, naming the step and giving the tool's own words; a
Dockerfile that does not build or an image that does not serve fails them. `make test` installs
podman, runc and mmdebstrap from Debian where it can.
"""

import ast
import hashlib
import json
import os
import resource
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from lxml import etree

from .conftest import BUNDLED, ROOT

SUITE = "bookworm"
"""The Debian release of the Dockerfile's default base (python:3.11-slim-bookworm)."""
BASE_PACKAGES = ("python3", "python3-venv")
"""What the Dockerfile needs of its base: `python3` and its venv module (pip comes with it)."""
BASE_REPOSITORY = "localhost/autoconfig-test-base"
IMAGE_TAG = "localhost/autoconfig-test:latest"
BUILD_STAGE_TAG = "localhost/autoconfig-test:build-stage"
"""Tagged so that pruning the images an earlier build left keeps this build's cache."""
BUILD_MOUNTS = Path("/run/autoconfig-build")
"""Where the machine's CA bundle is mounted in the build; the generated pip.conf points here."""


def cache_home() -> Path:
    """Root's cache is the machine's; anyone else's is their own (XDG)."""
    if os.geteuid() == 0:
        return Path("/var/cache")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


STORAGE = cache_home() / "autoconfig-tests" / "podman"
"""The suite's own podman storage, kept between runs: the base image and the build's layer cache
live there, and pruning it touches no other image on the machine."""
PODMAN = (
    "podman",
    "--runtime=runc",
    f"--root={STORAGE / 'storage'}",
    f"--runroot={STORAGE / 'run'}",
)
CONTAINER_LIMIT = 4096
"""nofile and nproc in every container, capped at this process's own hard limits: podman's
defaults are above this machine's, and runc may not raise a limit. Plenty for one server."""

PIP_SETTINGS = ("index-url", "extra-index-url", "trusted-host", "timeout", "retries")
"""The machine's pip settings that the build's pip needs to reach the same index."""

THUNDERBIRD = "/mail/config-v1.1.xml?emailaddress=alice@example.com"
POX_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
    'requestschema/2006">\n'
    "  <Request>\n"
    "    <EMailAddress>alice@example.com</EMailAddress>\n"
    "    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/"
    "responseschema/2006a</AcceptableResponseSchema>\n"
    "  </Request>\n"
    "</Autodiscover>\n"
)

CLIENT = """
import json, sys, urllib.error, urllib.request
method, url, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
request = urllib.request.Request(url, sys.stdin.buffer.read() or None, headers, method=method)
try:
    response = urllib.request.urlopen(request, timeout=10)
except urllib.error.HTTPError as error:
    response = error
body = response.read().decode("utf-8", "replace")
json.dump({"status": response.code, "headers": dict(response.headers), "body": body}, sys.stdout)
"""
"""An HTTP client for the image's own Python: status, headers and body as JSON on stdout."""


# Running the tools


def run(argv: list[str], timeout: float, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=False)


def words(result: subprocess.CompletedProcess, lines: int = 15) -> str:
    """The last lines a tool printed, for a skip or failure message."""
    text = (result.stderr or b"").decode(errors="replace") + (result.stdout or b"").decode(
        errors="replace"
    )
    return "\n".join(text.strip().splitlines()[-lines:])


def step(name: str, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    """A step this machine may be unable to do: skip with its name and the tool's words."""
    try:
        result = run(argv, timeout)
    except subprocess.TimeoutExpired:
        pytest.skip(f"{name}: no result within {timeout:.0f} s ({' '.join(argv[:4])} ...)")
    if result.returncode != 0:
        pytest.skip(f"{name} failed (exit {result.returncode}):\n{words(result)}")
    return result


def limit(kind: int) -> int:
    hard = resource.getrlimit(kind)[1]
    return CONTAINER_LIMIT if hard == resource.RLIM_INFINITY else min(CONTAINER_LIMIT, hard)


def limits() -> list[str]:
    nofile, nproc = limit(resource.RLIMIT_NOFILE), limit(resource.RLIMIT_NPROC)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


# The base image


def debian_mirrors() -> list[str]:
    """One-line sources for SUITE and its updates and security suites, from this machine's apt."""
    result = step(
        "reading this machine's apt sources (apt-get indextargets)",
        ["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE) $(COMPONENT) $(ORIGIN)"],
        60,
    )
    suites = {SUITE, f"{SUITE}-updates", f"{SUITE}-security"}
    components: dict[tuple[str, str], set[str]] = {}
    for line in result.stdout.decode().splitlines():
        uri, release, component, *origin = line.split()
        if release in suites and origin == ["Debian"]:
            components.setdefault((uri, release), set()).add(component)
    if not components:
        pytest.skip(f"making the base image: this machine's apt has no Debian {SUITE} source")
    return [
        f"deb {uri} {release} {' '.join(sorted(parts))}"
        for (uri, release), parts in sorted(components.items())
    ]


def base_image(workdir: Path) -> str:
    """The Debian base, made and imported once; its tag names the recipe it was made from."""
    recipe = json.dumps({"suite": SUITE, "variant": "minbase", "packages": BASE_PACKAGES})
    name = f"{BASE_REPOSITORY}:{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    if run([*PODMAN, "image", "exists", name], 60).returncode == 0:
        return name
    if shutil.which("mmdebstrap") is None:
        pytest.skip("making the base image: mmdebstrap is not installed (`make test` installs it)")
    tarball = workdir / "base.tar"
    step(
        f"making the base image (mmdebstrap {SUITE} with {', '.join(BASE_PACKAGES)})",
        [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            "--format=tar",
            SUITE,
            str(tarball),
            *debian_mirrors(),
        ],
        900,
    )
    step("importing the base image (podman import)", [*PODMAN, "import", str(tarball), name], 300)
    tarball.unlink()
    return name


# The build's pip settings


def machine_pip_settings() -> dict[str, str]:
    """What `pip config list` reports for the checkout's pip, the environment's PIP_* last."""
    result = run([sys.executable, "-m", "pip", "config", "list"], 60)
    settings: dict[str, str] = {}
    for line in result.stdout.decode().splitlines():
        key, _, value = line.partition("=")
        section, _, option = key.rpartition(".")
        if section in ("global", "install", ":env:") and value:
            settings[option.replace("default-timeout", "timeout")] = ast.literal_eval(value)
    return settings


def ca_bundle(settings: dict[str, str]) -> Path | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (settings.get("cert"), paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build_mounts(workdir: Path) -> list[str]:
    """`-v` options for the build: a pip.conf with the machine's index and its CA bundle.

    Only network indexes are carried over (file:// ones are folders of this machine), and no
    file is copied into the image: RUN steps see the mounts, the layers do not keep them.
    """
    settings = machine_pip_settings()
    lines = ["[global]"]
    for option in PIP_SETTINGS:
        values = settings.get(option, "").split()
        if option == "extra-index-url":
            values = [url for url in values if url.startswith(("http://", "https://"))]
        if values:
            lines.append(f"{option} = {' '.join(values)}")
    mounts = []
    bundle = ca_bundle(settings)
    if bundle is not None:
        lines.append(f"cert = {BUILD_MOUNTS / 'ca.pem'}")
        mounts += ["-v", f"{bundle}:{BUILD_MOUNTS / 'ca.pem'}:ro"]
    pip_conf = workdir / "pip.conf"
    pip_conf.write_text("\n".join(lines) + "\n")
    return [*mounts, "-v", f"{pip_conf}:/etc/pip.conf:ro"]


# The image


def probe_runtime(base: str) -> None:
    step(
        "starting a container (podman run with runc, --network none)",
        [*PODMAN, "run", "--rm", "--network", "none", *limits(), base, "python3", "-c", "pass"],
        120,
    )


def probe_index(base: str, mounts: list[str]) -> None:
    """After a failed build: can pip in a container reach the index at all? If not, the
    machine is at fault, not the Dockerfile."""
    script = (
        "python3 -m venv /tmp/probe && /tmp/probe/bin/pip download --no-deps --quiet "
        "--dest /tmp/probe/wheels setuptools"
    )
    step(
        "podman build failed, and so did reaching the package index from a container "
        "(pip download)",
        [*PODMAN, "run", "--rm", "--network", "host", *limits(), *mounts, base, "sh", "-c", script],
        300,
    )


def build(base: str, workdir: Path) -> str:
    """deploy/Dockerfile on the Debian base; the image's ID.

    The build stage is built and tagged first (the full build then finds it in the cache), so
    that the images earlier builds left can be pruned without losing this build's cache.
    """
    mounts = build_mounts(workdir)
    iidfile = workdir / "image-id"
    started = time.time()
    common = [
        *PODMAN,
        "build",
        "--pull=never",
        "--format=docker",  # the OCI format has no HEALTHCHECK
        "--network=host",
        *limits(),
        *mounts,
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        "--file",
        str(ROOT / "deploy" / "Dockerfile"),
        "--ignorefile",
        str(ROOT / "deploy" / "Dockerfile.dockerignore"),
    ]
    for extra in (
        ["--target=build", f"--tag={BUILD_STAGE_TAG}"],
        [f"--iidfile={iidfile}", f"--tag={IMAGE_TAG}"],
    ):
        result = run([*common, *extra, str(ROOT)], 1200)
        if result.returncode != 0:
            probe_index(base, mounts)
            pytest.fail(f"podman build failed (exit {result.returncode}):\n{words(result, 40)}")
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 1))
    run([*PODMAN, "image", "prune", "--force", f"--filter=until={until}"], 300)
    return iidfile.read_text().strip()


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (Debian package podman; `make test` installs it)")
    workdir = tmp_path_factory.mktemp("image")
    base = base_image(workdir)
    probe_runtime(base)
    return build(base, workdir)


# Containers


def config_folder(folder: Path, text: str) -> Path:
    """A folder like the README's /etc/autoconfig, readable by the image's user."""
    folder.mkdir()
    (folder / "providers.yaml").write_text(text, encoding="utf-8")
    folder.chmod(0o755)
    (folder / "providers.yaml").chmod(0o644)
    return folder


def podman(*args: str, timeout: float = 60, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return run([*PODMAN, *args], timeout, stdin)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str


class Container:
    """The image run as the README says: read-only, the config folder mounted read-only."""

    def __init__(self, image: str, folder: Path) -> None:
        started = podman(
            "run",
            "--detach",
            "--read-only",
            "--network=none",
            "--health-interval=disable",  # no systemd here for the timer; checks are run by hand
            *limits(),
            "--volume",
            f"{folder}:/etc/autoconfig:ro",
            image,
        )
        assert started.returncode == 0, words(started)
        self.id = started.stdout.decode().strip()
        self.wait_serving()

    def logs(self) -> str:
        result = podman("logs", self.id)
        return (result.stdout + result.stderr).decode(errors="replace")

    def state(self) -> dict:
        return json.loads(podman("inspect", self.id).stdout)[0]["State"]

    def wait_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.state()["Running"]:
                pytest.fail(f"the container exited: {self.logs()}")
            if self.request("GET", "/healthz").status == 200:
                return
            assert time.monotonic() < deadline, f"no answer on /healthz: {self.logs()}"
            time.sleep(0.3)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        url = f"http://127.0.0.1:8080{path}"
        result = podman(
            "exec",
            "--interactive",
            self.id,
            "python",
            "-c",
            CLIENT,
            method,
            url,
            json.dumps(headers or {}),
            stdin=body,
        )
        if result.returncode != 0:
            return Answer(0, {}, words(result))
        answer = json.loads(result.stdout)
        return Answer(answer["status"], answer["headers"], answer["body"])

    def remove(self) -> None:
        podman("rm", "--force", "--time=0", self.id)


@pytest.fixture(scope="module")
def container(image, tmp_path_factory) -> Iterator[Container]:
    folder = config_folder(tmp_path_factory.mktemp("etc") / "autoconfig", BUNDLED.read_text())
    running = Container(image, folder)
    try:
        yield running
    finally:
        running.remove()


def bundled_provider(domain: str) -> dict:
    providers = yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))["providers"]
    [provider] = [p for p in providers if domain in p["domains"]]
    return provider


def thunderbird(container: Container) -> Answer:
    return container.request("GET", THUNDERBIRD, {"Host": "autoconfig.example.com"})


# What the image does


async def test_image_answers_thunderbird_as_the_checkout_does(container, client):
    answer = thunderbird(container)
    assert answer.status == 200, answer.body
    document = etree.fromstring(answer.body.encode())
    provider = bundled_provider("example.com")
    assert document.find("emailProvider").get("id") == provider["id"]
    assert document.xpath("//incomingServer/hostname/text()") == [
        server["hostname"] for server in provider["incoming"]
    ]
    assert document.xpath("//incomingServer/username/text()") == [
        server["username"] for server in provider["incoming"]
    ], "Thunderbird fills in the placeholders itself"
    local = await client.get(THUNDERBIRD, headers={"Host": "autoconfig.example.com"})
    assert answer.body == await local.text(), "the image serves other code than the checkout"
    assert answer.headers["Content-Type"] == local.headers["Content-Type"]


async def test_image_answers_outlook_pox_as_the_checkout_does(container, client):
    headers = {"Host": "autodiscover.example.com", "Content-Type": "text/xml"}
    path = "/autodiscover/autodiscover.xml"
    answer = container.request("POST", path, headers, POX_REQUEST.encode())
    assert answer.status == 200, answer.body
    document = etree.fromstring(answer.body.encode())
    protocols = {
        protocol.xpath("string(*[local-name()='Type'])"): protocol
        for protocol in document.xpath("//*[local-name()='Protocol']")
    }
    imap = protocols["IMAP"]
    [server] = [s for s in bundled_provider("example.com")["incoming"] if s["type"] == "imap"]
    assert imap.xpath("string(*[local-name()='Server'])") == server["hostname"]
    assert imap.xpath("string(*[local-name()='Port'])") == str(server["port"])
    assert imap.xpath("string(*[local-name()='LoginName'])") == "alice@example.com"
    local = await client.post(path, data=POX_REQUEST.encode(), headers=headers)
    assert answer.body == await local.text()


def test_healthcheck_passes_on_the_served_image(container):
    result = podman("healthcheck", "run", container.id)
    assert result.returncode == 0, words(result)
    assert container.state()["Health"]["Status"] == "healthy"


def test_healthcheck_fails_when_nothing_answers(image):
    """The image's own check, in a container where the server is not running."""
    started = podman(
        "run", "--detach", "--network=none", "--health-interval=disable", *limits(),
        "--entrypoint", "python", image, "-c", "import time; time.sleep(120)",
    )  # fmt: skip
    assert started.returncode == 0, words(started)
    idle = started.stdout.decode().strip()
    try:
        result = podman("healthcheck", "run", idle)
        assert result.returncode != 0
        assert "unhealthy" in words(result)
    finally:
        podman("rm", "--force", "--time=0", idle)


def test_container_is_read_only_and_not_root(container):
    assert json.loads(podman("inspect", container.id).stdout)[0]["HostConfig"]["ReadonlyRootfs"]
    script = (
        "import os\n"
        "print(os.getuid(), os.getgid())\n"
        "for path in ('/opt/autoconfig/x', '/etc/autoconfig/x'):\n"
        "    try:\n"
        "        open(path, 'w')\n"
        "    except OSError as exc:\n"
        "        print(path, exc.errno)\n"
    )
    result = podman("exec", container.id, "python", "-c", script)
    assert result.returncode == 0, words(result)
    identity, *refused = result.stdout.decode().splitlines()
    assert identity == "10001 10001"
    assert len(refused) == 2, "the image and the config folder must not be writable"


def test_check_command_of_the_readme_validates_the_mounted_file(image, tmp_path):
    def check(folder: Path) -> subprocess.CompletedProcess:
        return podman(
            "run", "--rm", "--network=none", "--no-healthcheck", *limits(),
            "--volume", f"{folder}:/etc/autoconfig:ro", image, "check",
        )  # fmt: skip

    good = check(config_folder(tmp_path / "good", BUNDLED.read_text()))
    assert good.returncode == 0, words(good)
    count = len(yaml.safe_load(BUNDLED.read_text())["providers"])
    assert f"OK, {count} providers" in good.stdout.decode()
    broken = check(config_folder(tmp_path / "broken", "providers: [ {id: x\n"))
    assert broken.returncode == 1
    assert "providers.yaml:1" in words(broken), words(broken)


def test_an_edit_in_the_mounted_folder_is_served_and_sigterm_stops_cleanly(image, tmp_path):
    """Editors save by renaming a new file over the old one; compose mounts the folder for it."""
    folder = config_folder(tmp_path / "autoconfig", BUNDLED.read_text())
    running = Container(image, folder)
    try:
        edited = folder / "providers.yaml.new"
        edited.write_text(BUNDLED.read_text().replace("imap.example.com", "imap2.example.com"))
        edited.chmod(0o644)
        edited.replace(folder / "providers.yaml")
        deadline = time.monotonic() + 20
        while "imap2.example.com" not in thunderbird(running).body:
            assert time.monotonic() < deadline, f"the edit was not picked up: {running.logs()}"
            time.sleep(0.5)

        started = time.monotonic()
        stopped = podman("stop", "--time=30", running.id, timeout=60)
        assert stopped.returncode == 0, words(stopped)
        assert time.monotonic() - started < 20, "SIGTERM must stop the server, not podman's kill"
        assert running.state()["ExitCode"] == 0, running.logs()
    finally:
        running.remove()
