"""The `autoconfig` command: serve, check, render, schema, dns, import-ispdb, export-ispdb,
lookup and doctor.

Configuration flows from here into create_app; nothing is read from globals. Every command takes
`--config PATH` (default `providers.yaml` in the current folder); `serve`'s options are declared
in options.py.
"""

import argparse
import asyncio
import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from . import __version__, catalog_summary, ispdb, lookup
from .address import (
    AddressError,
    EmailAddress,
    check_host_local_part,
    is_ip_address,
    normalize_domain,
    parse_address,
)
from .answers import (
    AutodiscoverAnswer,
    Outcome,
    autodiscover_json_answer,
    mobilesync_answer,
    outlook_answer,
    pacc_answer,
)
from .catalog import Catalog, Match
from .config import spec
from .config.diagnostics import ConfigInvalid
from .config.lint import lint
from .config.loader import Config, load_config
from .doctor import command as doctor_command
from .formats import autodiscover_json, zone
from .formats.mobileconfig import ProfileUnavailable
from .formats.profile_signing import SigningSetupError
from .options import (
    CONFIG,
    SERVE_DESCRIPTION,
    EnvironmentValueError,
    add_serve_options,
    options_of,
)
from .server import (
    ListenError,
    ServerOptions,
    TLSSetupError,
    run_workers,
    serve,
    server_option_problems,
)
from .web.app import AppOptions
from .web.host import public_base_url
from .web.observe import configure_logging
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
    app_options, server_options = options_of(args)
    problems = server_option_problems(server_options)
    for problem in problems:
        print(f"autoconfig: {problem}", file=sys.stderr)
    if problems:
        return 2
    configure_logging(server_options.log_level)
    if args.workers > 1:
        del config
        return run_workers(args.workers, sys.argv[1:])
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(_serve(app_options, config, server_options))
        except SigningSetupError as exc:
            print(f"autoconfig: profile signing: {exc}", file=sys.stderr)
            return 1
        except TLSSetupError as exc:
            print(f"autoconfig: TLS: {exc}", file=sys.stderr)
            return 1
        except ListenError as exc:
            print(f"autoconfig: {exc}", file=sys.stderr)
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
    against = _compare_with_server(config, args.against) if args.against else None
    if isinstance(against, str):
        print(f"autoconfig: --against {args.against}: {against}", file=sys.stderr)
        return 2
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
        if against is not None:
            report["against"] = catalog_summary.as_dict(*against)
        print(json.dumps(report, indent=2))
        return 1 if failed else 0
    for warning in warnings:
        print(warning, file=sys.stderr)
    note = f", {counted(len(warnings), 'warning')}" if warnings else ""
    print(f"{path}: OK, {counted(providers, 'provider')}, {counted(domains, 'domain')}{note}")
    if against is not None:
        sys.stdout.write(catalog_summary.text(*against))
    return 1 if failed else 0


_AGAINST_TIMEOUT = 10.0
_MAX_SUMMARY_BYTES = 64 * 1024 * 1024
"""A summary is a few hundred bytes a provider; anything past this is not one."""


