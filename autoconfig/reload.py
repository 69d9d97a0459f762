"""Hot reload: a new catalog on SIGHUP or when a loaded file changes, the last good one kept.

A reload reads and renders in a worker thread, then swaps one reference on the event loop, so
requests in flight finish on the catalog they started with and none waits for the rebuild. A
broken edit leaves the previous catalog serving and is reported (log and /healthz) until a later
edit fixes it.
"""

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .catalog import Catalog
from .config.diagnostics import RELOAD_FAILED, ConfigInvalid, Diagnostic
from .config.loader import Config, load_config

log = logging.getLogger("autoconfig.reload")

FileState = tuple[int, int, int] | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class ReloadFailure:
    at: float
    errors: tuple[Diagnostic, ...]


class SourceError(Exception):
    """A source other than providers.yaml cannot be reloaded; the message (one line, no
    traceback) names its files and what is wrong with them."""


@dataclass(frozen=True, slots=True)
class SourceFailure:
    at: float
    message: str


@dataclass(frozen=True, slots=True)
class Source:
    """Something reloaded along with providers.yaml (the TLS certificate and key): its name in
    /healthz and the metrics, the files whose change reloads it, and `reload`, which raises
    SourceError and leaves the previous setting in use when the new files are unusable."""

    name: str
    files: tuple[Path, ...]
    reload: Callable[[], None]


@dataclass
class ConfigState:
    """What the server serves now, and how the last reload went. Swapped, never edited in place.

    Handlers read `catalog` once per request; only the reloader assigns the fields.
    """

    catalog: Catalog
    path: Path
    files: tuple[Path, ...] = ()
    generation: int = 1
    loaded_at: float = field(default_factory=time.time)
    last_failure: ReloadFailure | None = None
    source_errors: dict[str, SourceFailure] = field(default_factory=dict)
    """The sources whose last reload failed (they serve their previous setting)."""

    def health(self) -> dict[str, object]:
        """The /healthz document: serving is always true; `degraded` means the last edit of
        providers.yaml, or of another source (the TLS files), could not be used."""
        failure = self.last_failure
        return {
            "status": "degraded" if failure or self.source_errors else "ok",
            "version": __version__,
            "config": str(self.path),
            "generation": self.generation,
            "loaded_at": _iso(self.loaded_at),
            "providers": len(self.catalog.entries),
            "domains": self.catalog.domain_count,
            "last_reload_error": None
            if failure is None
            else {"at": _iso(failure.at), "errors": [str(error) for error in failure.errors]},
            "source_errors": {
                name: {"at": _iso(error.at), "error": error.message}
                for name, error in sorted(self.source_errors.items())
            },
        }


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _file_state(path: Path) -> FileState:
    """What tells a changed file (or directory of includes) from an unchanged one."""
    try:
        if path.is_dir():
            return tuple(sorted(child.name for child in path.iterdir()))
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def snapshot(files: tuple[Path, ...]) -> dict[Path, FileState]:
    return {path: _file_state(path) for path in files}


def build(path: Path) -> tuple[Config, Catalog]:
    """Load and render a configuration: the slow part, run off the event loop.

    A worker thread still shares the GIL, and a full garbage collection over a big catalog holds
    it for a long time: so the collector is paused while the catalog is built, and the result is
    frozen (gc.freeze) so that later collections do not walk it again. The catalog holds no
    reference cycles, so reference counting alone frees it once it is replaced.
    """
    gc.disable()
    try:
        config = load_config(path)
        catalog = Catalog.from_config(config)
    finally:
        gc.enable()
    gc.freeze()
    return config, catalog


def _dismantle(box: list[Catalog]) -> None:
    """Free a replaced catalog in small steps, so no single step holds the GIL for long.

    The catalog comes in a box so that this thread, not the event loop, drops the last reference.
    """
    catalog = box.pop()
    catalog.release(batch=2000)
    del catalog


