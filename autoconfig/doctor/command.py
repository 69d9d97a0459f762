"""`autoconfig doctor`: the command line around `run.diagnose`.

Kept beside the checks so that cli.py only registers it. Exit status is the report's (0 ok,
1 warnings, 2 failures), and anything that stops the doctor before it can probe (a broken
providers.yaml, an unusable target) is a failure too, so monitoring never mistakes it for health.
"""

import argparse
import asyncio
import ssl
import sys
from pathlib import Path

from ..address import AddressError
from ..catalog import Catalog
from ..config.diagnostics import ConfigInvalid
from ..config.loader import load_config
from .context import Options
from .report import ProgressLine, render_json, render_text
from .resolve import Nameserver
from .run import Target, diagnose, parse_targets
from .tls import client_context

FAILURE = 2


def _nameserver(text: str) -> Nameserver:
    try:
        return Nameserver.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def register(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]", common: argparse.ArgumentParser
) -> None:
    """Add `doctor` to the CLI's subcommands."""
    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="check that a domain's DNS, HTTPS endpoints and mail servers work as announced",
    )
    doctor.add_argument(
        "targets", nargs="*", metavar="DOMAIN|ADDRESS", help="domains or addresses to check"
    )
    doctor.add_argument(
        "--provider", metavar="ID", help="check every exact domain of this provider as well"
    )
    doctor.add_argument("--json", action="store_true", help="print a JSON report for monitoring")
    doctor.add_argument(
        "--nameserver",
        action="append",
        type=_nameserver,
        default=[],
        metavar="IP[:PORT]",
        help="ask this nameserver for every lookup (repeatable; default: the system's)",
    )
    doctor.add_argument(
        "--ca-file", type=Path, metavar="PEM", help="trust these CAs instead of the system's"
    )
    doctor.add_argument(
        "--https-port",
        type=_port,
        default=443,
        metavar="PORT",
        help="port of the autoconfig/autodiscover names (default 443; for staging)",
    )
    doctor.add_argument(
        "--timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="limit for each network step (default 5)",
    )
    doctor.add_argument(
        "--concurrency",
        type=_positive_int,
        default=16,
        metavar="N",
        help="probes at the same time (default 16)",
    )
    doctor.set_defaults(handler=cmd_doctor)


def _targets(args: argparse.Namespace, catalog: Catalog) -> list[Target] | None:
    try:
        targets = parse_targets(args.targets)
    except AddressError as exc:
        print(f"autoconfig doctor: {exc}", file=sys.stderr)
        return None
    if args.provider:
        entry = next((e for e in catalog.entries if e.provider.id == args.provider.lower()), None)
        if entry is None:
            print(f"autoconfig doctor: no provider has the id {args.provider!r}", file=sys.stderr)
            return None
        known = {t.domain for t in targets}
        targets.extend(
            Target.parse(domain)
            for domain in entry.provider.all_exact_domains
            if domain not in known
        )
    if not targets:
        print("autoconfig doctor: name a domain, an address or --provider ID", file=sys.stderr)
        return None
    return targets


def cmd_doctor(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigInvalid as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        return FAILURE
    if args.ca_file is not None:
        try:
            client_context(args.ca_file)
        except (OSError, ssl.SSLError) as exc:
            print(f"autoconfig doctor: --ca-file {args.ca_file}: {exc}", file=sys.stderr)
            return FAILURE
    catalog = Catalog.from_config(config)
    targets = _targets(args, catalog)
    if targets is None:
        return FAILURE
    options = Options(
        nameservers=tuple(args.nameserver),
        ca_file=args.ca_file,
        https_port=args.https_port,
        timeout=args.timeout,
        concurrency=args.concurrency,
    )
    progress = ProgressLine(sys.stderr)
    try:
        report = asyncio.run(diagnose(catalog, targets, options, progress))
    finally:
        progress.clear()
    sys.stdout.write(render_json(report) if args.json else render_text(report))
    return report.exit_code
