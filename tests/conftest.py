"""Shared fixtures: the bundled providers.yaml, the test data, and apps built from them."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from autoconfig.catalog import Catalog
from autoconfig.config.loader import load_providers
from autoconfig.web import dispatch
from autoconfig.web.app import AppOptions, create_app

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "providers.yaml"
DATA = Path(__file__).resolve().parent / "data"
VARIED = DATA / "varied.yaml"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def aiohttp_client(aiohttp_client):
    """pytest-aiohttp's client, with apps served the way `autoconfig serve` serves them: through
    their fast table (autoconfig/web/dispatch.py). A test server passed in as it is keeps
    aiohttp's own routing for every request.

    Without this every test would take aiohttp's router for all requests and never the fast
    dispatch that real clients' requests take.
    """

    async def client(app_or_server, **kwargs):  # type: ignore[no-untyped-def]
        test_client = await aiohttp_client(app_or_server, **kwargs)
        if isinstance(app_or_server, web.Application):
            dispatch.install(test_client.server.runner)
        return test_client

    return client


@pytest.fixture
def bundled_app() -> web.Application:
    return create_app(AppOptions(config_path=BUNDLED))


@pytest.fixture
def varied_app() -> web.Application:
    return create_app(AppOptions(config_path=VARIED))


@pytest.fixture
async def client(aiohttp_client, bundled_app):
    return await aiohttp_client(bundled_app)


@pytest.fixture
async def varied_client(aiohttp_client, varied_app):
    return await aiohttp_client(varied_app)


@pytest.fixture
def listening_socket() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback TCP listener that records whether anything connected to it (for tests that
    prove an XML entity or DTD on the network was never fetched)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    connections: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def catalog_of() -> Callable[[Path], Catalog]:
    return lambda path: Catalog(load_providers(path))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def live_server(config: Path, *options: str) -> Iterator[str]:
    """`autoconfig serve` in its own process on a loopback port, as real clients will reach it."""
    port = free_port()
    command = [sys.executable, "-m", "autoconfig", "serve", "--config", str(config)]
    process = subprocess.Popen(
        [*command, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = process.stdout.readline() if process.stdout else ""
        if "serving" not in banner:
            raise RuntimeError(f"server did not start: {banner}{process.communicate()[1]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def bundled_server() -> Iterator[str]:
    with live_server(BUNDLED) as url:
        yield url


@pytest.fixture(scope="module")
def varied_server() -> Iterator[str]:
    with live_server(VARIED) as url:
        yield url


OUTLOOK_TOOL = SHARED / "tools" / "outlook"
OUTLOOK_VENVS = Path(os.environ.get("OUTLOOK_ACC_VENVS", "/tmp/outlook-acceptance-venvs"))
OUTLOOK_PYTHON = OUTLOOK_VENVS / "main" / "bin" / "python"


@pytest.fixture(scope="module")
def harness() -> Path:
    """The Outlook harness's virtualenv (../shared/tools/outlook), set up from PyPI if missing."""
    if not OUTLOOK_TOOL.is_dir():
        pytest.skip(f"{OUTLOOK_TOOL} is absent (../shared is not beside the checkout)")
    if not OUTLOOK_PYTHON.exists():
        result = subprocess.run(
            ["bash", str(OUTLOOK_TOOL / "setup.sh")],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0 or not OUTLOOK_PYTHON.exists():
            pytest.skip(f"the Outlook harness could not be set up: {result.stderr[-500:]}")
    return OUTLOOK_PYTHON
