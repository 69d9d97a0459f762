"""The `autoconfig` command: serve, check and render.

Configuration flows from here into create_app; nothing is read from globals. Every command takes
`--config PATH` (default `providers.yaml` in the current folder).
"""

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from .address import AddressError, parse_address
from .catalog import Catalog
from .errors import ConfigInvalid
from .loader import load_providers
from .web import Settings, create_app

DEFAULT_CONFIG = Path("providers.yaml")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop where it is installed (not on Windows), else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


async def _serve(settings: Settings, catalog: Catalog) -> None:
    runner = web.AppRunner(create_app(settings, catalog), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(
        f"autoconfig: serving {settings.config_path} "
        f"({len(catalog.entries)} providers, {catalog.domain_count} domains) "
        f"on http://{host}:{settings.port}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _load(path: Path) -> Catalog | None:
    try:
        return Catalog(load_providers(path))
    except ConfigInvalid as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace) -> int:
    catalog = _load(args.config)
    if catalog is None:
        return 1
    settings = Settings(config_path=args.config, host=args.host, port=args.port)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(_serve(settings, catalog))
        except OSError as exc:
            print(f"autoconfig: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    path = args.path or args.config
    catalog = _load(path)
    if catalog is None:
        return 1
    print(f"{path}: OK, {len(catalog.entries)} providers, {catalog.domain_count} domains")
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
    if args.format == "thunderbird":
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
        default=DEFAULT_CONFIG,
        metavar="PATH",
        help="providers file (default: providers.yaml in the current folder)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="answer clients over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.set_defaults(handler=cmd_serve)

    check = commands.add_parser("check", parents=[common], help="validate a providers file")
    check.add_argument("path", nargs="?", type=Path, help="file to check (default: --config)")
    check.set_defaults(handler=cmd_check)

    render = commands.add_parser(
        "render", parents=[common], help="print the body the server would send for an address"
    )
    render.add_argument("format", choices=("thunderbird", "outlook"))
    render.add_argument("email", help="the e-mail address a client asks about")
    render.set_defaults(handler=cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.handler(args))
