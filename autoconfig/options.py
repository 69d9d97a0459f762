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
TRUE_WORDS = ("1", "true", "yes")
FALSE_WORDS = ("0", "false", "no", "")
"""What an environment variable of a switch may say (in any letter case); anything else is
refused rather than guessed, so that a typo never silently leaves a switch as it was."""


class EnvironmentValueError(ValueError):
    """An AUTOCONFIG_* variable holds a value its option cannot take; the message says which."""


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
            word = (value or "").strip().lower()
            if word not in TRUE_WORDS + FALSE_WORDS:
                raise EnvironmentValueError(
                    f"{self.variable}: {value!r} is not a switch value (1/0, true/false, yes/no)"
                )
            return word not in TRUE_WORDS
        if self.kind is Kind.LIST:
            return [item.strip() for item in (value or "").split(",") if item.strip()]
        if self.kind is Kind.HIDDEN:
            return False
        if value is None:
            return self.default
        self._check(value)
        return value

    def _check(self, value: str) -> None:
        """Refuse an environment value the way argparse refuses the flag's, naming the
        variable (argparse would name the flag, which the admin never typed)."""
        if self.choices is not None and value not in self.choices:
            raise EnvironmentValueError(
                f"{self.variable}: {value!r} is not one of {', '.join(self.choices)}"
            )
        if self.type is None:
            return
        try:
            self.type(value)
        except argparse.ArgumentTypeError as exc:
            raise EnvironmentValueError(f"{self.variable}: {exc}") from None
        except ValueError:
            kind = {int: "a whole number", float: "a number"}.get(self.type, "valid")  # type: ignore[call-overload]
            raise EnvironmentValueError(f"{self.variable}: {value!r} is not {kind}") from None

    def add_to(
        self, parser: argparse.ArgumentParser, environ: Mapping[str, str], *, inherit: bool = False
    ) -> None:
        """Add the option to `parser`; with `inherit`, a value only when given there (a
        command's copy of an option the main parser takes too, before the command name)."""
        default = argparse.SUPPRESS if inherit else self.environment_default(environ)
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


def port(text: str) -> int:
    """A TCP port to listen on: 0 (the system picks one, and the start-up lines say which) to
    65535; anything else would be wrapped around by the system into another port."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port (0-65535)")
    return number


def key_file(text: str) -> bytes:
    """The key a file holds (its first line, without the line end): secrets given on the
    command line show in every `ps`, and environment variables leak into child processes."""
    try:
        content = Path(text).read_bytes()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot be read: {exc.strerror}") from None
    key = content.splitlines()[0].strip() if content.strip() else b""
    if not key:
        raise argparse.ArgumentTypeError(f"{text}: holds no key")
    return key


LOG_LEVELS = ("debug", "info", "warning", "error")


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
    Option("--port", "port to listen on", ("server.port",), default="8080", type=port),
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
        type=port,
        metavar="PORT",
    ),
    Option(
        "--metrics-port",
        "serve /metrics on this port only (default: on the main port)",
        ("server.metrics_port",),
        type=port,
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
        "--log-hash-key-file",
        "file holding that key, kept out of the process list (wins over --log-hash-key)",
        ("observe.hash_key",),
        type=key_file,
        metavar="PATH",
        convert=_same,
    ),
    Option(
        "--log-level",
        "least severe application log messages written to standard error (default info)",
        ("server.log_level",),
        default="info",
        choices=LOG_LEVELS,
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
            value = option.convert(getattr(namespace, option.dest))
            if where == group and (name not in values or value):
                values[name] = value  # a later option for the same field wins when given
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
