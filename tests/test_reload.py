"""Hot reload: edits under a running server, good and broken, while clients keep asking."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from lxml import etree

from autoconfig.web.app import AppOptions, create_app

from .conftest import free_port


def config_text(imap_host: str) -> str:
    return (
        "providers:\n"
        "  - id: example.com\n"
        "    displayName: Example\n"
        "    domains: [example.com]\n"
        "    incoming:\n"
        f"      - {{type: imap, hostname: {imap_host}, socketType: SSL}}\n"
        "    outgoing:\n"
        "      - {hostname: smtp.example.com, socketType: SSL}\n"
    )


BROKEN = config_text("imap.example.com").replace("socketType: SSL}", "socketType: SSL, port: 0}", 1)


def replace_file(path: Path, text: str) -> None:
    """Write beside and rename over, as editors and Kubernetes ConfigMaps do."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def imap_host(body: bytes) -> str:
    return etree.fromstring(body).findtext(".//incomingServer/hostname")


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_watched_file_edit_broken_then_fixed(tmp_path, aiohttp_client):
    path = tmp_path / "providers.yaml"
    path.write_text(config_text("imap-one.example.com"))
    client = await aiohttp_client(
        create_app(AppOptions(config_path=path, watch=True, poll_interval=0.05))
    )

    async def health():
        return await (await client.get("/healthz")).json()

    async def answer():
        response = await client.get(
            "/mail/config-v1.1.xml", params={"emailaddress": "a@example.com"}
        )
        assert response.status == 200
        return imap_host(await response.read())

    first = await health()
    assert first["status"] == "ok" and first["generation"] == 1
    assert first["last_reload_error"] is None
    assert await answer() == "imap-one.example.com"

    replace_file(path, config_text("imap-two.example.com"))

    async def generation_is(n):
        return (await health())["generation"] == n

    await wait_for(lambda: generation_is(2))
    assert await answer() == "imap-two.example.com"

    replace_file(path, BROKEN)

    async def degraded():
        return (await health())["status"] == "degraded"

    await wait_for(degraded)
    report = await health()
    assert report["generation"] == 2
    assert report["last_reload_error"]["errors"] == [
        f"{path}:6: providers[0].incoming[0].port: 0 is not a port (1-65535)"
    ]
    assert await answer() == "imap-two.example.com", "the last good catalog keeps serving"

    path.unlink()
    await asyncio.sleep(0.3)
    assert await answer() == "imap-two.example.com"

    path.write_text(config_text("imap-three.example.com"))
    await wait_for(lambda: generation_is(3))
    report = await health()
    assert report["status"] == "ok" and report["last_reload_error"] is None
    assert await answer() == "imap-three.example.com"


async def test_included_and_domain_list_files_are_watched(tmp_path, aiohttp_client):
    path = tmp_path / "providers.yaml"
    path.write_text(
        "include: more.yaml\n"
        + config_text("imap.example.com").replace(
            "    domains: [example.com]\n",
            "    domains: [example.com]\n    domainsFile: list.txt\n",
        )
    )
    (tmp_path / "list.txt").write_text("one.example\n")
    (tmp_path / "more.yaml").write_text("providers: []\n")
    client = await aiohttp_client(
        create_app(AppOptions(config_path=path, watch=True, poll_interval=0.05))
    )

    async def status(domain):
        return (await client.get("/v1.1/" + domain)).status

    assert await status("two.example") == 404
    replace_file(tmp_path / "list.txt", "one.example\ntwo.example\n")

    async def served():
        return await status("two.example") == 200

    await wait_for(served)
    replace_file(
        tmp_path / "more.yaml",
        config_text("imap.other.example")
        .replace("example.com", "other.example")
        .replace("providers:\n", "providers:\n", 1),
    )

    async def other_served():
        return await status("other.example") == 200

    await wait_for(other_served)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_sighup_under_load_fails_no_request(tmp_path):
    """A real server process, a real signal, real files; requests never stop meanwhile."""
    path = tmp_path / "providers.yaml"
    path.write_text(config_text("imap-old.example.com"))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autoconfig",
            "serve",
            "--config",
            str(path),
            "--port",
            str(port),
            "--no-watch",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def load() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline and len(results) < 20000:
            status, body = _get(f"{base}/mail/config-v1.1.xml?emailaddress=a%40example.com")
            results.append((status, imap_host(body) if status == 200 else body.decode()))

    def health() -> dict:
        return json.loads(_get(f"{base}/healthz")[1])

    def until(condition, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.02)

    try:
        assert "serving" in process.stdout.readline()
        workers = [threading.Thread(target=load) for _ in range(4)]
        for worker in workers:
            worker.start()
        until(lambda: len(results) > 50)

        replace_file(path, BROKEN)
        process.send_signal(signal.SIGHUP)
        until(lambda: health()["status"] == "degraded")
        assert health()["generation"] == 1
        checked = subprocess.run(
            [sys.executable, "-m", "autoconfig", "check", str(path)],
            capture_output=True,
            timeout=60,
        )
        assert checked.returncode == 1
        count = len(results)
        until(lambda: len(results) > count + 50)

        replace_file(path, config_text("imap-new.example.com"))
        process.send_signal(signal.SIGHUP)
        until(lambda: health()["generation"] == 2)
        assert health()["status"] == "ok"
        count = len(results)
        until(lambda: len(results) > count + 50)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        process.terminate()
        _, stderr = process.communicate(timeout=10)

    assert results, "the load ran"
    assert {status for status, _ in results} == {200}, "no request failed"
    hosts = [host for _, host in results]
    switch = hosts.index("imap-new.example.com")
    assert set(hosts[:switch]) == {"imap-old.example.com"}
    assert set(hosts[switch:]) <= {"imap-old.example.com", "imap-new.example.com"}
    assert hosts[-1] == "imap-new.example.com"
    assert "port: 0 is not a port" in stderr, "the broken edit is logged with its error"


async def test_healthz_lists_a_failed_reload_by_file_and_line(tmp_path, aiohttp_client):
    """The include's error (sub.yaml) is found before the main file's `defaultProvider` (line 1)
    is checked; /healthz prints them as `check` does: the main file first, in line order."""
    path = tmp_path / "providers.yaml"
    path.write_text(config_text("imap.example.com"))
    client = await aiohttp_client(
        create_app(AppOptions(config_path=path, watch=True, poll_interval=0.05))
    )
    (tmp_path / "sub.yaml").write_text(
        config_text("imap.sub.example")
        .replace("example.com", "sub.example")
        .replace("socketType: SSL}", "socketType: SSL, port: 0}", 1)
    )
    replace_file(
        path,
        "defaultProvider: nobody.example\ninclude: sub.yaml\n"
        + BROKEN.replace("socketType: SSL}", "socketType: ssl}", 1),
    )

    async def degraded():
        return (await (await client.get("/healthz")).json())["status"] == "degraded"

    await wait_for(degraded)
    errors = (await (await client.get("/healthz")).json())["last_reload_error"]["errors"]
    assert [error.split(": ", 2)[:2] for error in errors] == [
        [f"{path}:1", "defaultProvider"],
        [f"{path}:8", "providers[0].incoming[0].port"],
        [f"{path}:10", "providers[0].outgoing[0].socketType"],
        [f"{tmp_path / 'sub.yaml'}:6", "providers[0].incoming[0].port"],
    ]
