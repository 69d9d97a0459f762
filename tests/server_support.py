"""A real `autoconfig serve` process for tests that need sockets, signals and logs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import free_port


class ServerProcess:
    """`autoconfig serve` with its standard error in a file (logs can be read, never block)."""

    def __init__(
        self,
        config: Path,
        *options: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
        log: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.log_path = log or Path(os.environ.get("TMPDIR", "/tmp")) / f"serve-{self.port}.log"
        self._log = self.log_path.open("w")
        command = [
            sys.executable,
            "-m",
            "autoconfig",
            "serve",
            "--config",
            str(config),
            "--port",
            str(self.port),
            *options,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        banner = self.process.stdout.readline() if self.process.stdout else ""
        if "serving" not in banner:
            self.stop()
            raise RuntimeError(f"server did not start: {banner}{self.log()}")
        self.banner = banner

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(condition, timeout: float = 10.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(step)
