"""Every option of `autoconfig serve`, declared once: flag, environment variable, type, default,
help, and the field of the app's or the server's options it sets.

argparse, the environment defaults (AUTOCONFIG_<NAME>), the `AppOptions` and `ServerOptions`
objects, gunicorn's configuration and the README's option table (checked by a test) all come
from `SERVE_OPTIONS`, so an option cannot be added to one and forgotten in another.
"""

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from .server import ServerOptions
from .web.app import AppOptions
from .web.observe import AddressLogging, LogFormat, ObserveSettings

ENV_PREFIX = "AUTOCONFIG_"
TRUE_WORDS = ("1", "true", "yes", "on")
"""What an environment variable of a switch may say to turn it on."""


class Kind(Enum):
    VALUE = "value"
    LIST = "list"
    """Repeatable; the environment variable holds a comma-separated list."""
    SWITCH_OFF = "switch-off"
    """`--no-...`: present (or its variable true) turns the feature off."""
    HIDDEN = "hidden"
    """A switch for internal use (the workers' `--reuse-port`), not shown or documented."""


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Option:
    """One option: how it is given, and which field(s) it sets (`app.x`, `server.x`,
    `observe.x`)."""

    flag: str
    help: str
    into: tuple[str, ...]
    default: str | None = None
    """As an environment variable would give it; None: unset."""
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    kind: Kind = Kind.VALUE
    convert: Callable[[Any], Any] = _same
    """From the parsed value to the field's (an enum, a tuple, bytes)."""

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.flag.removeprefix("--").upper().replace("-", "_")

    @property
    def dest(self) -> str:
        name = self.flag.removeprefix("--no-" if self.kind is Kind.SWITCH_OFF else "--")
        return name.replace("-", "_")

    @property
    def shown_default(self) -> str:
        """The default as the README's table shows it."""
        if self.kind is Kind.SWITCH_OFF:
            return "off"
        return self.default if self.default is not None else "—"

    def environment_default(self, environ: Mapping[str, str]) -> Any:
        """The default argparse starts from: the environment's value, else the declared one.

        Docker links and Kubernetes service links set AUTOCONFIG_PORT=tcp://10.0.0.1:80 for a
        service named autoconfig; such values are not ours and are ignored.
        """
        value = environ.get(self.variable)
        if value is not None and value.startswith(("tcp://", "udp://")):
            value = None
        if self.kind is Kind.SWITCH_OFF:
            return (value or "").strip().lower() not in TRUE_WORDS
        if self.kind is Kind.LIST:
            return [item.strip() for item in (value or "").split(",") if item.strip()]
        if self.kind is Kind.HIDDEN:
            return False
        return value if value is not None else self.default

    def add_to(self, parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
        default = self.environment_default(environ)
        if self.kind is Kind.SWITCH_OFF:
            parser.add_argument(
                self.flag, dest=self.dest, action="store_false", default=default, help=self.help
            )
        elif self.kind is Kind.HIDDEN:
            parser.add_argument(self.flag, action="store_true", help=argparse.SUPPRESS)
        else:
            extra: dict[str, Any] = {"action": "append"} if self.kind is Kind.LIST else {}
            if self.type is not None:
                extra["type"] = self.type
            if self.metavar is not None:
                extra["metavar"] = self.metavar
            if self.choices is not None:
                extra["choices"] = list(self.choices)
            parser.add_argument(self.flag, default=default, help=self.help, **extra)


def _encode(text: str | None) -> bytes:
    return (text or "").encode("utf-8")


CONFIG = Option(
    "--config",
    "providers file (default: providers.yaml in the current folder)",
    ("app.config_path",),
    default="providers.yaml",
    type=Path,
    metavar="PATH",
)
"""Every command takes it, not only `serve`."""

SERVE_OPTIONS = (
    Option("--host", "address to listen on", ("server.host",), default="127.0.0.1"),
    Option("--port", "port to listen on", ("server.port",), default="8080", type=int),
    Option(
        "--workers",
        "processes sharing the port (SO_REUSEPORT); each loads the config itself",
        ("server.workers",),
        default="1",
        type=int,
    ),
    Option("--reuse-port", "", ("server.reuse_port",), kind=Kind.HIDDEN),
    Option(
        "--tls-cert",
        "certificate chain: serve HTTPS (TLS 1.2+); reloaded with the config",
        ("server.tls_cert",),
        type=Path,
        metavar="PEM",
    ),
    Option(
        "--tls-key",
        "private key of --tls-cert (if not in the same file)",
        ("server.tls_key",),
        type=Path,
        metavar="PEM",
    ),
    Option(
        "--http-port",
        "also listen on plain HTTP: Thunderbird's legacy URL, the rest redirected to https",
        ("server.http_port",),
        type=int,
        metavar="PORT",
    ),
    Option(
        "--metrics-port",
        "serve /metrics on this port only (default: on the main port)",
        ("server.metrics_port",),
        type=int,
        metavar="PORT",
    ),
    Option(
        "--public-url",
        "https base URL clients reach this server at (default: https:// + Host header)",
        ("app.public_url",),
        metavar="URL",
    ),
    Option(
        "--trusted-proxy",
        "a reverse proxy whose X-Forwarded-For/-Proto/-Host are believed (repeatable)",
        ("app.trusted_proxies",),
        metavar="CIDR",
        kind=Kind.LIST,
        convert=tuple,
    ),
    Option(
        "--access-log",
        "access log on standard error: json lines, common log format, or off (default)",
        ("observe.log_format",),
        default="off",
        choices=tuple(kind.value for kind in LogFormat),
        convert=LogFormat,
    ),
    Option(
        "--log-addresses",
        "what access logs show of an address: its domain (default), a keyed hash, or all",
        ("observe.log_addresses",),
        default="domain",
        choices=tuple(mode.value for mode in AddressLogging),
        convert=AddressLogging,
    ),
    Option(
        "--log-hash-key",
        "key of --log-addresses hash (default: random per process)",
        ("observe.hash_key",),
        metavar="SECRET",
        convert=_encode,
    ),
    Option(
        "--rate-limit",
        "requests a second per client IP before 429 (default 0: no limit)",
        ("app.rate_limit",),
        default="0",
        type=float,
        metavar="PER_SECOND",
    ),
    Option(
        "--rate-burst",
        "requests a client may send at once above the rate (default 20)",
        ("app.rate_burst",),
        default="20",
        type=float,
        metavar="N",
    ),
    Option(
        "--client-timeout",
        "time a client gets to send a request, headers and body (default 15)",
        ("server.client_timeout", "app.body_timeout"),
        default="15",
        type=float,
        metavar="SECONDS",
    ),
    Option(
        "--shutdown-timeout",
        "time in-flight requests get after SIGTERM (default 10)",
        ("server.shutdown_timeout",),
        default="10",
        type=float,
        metavar="SECONDS",
    ),
    Option(
        "--drain-delay",
        "after SIGTERM, answer /readyz 503 this long before closing (default 0)",
        ("server.drain_delay",),
        default="0",
        type=float,
        metavar="SECONDS",
    ),
    Option(
        "--profile-cert",
        "certificate chain to sign Apple profiles",
        ("app.profile_cert",),
        type=Path,
        metavar="PEM",
    ),
    Option(
        "--profile-key",
        "private key of --profile-cert",
        ("app.profile_key",),
        type=Path,
        metavar="PEM",
    ),
    Option(
        "--no-settings-page",
        "do not serve the settings page for people (/ and /settings answer 404)",
        ("app.settings_page",),
        kind=Kind.SWITCH_OFF,
    ),
    Option(
        "--no-watch",
        "do not reload when a loaded file changes (SIGHUP still reloads)",
        ("app.watch",),
        kind=Kind.SWITCH_OFF,
    ),
    Option(
        "--poll-interval",
        "how often loaded files are checked for changes (default 1)",
        ("app.poll_interval",),
        default="1.0",
        type=float,
        metavar="SECONDS",
    ),
)

SERVE_DESCRIPTION = (
    "Every option can also be set by an environment variable AUTOCONFIG_<NAME> "
    "(upper case, dashes as underscores; lists comma-separated; flags as 1/true/yes)."
)


def add_serve_options(
    parser: argparse.ArgumentParser, environ: Mapping[str, str] = os.environ
) -> None:
    for option in SERVE_OPTIONS:
        option.add_to(parser, environ)


def _fields(namespace: argparse.Namespace, group: str) -> dict[str, Any]:
    """The fields of `group` (app, server, observe) the parsed options set."""
    values = {}
    for option in (CONFIG, *SERVE_OPTIONS):
        for target in option.into:
            where, _, name = target.partition(".")
            if where == group:
                values[name] = option.convert(getattr(namespace, option.dest))
    return values


def options_of(
    namespace: argparse.Namespace, *, reload_on_sighup: bool = True
) -> tuple[AppOptions, ServerOptions]:
    """The app's and the server's options from parsed `serve` arguments."""
    server = ServerOptions(**_fields(namespace, "server"))
    app = AppOptions(
        **_fields(namespace, "app"),
        observe=ObserveSettings(**_fields(namespace, "observe")),
        reload_on_sighup=reload_on_sighup,
        metrics_on_main_port=server.metrics_port is None,
    )
    return app, server


def app_options_from_env(environ: Mapping[str, str] = os.environ) -> AppOptions:
    """The app's options from AUTOCONFIG_* variables alone, for hosts that own the processes
    and their signals (gunicorn): files are still watched, SIGHUP is theirs."""
    parser = argparse.ArgumentParser(add_help=False)
    CONFIG.add_to(parser, environ)
    add_serve_options(parser, environ)
    app, _ = options_of(parser.parse_args([]), reload_on_sighup=False)
    return app
