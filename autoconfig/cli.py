"""The `autoconfig` command: serve, check, render, schema, dns, import-ispdb, export-ispdb and
doctor.

Configuration flows from here into create_app; nothing is read from globals. Every command takes
`--config PATH` (default `providers.yaml` in the current folder); `serve`'s options are declared
in options.py.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import ispdb
from .address import (
    AddressError,
    check_host_local_part,
    is_ip_address,
    normalize_domain,
    parse_address,
)
from .answers import Outcome, outlook_answer
from .catalog import Catalog
from .config import spec
from .config.diagnostics import ConfigInvalid
from .config.lint import lint
from .config.loader import Config, load_config
from .doctor import command as doctor_command
from .formats import zone
from .formats.mobileconfig import ProfileUnavailable
from .formats.profile_signing import SigningSetupError
from .options import CONFIG, SERVE_DESCRIPTION, add_serve_options, options_of
from .server import ServerOptions, TLSSetupError, run_workers, serve
from .web.app import AppOptions
from .web.observe import quiet_bad_requests
from .web.proxies import parse_networks
from .wording import counted


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
    app_options, server_options = options_of(args)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(_serve(app_options, config, server_options))
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


async def _serve(app_options: AppOptions, config: Config, options: ServerOptions) -> None:
    await serve(app_options, config, options)


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
    note = f", {counted(len(warnings), 'warning')}" if warnings else ""
    print(f"{path}: OK, {counted(providers, 'provider')}, {counted(domains, 'domain')}{note}")
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
    if target is not None and is_ip_address(target):
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
    """The body the server sends for an address; what it would not send goes to stderr."""
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
    if args.format == "thunderbird":
        if not match.provider.has_settings:
            print(f"autoconfig: {match.provider.id} only redirects", file=sys.stderr)
            return 1
        body = match.entry.thunderbird.fill(match.domain)
    elif args.format == "apple":
        try:
            check_host_local_part(address, match.entry.hosts_need_local_part)
            body = match.entry.mobileconfig.fill(address)
        except AddressError as exc:
            print(f"autoconfig: {args.email!r}: {exc}", file=sys.stderr)
            return 2
        except ProfileUnavailable as exc:
            print(f"autoconfig: {exc}", file=sys.stderr)
            return 1
    else:
        answer = outlook_answer(match, address)
        if answer.outcome is Outcome.ERROR:
            print(f"autoconfig: {args.email!r}: {answer.detail}", file=sys.stderr)
            return 2
        if answer.outcome is not Outcome.SETTINGS:
            print(
                f"autoconfig: {address.ascii_domain} is redirected: {match.redirect}",
                file=sys.stderr,
            )
            return 1
        body = answer.body
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoconfig",
        description="Mail client autoconfiguration server (Thunderbird autoconfig, Outlook "
        "Autodiscover) answering from providers.yaml.",
    )
    common = argparse.ArgumentParser(add_help=False)
    CONFIG.add_to(common, os.environ)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", parents=[common], help="answer clients over HTTP(S)", description=SERVE_DESCRIPTION
    )
    add_serve_options(serve)
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
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
