"""The `autoconfig` command: serve, check and render.

Configuration flows from here into create_app; nothing is read from globals. Every command takes
`--config PATH` (default `providers.yaml` in the current folder).
"""

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import ispdb
from .address import AddressError, normalize_domain, parse_address
from .catalog import Catalog
from .config import spec
from .config.diagnostics import ConfigInvalid
from .config.lint import lint
from .config.loader import Config, load_config
from .doctor import command as doctor_command
from .formats import zone
from .formats.mobileconfig import ProfileUnavailable
from .formats.profile_signing import SigningSetupError
from .server import ServerOptions, TLSSetupError, run_workers, serve
from .web.app import Settings
from .web.observe import AddressLogging, LogFormat, ObserveSettings, quiet_bad_requests
from .web.proxies import parse_networks

DEFAULT_CONFIG = Path("providers.yaml")
ENV_PREFIX = "AUTOCONFIG_"


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop where it is installed (not on Windows), else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _load_config(path: Path) -> Config | None:
    try:
        return load_config(path)
    except ConfigInvalid as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return None


def _load(path: Path) -> Catalog | None:
    config = _load_config(path)
    return Catalog.from_config(config) if config is not None else None


def _settings(args: argparse.Namespace) -> tuple[Settings, ServerOptions]:
    observe = ObserveSettings(
        log_format=LogFormat(args.access_log),
        log_addresses=AddressLogging(args.log_addresses),
        hash_key=(args.log_hash_key or "").encode("utf-8"),
    )
    settings = Settings(
        config_path=args.config,
        host=args.host,
        port=args.port,
        watch=args.watch,
        reload_on_sighup=True,
        poll_interval=args.poll_interval,
        public_url=args.public_url,
        profile_cert=args.profile_cert,
        profile_key=args.profile_key,
        settings_page=args.settings_page,
        trusted_proxies=tuple(args.trusted_proxy),
        observe=observe,
        rate_limit=args.rate_limit,
        rate_burst=args.rate_burst,
        body_timeout=args.client_timeout,
        metrics_on_main_port=args.metrics_port is None,
    )
    options = ServerOptions(
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
        client_timeout=args.client_timeout,
        shutdown_timeout=args.shutdown_timeout,
        drain_delay=args.drain_delay,
        reuse_port=args.reuse_port,
    )
    return settings, options