class Reloader:
    """Serialises reloads: a request during a reload makes one more run after it."""

    def __init__(
        self,
        state: ConfigState,
        *,
        poll_interval: float = 1.0,
        debounce: float = 0.3,
        builder: Callable[[Path], tuple[Config, Catalog]] = build,
    ) -> None:
        self.state = state
        self.poll_interval = poll_interval
        self.debounce = debounce
        self.builder = builder
        self._wanted = asyncio.Event()
        self._seen = snapshot(state.files)
        self.idle = asyncio.Event()
        self.idle.set()
        self.succeeded = 0
        self.failed = 0
        self.sources: list[Source] = []
        """Reloaded before providers.yaml on every reload, their files watched with it."""
        self._reason = "started"

    def add_source(self, source: Source) -> None:
        self.sources.append(source)
        self._seen |= snapshot(source.files)

    def request(self, reason: str) -> None:
        self._reason = reason
        self.idle.clear()
        self._wanted.set()

    def _watched(self) -> tuple[Path, ...]:
        return (*self.state.files, *(path for source in self.sources for path in source.files))

    def _reload_sources(self) -> None:
        """Each source's new files, or its previous setting and the reason in /healthz."""
        for source in self.sources:
            try:
                source.reload()
            except SourceError as exc:
                message = str(exc)
            except Exception as exc:  # a bug must not stop the reload of the others
                message = f"reload failed unexpectedly: {exc!r}"
            else:
                if self.state.source_errors.pop(source.name, None) is not None:
                    log.info("%s: reloaded, in use again", source.name)
                continue
            self.state.source_errors[source.name] = SourceFailure(time.time(), message)
            log.error("%s: %s; the previous one stays in use", source.name, message)

    async def reload_once(self) -> bool:
        """Rebuild now; True when the new catalog is serving."""
        self._reload_sources()
        path = self.state.path
        before = snapshot(self._watched())
        try:
            config, catalog = await asyncio.to_thread(self.builder, path)
        except ConfigInvalid as exc:
            self.failed += 1
            self.state.last_failure = ReloadFailure(time.time(), tuple(exc.errors))
            if exc.files:
                self.state.files = tuple(dict.fromkeys((*self.state.files, *exc.files)))
            self._seen = before | snapshot(tuple(exc.files))
            for error in exc.errors:
                log.error(
                    "reload failed (%s), still serving generation %d: %s",
                    self._reason,
                    self.state.generation,
                    error,
                )
            return False
        except Exception as exc:  # a bug must not stop the server serving its last good catalog
            self.failed += 1
            message = f"reload failed unexpectedly: {exc!r}"
            error = Diagnostic(str(path), None, "", RELOAD_FAILED, message)
            self.state.last_failure = ReloadFailure(time.time(), (error,))
            log.error("%s, still serving generation %d", message, self.state.generation)
            log.debug("the failed reload's traceback", exc_info=True)
            return False
        self.succeeded += 1
        state = self.state
        replaced = [state.catalog]
        state.catalog = catalog
        state.files = config.files
        state.generation += 1
        state.loaded_at = time.time()
        state.last_failure = None
        self._seen = before | snapshot(tuple(p for p in config.files if p not in before))
        log.info(
            "reloaded %s (%s): generation %d, %d providers, %d domains",
            path,
            self._reason,
            state.generation,
            len(catalog.entries),
            catalog.domain_count,
        )
        del catalog, config
        await asyncio.to_thread(_dismantle, replaced)
        return True

    async def _run_requests(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await self.reload_once()
            if not self._wanted.is_set():
                self.idle.set()

    async def _watch(self) -> None:
        """Poll the loaded files; a change that has settled for `debounce` seconds reloads."""
        while True:
            await asyncio.sleep(self.poll_interval)
            current = await asyncio.to_thread(snapshot, self._watched())
            if current == self._seen:
                continue
            while True:
                await asyncio.sleep(self.debounce)
                settled = await asyncio.to_thread(snapshot, self._watched())
                if settled == current:
                    break
                current = settled
            self._seen = current
            self.request("a loaded file changed")

    @contextlib.asynccontextmanager
    async def running(self, *, watch: bool, sighup: bool) -> AsyncIterator["Reloader"]:
        loop = asyncio.get_running_loop()
        self._seen = snapshot(self._watched())
        tasks = [asyncio.create_task(self._run_requests())]
        if watch:
            tasks.append(asyncio.create_task(self._watch()))
        handler_installed = False
        if sighup:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, self.request, "SIGHUP")
                handler_installed = True
        try:
            yield self
        finally:
            if handler_installed:
                loop.remove_signal_handler(signal.SIGHUP)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