def _fetch_summary(base: str) -> bytes | str:
    """The body of the server's /catalog, or why it could not be had."""
    url = base + catalog_summary.PATH
    try:
        with urllib.request.urlopen(url, timeout=_AGAINST_TIMEOUT) as reply:
            body = reply.read(_MAX_SUMMARY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        return (
            f"{url} answered HTTP {exc.code}: give the server's own port (the proxies in "
            f"deploy/ answer {catalog_summary.PATH} with 404 from outside), of an autoconfig "
            "that serves it"
        )
    except urllib.error.URLError as exc:
        return f"cannot reach {base}: {exc.reason}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return f"cannot reach {base}: {exc or type(exc).__name__}"
    if len(body) > _MAX_SUMMARY_BYTES:
        return f"{url} sent more than {_MAX_SUMMARY_BYTES} bytes: not a catalog summary"
    return body


def _compare_with_server(
    config: Config, url: str
) -> tuple[catalog_summary.Changes, str, object] | str:
    """What loading `config` on the server at `url` would change, from its /catalog summary
    and the same summary of the file; or why the server could not tell."""
    base = url.rstrip("/")
    if not base.startswith(("http://", "https://")) or "?" in base or "#" in base:
        return "give the server's base URL, http://HOST:PORT or https://HOST"
    body = _fetch_summary(base)
    if isinstance(body, str):
        return body
    try:
        served = catalog_summary.read_summary(json.loads(body))
    except (ValueError, catalog_summary.NotASummary) as exc:
        return f"{base}{catalog_summary.PATH} is not an autoconfig catalog summary: {exc}"
    local = catalog_summary.summarise(config.providers, config.default_provider)
    return catalog_summary.compare(served, local), base, served.get("generation")


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


def _refuse_output(output: Path, force: bool) -> str | None:
    """Why `import-ispdb -o` must not write there, before any work is done; None when it may."""
    if output.is_dir():
        return f"{output} is a directory; -o names the providers.yaml file to write"
    if output.exists() and not force:
        return f"{output} exists; give --force to replace it"
    if not output.parent.is_dir():
        return f"{output}: the folder {output.parent} does not exist"
    return None


def _write_output(output: Path, text: str, force: bool) -> str | None:
    """Write the file (never over one made meanwhile, without --force); the problem, or None."""
    try:
        with output.open("w" if force else "x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        return f"{output} exists; give --force to replace it"
    except OSError as exc:
        return f"cannot write {output}: {exc.strerror or exc}"
    return None


def cmd_import_ispdb(args: argparse.Namespace) -> int:
    """ISPDB files in, providers.yaml out; what cannot be carried over is reported per file.

    An existing -o file is kept unless --force: it is usually the admin's own providers.yaml.
    """
    if args.output is not None:
        problem = _refuse_output(args.output, args.force)
        if problem is not None:
            print(f"autoconfig: {problem}; nothing written", file=sys.stderr)
            return 1
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
        problem = _write_output(args.output, result.yaml_text, args.force)
        if problem is not None:
            print(f"autoconfig: {problem}; nothing written", file=sys.stderr)
            return 1
    print(
        f"imported {len(result.imported)} providers, skipped {len(result.skipped)} files, "
        f"{len(result.notes)} notes" + (f" -> {args.output}" if args.output else ""),
        file=sys.stderr,
    )
    return 0


def cmd_export_ispdb(args: argparse.Namespace) -> int:
    """One ISPDB file per provider that can have one; the rest is noted, nothing unusable is
    written."""
    if args.output.exists() and not args.output.is_dir():
        print(f"autoconfig: -o {args.output}: exists and is not a directory", file=sys.stderr)
        return 1
    config = _load_config(args.path or args.config)
    if config is None:
        return 1
    for loss in ispdb.export_losses(config.providers):
        print(f"note: {loss}", file=sys.stderr)
    left_out = [p.id for p in config.providers if not ispdb.exportable(p)]
    if len(left_out) == len(config.providers):
        print("autoconfig: no provider has servers; nothing written", file=sys.stderr)
        return 1
    try:
        written = ispdb.export_providers(config.providers, args.output)
    except OSError as exc:
        print(f"autoconfig: cannot write to {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    skipped = f"; left out (no servers): {', '.join(left_out)}" if left_out else ""
    print(f"wrote {len(written)} files to {args.output}{skipped}", file=sys.stderr)
    return 0


def _domain_of(given: str) -> str:
    """The normalised domain of an address or of a bare domain; AddressError when neither."""
    if "@" in given:
        return parse_address(given).ascii_domain
    return normalize_domain(given)


def cmd_lookup(args: argparse.Namespace) -> int:
    """Which provider serves an address or domain, by which rule, and which redirect applies:
    the catalog's own answer (the server's), placed in the files. Exit 1 when none serves it."""
    config = _load_config(args.config)
    if config is None:
        return 1
    try:
        domain = _domain_of(args.query)
    except AddressError as exc:
        print(f"autoconfig: {args.query!r}: {exc}", file=sys.stderr)
        return 2
    found = lookup.find(config, Catalog.from_config(config), domain, args.query)
    if args.format == "json":
        print(json.dumps(lookup.as_dict(found, args.query, domain), indent=2, ensure_ascii=False))
    elif found is not None:
        sys.stdout.write(lookup.text(found))
    else:
        print(f"{args.query}: no provider serves {domain}")
    return 0 if found is not None else 1


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(spec.json_schema(), indent=2, ensure_ascii=False))
    return 0


RENDER_TARGETS = ("thunderbird", "outlook", "apple", "mobilesync", "autodiscover-json", "pacc")
EXIT_REDIRECT = 3
"""`render`'s exit status when the server answers with HTTP 302 and no body."""


class _NotSent(NamedTuple):
    """What `render` says instead of printing a body: a line for stderr and the exit status."""

    status: int
    message: str


def _autodiscover_body(answer: AutodiscoverAnswer, address: str) -> bytes | _NotSent:
    """The document of an Autodiscover answer (settings or redirectAddr), or the 302 it is."""
    if answer.outcome is Outcome.REDIRECT_URL:
        return _NotSent(EXIT_REDIRECT, f"HTTP 302 Location: {answer.detail}")
    if answer.outcome is Outcome.ERROR:
        return _NotSent(2, f"autoconfig: {address!r}: {answer.detail}")
    return answer.body


def _not_served(match: Match) -> _NotSent:
    """The 404 Thunderbird and PACC clients get for a provider without servers."""
    why = (
        f"provider {match.provider.id} has no mail servers (it only redirects Autodiscover clients)"
    )
    return _NotSent(1, f"autoconfig: HTTP 404 for {match.domain}: {why}")


def _render_target(
    args: argparse.Namespace, match: Match, address: EmailAddress
) -> bytes | _NotSent:
    """The body for one target, decided by the functions the web handlers call."""
    entry = match.entry
    if args.format == "thunderbird":
        return entry.thunderbird.fill(match.domain) if entry.has_settings else _not_served(match)
    if args.format == "pacc":
        body = pacc_answer(match)
        return body if body is not None else _not_served(match)
    if args.format == "outlook":
        return _autodiscover_body(outlook_answer(match, address), args.email)
    if args.format == "mobilesync":
        answer = mobilesync_answer(match, address)
        if answer.outcome is Outcome.ERROR:
            return _NotSent(
                1, f"autoconfig: the server answers with an ActiveSync error: {answer.detail}"
            )
        return _autodiscover_body(answer, args.email)
    if args.format == "autodiscover-json":
        return _render_autodiscover_json(args, match, address)
    try:
        check_host_local_part(address, entry.hosts_need_local_part)
        return entry.mobileconfig.fill(address)
    except AddressError as exc:
        return _NotSent(2, f"autoconfig: {args.email!r}: {exc}")
    except ProfileUnavailable as exc:
        return _NotSent(1, f"autoconfig: HTTP 404: {exc}")


def _render_autodiscover_json(
    args: argparse.Namespace, match: Match, address: EmailAddress
) -> bytes | _NotSent:
    """autodiscover.json for `--protocol`; this server's own URL is `--public-url`, else where
    Outlook asks (`https://autodiscover.<domain>`), as the server answers a client there."""
    protocol = args.protocol or autodiscover_json.Protocol.AUTODISCOVER_V1
    answer = autodiscover_json_answer(match, address, protocol)
    if answer.outcome is Outcome.ERROR:
        return _NotSent(1, f"autoconfig: HTTP 404 for {address.domain}: {answer.detail}")
    if answer.outcome is not Outcome.THIS_SERVER:
        return answer.body
    base = args.public_url or autodiscover_json.usual_base_url(address.ascii_domain)
    if base is None:
        return _NotSent(1, f"autoconfig: HTTP 400: autodiscover.{address.ascii_domain} is too long")
    return autodiscover_json.render_autodiscover_v1(autodiscover_json.pox_url(base))


def _render_subject(args: argparse.Namespace) -> EmailAddress | _NotSent:
    """The address a client asks about; for `pacc`, whose clients name only their domain, a
    domain will do (it stands for postmaster@ that domain)."""
    given = args.email
    if args.format == "pacc" and "@" not in given:
        given = f"postmaster@{given}"
    try:
        return parse_address(given)
    except AddressError as exc:
        return _NotSent(2, f"autoconfig: {args.email!r}: {exc}")


def cmd_render(args: argparse.Namespace) -> int:
    """The body the server sends for an address, on stdout (exit 0); anything else, a 302 or an
    answer without the document, is said on stderr, with the exit status the README lists."""
    if args.protocol is not None and args.format != "autodiscover-json":
        print("autoconfig: --protocol is for render autodiscover-json only", file=sys.stderr)
        return 2
    if args.public_url is not None:
        if args.format != "autodiscover-json":
            print("autoconfig: --public-url is for render autodiscover-json only", file=sys.stderr)
            return 2
        if not args.public_url.startswith("https://"):
            print("autoconfig: --public-url must start with https://", file=sys.stderr)
            return 2
        args.public_url = public_base_url(args.public_url, None)
    catalog = _load(args.config)
    if catalog is None:
        return 1
    address = _render_subject(args)
    if isinstance(address, _NotSent):
        print(address.message, file=sys.stderr)
        return address.status
    match = catalog.lookup(address.ascii_domain)
    if match is None:
        print(f"autoconfig: no provider serves {address.ascii_domain}", file=sys.stderr)
        return 1
    body = _render_target(args, match, address)
    if isinstance(body, _NotSent):
        print(body.message, file=sys.stderr)
        return body.status
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    return 0


def _protocol(text: str) -> autodiscover_json.Protocol:
    """An autodiscover.json protocol, in any letter case, as the server reads it."""
    protocol = autodiscover_json.parse_protocol(text)
    if protocol is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a protocol autodiscover.json serves ({autodiscover_json.SUPPORTED})"
        )
    return protocol


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoconfig",
        description="Mail client autoconfiguration server (Thunderbird autoconfig, Outlook "
        "Autodiscover) answering from providers.yaml.",
    )
    parser.add_argument("--version", action="version", version=f"autoconfig {__version__}")
    CONFIG.add_to(parser, os.environ)
    common = argparse.ArgumentParser(add_help=False)
    CONFIG.add_to(common, os.environ, inherit=True)
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
    check.add_argument(
        "--against",
        metavar="URL",
        help="a running server's base URL (http://127.0.0.1:8080): say what loading this file "
        "there would change",
    )
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
    importer.add_argument("--force", action="store_true", help="replace an existing -o file")
    importer.set_defaults(handler=cmd_import_ispdb)

    exporter = commands.add_parser(
        "export-ispdb", parents=[common], help="write one ISPDB file <id>.xml per provider"
    )
    exporter.add_argument(
        "path", nargs="?", type=Path, help="providers file to export (default: --config)"
    )
    exporter.add_argument(
        "-o", "--output", type=Path, required=True, metavar="DIR", help="folder to write into"
    )
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
    render.add_argument(
        "format", choices=RENDER_TARGETS, metavar="{" + ",".join(RENDER_TARGETS) + "}"
    )
    render.add_argument(
        "email",
        metavar="ADDRESS",
        help="the e-mail address a client asks about (pacc: or a domain)",
    )
    render.add_argument(
        "--protocol",
        type=_protocol,
        metavar="{" + ",".join(autodiscover_json.Protocol) + "}",
        help="autodiscover-json: the protocol asked for (default AutodiscoverV1)",
    )
    render.add_argument(
        "--public-url",
        metavar="URL",
        help="autodiscover-json: the server's --public-url (default: https://autodiscover.DOMAIN, "
        "where Outlook asks)",
    )
    render.set_defaults(handler=cmd_render)

    finder = commands.add_parser(
        "lookup",
        parents=[common],
        help="which provider serves an address or domain, by which rule, with which redirect",
    )
    finder.add_argument("query", metavar="ADDRESS_OR_DOMAIN", help="an address or a domain")
    finder.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    finder.set_defaults(handler=cmd_lookup)

    doctor_command.register(commands, common)
    _offer_completion(parser)
    return parser


def _offer_completion(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request, when it makes one (argcomplete's protocol sets
    _ARGCOMPLETE) and the optional argcomplete is installed (`pip install
    'autoconfig[completion]'`); otherwise nothing happens. argcomplete prints the candidates
    and exits the process itself."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except EnvironmentValueError as exc:
        print(f"autoconfig: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        status = int(args.handler(args))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`autoconfig schema | head`): nothing more can be shown, and
        # Python would complain again while flushing at exit, so standard output is closed.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return status