def cmd_serve(args: argparse.Namespace) -> int:
    """Check everything that can fail before listening, then serve (or start the workers)."""
    config = _load_config(args.config)
    if config is None:
        return 1
    try:
        parse_networks(args.trusted_proxy)
    except ValueError as exc:
        print(f"autoconfig: --trusted-proxy: {exc}", file=sys.stderr)
        return 2
    if args.public_url and not args.public_url.startswith("https://"):
        print("autoconfig: --public-url must start with https://", file=sys.stderr)
        return 2
    if args.workers > 1:
        del config
        return run_workers(args.workers, sys.argv[1:])
    logging.basicConfig(level=logging.INFO, format="autoconfig: %(levelname)s %(message)s")
    logging.getLogger("aiohttp.server").addFilter(quiet_bad_requests)
    settings, options = _settings(args)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(_serve(settings, config, options))
        except SigningSetupError as exc:
            print(f"autoconfig: profile signing: {exc}", file=sys.stderr)
            return 1
        except TLSSetupError as exc:
            print(f"autoconfig: TLS: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"autoconfig: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
    return 0


async def _serve(settings: Settings, config: Config, options: ServerOptions) -> None:
    await serve(settings, config, options)


def cmd_check(args: argparse.Namespace) -> int:
    """Errors exit 1; warnings exit 0, or 1 with --strict; --format json for pipelines."""
    path = args.path or args.config
    try:
        config = load_config(path)
    except ConfigInvalid as exc:
        if args.format == "json":
            errors = [error.as_dict() for error in exc.errors]
            print(json.dumps({"valid": False, "errors": errors, "warnings": []}, indent=2))
        else:
            for error in exc.errors:
                print(error, file=sys.stderr)
        return 1
    warnings = lint(config)
    providers = len(config.providers)
    domains = sum(len(provider.domains) for provider in config.providers)
    failed = bool(warnings) and args.strict
    if args.format == "json":
        report = {
            "valid": True,
            "providers": providers,
            "domains": domains,
            "errors": [],
            "warnings": [warning.as_dict() for warning in warnings],
            "strict": args.strict,
        }
        print(json.dumps(report, indent=2))
        return 1 if failed else 0
    for warning in warnings:
        print(warning, file=sys.stderr)
    plural = "" if len(warnings) == 1 else "s"
    note = f", {len(warnings)} warning{plural}" if warnings else ""
    print(f"{path}: OK, {providers} providers, {domains} domains{note}")
    return 1 if failed else 0


def cmd_dns(args: argparse.Namespace) -> int:
    """Zone-file lines a domain needs so that every kind of client finds this server."""
    catalog = _load(args.config)
    if catalog is None:
        return 1
    try:
        domain = normalize_domain(args.domain.rpartition("@")[2])
        target = normalize_domain(args.target) if args.target else None
    except AddressError as exc:
        print(f"autoconfig: {exc}", file=sys.stderr)
        return 2
    if target is not None and _is_ip_address(target):
        print(
            "autoconfig: --target must be a host name (a CNAME cannot point at an address)",
            file=sys.stderr,
        )
        return 2
    match = catalog.lookup(domain)
    if match is None:
        print(f"autoconfig: no provider serves {domain}", file=sys.stderr)
        return 1
    sys.stdout.write(zone.render_zone(match.provider, match.domain, target, args.ttl))
    return 0


def _ttl(text: str) -> int:
    """A DNS TTL: a whole number of seconds from 0 to 2**31 - 1 (RFC 2181)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"{value} is not a TTL (0 to 2147483647 seconds)")
    return value


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def cmd_import_ispdb(args: argparse.Namespace) -> int:
    """ISPDB files in, providers.yaml out; what cannot be carried over is reported per file."""
    result = ispdb.import_files(args.paths)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for skipped in result.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
    if not result.imported:
        print("autoconfig: nothing could be imported; nothing written", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(result.yaml_text)
    else:
        args.output.write_text(result.yaml_text, encoding="utf-8")
    print(
        f"imported {len(result.imported)} providers, skipped {len(result.skipped)} files, "
        f"{len(result.notes)} notes" + (f" -> {args.output}" if args.output else ""),
        file=sys.stderr,
    )
    return 0


def cmd_export_ispdb(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    if config is None:
        return 1
    for loss in ispdb.export_losses(config.providers):
        print(f"note: {loss}", file=sys.stderr)
    written = ispdb.export_providers(config.providers, args.output)
    print(f"wrote {len(written)} files to {args.output}", file=sys.stderr)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(spec.json_schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    catalog = _load(args.config)
    if catalog is None:
        return 1
    try:
        address = parse_address(args.email)
    except AddressError as exc:
        print(f"autoconfig: {args.email!r}: {exc}", file=sys.stderr)
        return 2
    match = catalog.lookup(address.ascii_domain)
    if match is None:
        print(f"autoconfig: no provider serves {address.ascii_domain}", file=sys.stderr)
        return 1
    if args.format == "apple":
        try:
            body = match.entry.mobileconfig.fill(address)
        except ProfileUnavailable as exc:
            print(f"autoconfig: {exc}", file=sys.stderr)
            return 1
    elif args.format == "thunderbird":
        if not match.provider.has_settings:
            print(f"autoconfig: {match.provider.id} only redirects", file=sys.stderr)
            return 1
        body = match.entry.thunderbird.fill(match.domain)
    elif match.redirect is not None:
        print(
            f"autoconfig: {address.ascii_domain} is redirected: {match.redirect}", file=sys.stderr
        )
        return 1
    else:
        body = match.entry.outlook.fill(address)
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return 0


def _env(name: str, default: str | None = None) -> str | None:
    """An option's default from AUTOCONFIG_<NAME>; argparse converts it like typed input.

    Docker links and Kubernetes service links set AUTOCONFIG_PORT=tcp://10.0.0.1:80 for a
    service named autoconfig; such values are not ours and are ignored.
    """
    value = os.environ.get(f"{ENV_PREFIX}{name}")
    if value is None or value.startswith(("tcp://", "udp://")):
        return default
    return value


def _env_flag(name: str) -> bool:
    return (_env(name) or "").strip().lower() in ("1", "true", "yes", "on")


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in (_env(name) or "").split(",") if item.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoconfig",
        description="Mail client autoconfiguration server (Thunderbird autoconfig, Outlook "
        "Autodiscover) answering from providers.yaml.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=_env("CONFIG", str(DEFAULT_CONFIG)),
        metavar="PATH",
        help="providers file (default: providers.yaml in the current folder)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="answer clients over HTTP(S)",
        description="Every option can also be set by an environment variable AUTOCONFIG_<NAME> "
        "(upper case, dashes as underscores; lists comma-separated; flags as 1/true/yes).",
    )
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to listen on")
    serve.add_argument("--port", type=int, default=_env("PORT", "8080"), help="port to listen on")
    serve.add_argument(
        "--workers",
        type=int,
        default=_env("WORKERS", "1"),
        help="processes sharing the port (SO_REUSEPORT); each loads the config itself",
    )
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument(
        "--tls-cert",
        type=Path,
        default=_env("TLS_CERT"),
        metavar="PEM",
        help="certificate chain: serve HTTPS (TLS 1.2+); reloaded with the config",
    )
    serve.add_argument(
        "--tls-key",
        type=Path,
        default=_env("TLS_KEY"),
        metavar="PEM",
        help="private key of --tls-cert (if not in the same file)",
    )
    serve.add_argument(
        "--http-port",
        type=int,
        default=_env("HTTP_PORT"),
        metavar="PORT",
        help="also listen on plain HTTP: Thunderbird's legacy URL, the rest redirected to https",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        default=_env("METRICS_PORT"),
        metavar="PORT",
        help="serve /metrics on this port only (default: on the main port)",
    )
    serve.add_argument(
        "--public-url",
        default=_env("PUBLIC_URL"),
        metavar="URL",
        help="https base URL clients reach this server at (default: https:// + Host header)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=_env_list("TRUSTED_PROXY"),
        metavar="CIDR",
        help="a reverse proxy whose X-Forwarded-For/-Proto/-Host are believed (repeatable)",
    )
    serve.add_argument(
        "--access-log",
        choices=[f.value for f in LogFormat],
        default=_env("ACCESS_LOG", "off"),
        help="access log on standard error: json lines, common log format, or off (default)",
    )
    serve.add_argument(
        "--log-addresses",
        choices=[m.value for m in AddressLogging],
        default=_env("LOG_ADDRESSES", "domain"),
        help="what access logs show of an address: its domain (default), a keyed hash, or all",
    )
    serve.add_argument(
        "--log-hash-key",
        default=_env("LOG_HASH_KEY"),
        metavar="SECRET",
        help="key of --log-addresses hash (default: random per process)",
    )
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=_env("RATE_LIMIT", "0"),
        metavar="PER_SECOND",
        help="requests a second per client IP before 429 (default 0: no limit)",
    )
    serve.add_argument(
        "--rate-burst",
        type=float,
        default=_env("RATE_BURST", "20"),
        metavar="N",
        help="requests a client may send at once above the rate (default 20)",
    )
    serve.add_argument(
        "--client-timeout",
        type=float,
        default=_env("CLIENT_TIMEOUT", "15"),
        metavar="SECONDS",
        help="time a client gets to send a request, headers and body (default 15)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=float,
        default=_env("SHUTDOWN_TIMEOUT", "10"),
        metavar="SECONDS",
        help="time in-flight requests get after SIGTERM (default 10)",
    )
    serve.add_argument(
        "--drain-delay",
        type=float,
        default=_env("DRAIN_DELAY", "0"),
        metavar="SECONDS",
        help="after SIGTERM, answer /readyz 503 this long before closing (default 0)",
    )
    serve.add_argument(
        "--profile-cert",
        type=Path,
        default=_env("PROFILE_CERT"),
        metavar="PEM",
        help="certificate chain to sign Apple profiles",
    )
    serve.add_argument(
        "--profile-key",
        type=Path,
        default=_env("PROFILE_KEY"),
        metavar="PEM",
        help="private key of --profile-cert",
    )
    serve.add_argument(
        "--no-settings-page",
        dest="settings_page",
        action="store_false",
        default=not _env_flag("NO_SETTINGS_PAGE"),
        help="do not serve the settings page for people (/ and /settings answer 404)",
    )
    serve.add_argument(
        "--no-watch",
        dest="watch",
        action="store_false",
        default=not _env_flag("NO_WATCH"),
        help="do not reload when a loaded file changes (SIGHUP still reloads)",
    )
    serve.add_argument(
        "--poll-interval",
        type=float,
        default=_env("POLL_INTERVAL", "1.0"),
        metavar="SECONDS",
        help="how often loaded files are checked for changes (default 1)",
    )
    serve.set_defaults(handler=cmd_serve)

    check = commands.add_parser(
        "check", parents=[common], help="validate a providers file and warn about risky settings"
    )
    check.add_argument("path", nargs="?", type=Path, help="file to check (default: --config)")
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    check.set_defaults(handler=cmd_check)

    schema = commands.add_parser(
        "schema", help="print the JSON Schema (draft 2020-12) of providers.yaml, for editors"
    )
    schema.set_defaults(handler=cmd_schema)

    importer = commands.add_parser(
        "import-ispdb", help="convert Thunderbird ISPDB files to providers.yaml"
    )
    importer.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    importer.add_argument(
        "-o", "--output", type=Path, help="write providers.yaml here (default: standard output)"
    )
    importer.set_defaults(handler=cmd_import_ispdb)

    exporter = commands.add_parser(
        "export-ispdb", parents=[common], help="write one ISPDB file <id>.xml per provider"
    )
    exporter.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    exporter.set_defaults(handler=cmd_export_ispdb)

    zone = commands.add_parser(
        "dns", parents=[common], help="print the DNS records a domain needs, in zone-file syntax"
    )
    zone.add_argument("domain", help="a served domain (or an address at it)")
    zone.add_argument("--target", help="host name of this server, for the CNAME records")
    zone.add_argument(
        "--ttl",
        type=_ttl,
        default=3600,
        metavar="SECONDS",
        help="time to live of the records (default 3600)",
    )
    zone.set_defaults(handler=cmd_dns)

    render = commands.add_parser(
        "render", parents=[common], help="print the body the server would send for an address"
    )
    render.add_argument("format", choices=("thunderbird", "outlook", "apple"))
    render.add_argument("email", help="the e-mail address a client asks about")
    render.set_defaults(handler=cmd_render)

    doctor_command.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args))
