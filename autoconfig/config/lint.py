"""Warnings about providers.yaml: valid, but probably not what the admin wants users to get.

Errors stop a file from loading (loader.py); warnings do not, unless `check --strict` is asked
for. Each warning has a stable code (registered in diagnostics.CODES with the error codes), so CI
pipelines can allow or forbid them one by one.
"""

import ipaddress
from collections.abc import Iterator

from ..address import EMAILADDRESS, EMAILDOMAIN, EMAILLOCALPART
from ..model import PASSWORD_METHODS, Authentication, Provider, Server, SocketType
from .diagnostics import Diagnostic, Severity, in_file_order
from .loader import Config, EmptyInclude

_IMPLICIT_TLS_PORTS = {993, 995, 465}
_STARTTLS_PORTS = {143, 110, 587, 25}
_LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".internal", ".home.arpa")


def _is_local(hostname: str) -> bool:
    try:
        address = ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return hostname == "localhost" or hostname.endswith(_LOCAL_SUFFIXES)
    return address.is_loopback or address.is_private or address.is_link_local


def _server_findings(server: Server, direction: str) -> Iterator[tuple[str, str, str]]:
    """(subpath, code, message) for one server."""
    if server.socket_type is SocketType.PLAIN and not _is_local(server.hostname):
        yield (
            ".socketType",
            "AC101",
            f"{server.hostname} is reached without TLS: passwords cross the internet in "
            "clear (use SSL, or STARTTLS)",
        )
    if server.socket_type is not SocketType.SSL and server.port in _IMPLICIT_TLS_PORTS:
        yield (
            ".port",
            "AC102",
            f"port {server.port} is for implicit TLS (socketType SSL), not "
            f"{server.socket_type.value}",
        )
    if server.socket_type is SocketType.SSL and server.port in _STARTTLS_PORTS:
        yield (
            ".port",
            "AC102",
            f"port {server.port} speaks plaintext first (socketType STARTTLS), not SSL",
        )
    if direction == "outgoing" and server.port == 25:
        yield (
            ".port",
            "AC103",
            "port 25 is for relaying between servers and often blocked for users; RFC 8314 "
            "prefers 465 (SSL), then 587 (STARTTLS)",
        )
    methods = server.authentication
    if Authentication.OAUTH2 in methods:
        after = methods[methods.index(Authentication.OAUTH2) + 1 :]
        if not PASSWORD_METHODS & set(after):
            yield (
                ".authentication",
                "AC105",
                "OAuth2 has no password method after it: Thunderbird uses OAuth2 only for "
                "hosts on its built-in list and drops this server otherwise",
            )


def _expects_full_address(provider: Provider) -> bool:
    """A bare local part is ambiguous when one server serves several domains."""
    return len(provider.domains) > 1 or any(d.wildcard for d in provider.domains)


def _login_is_full_address(template: str) -> bool:
    return EMAILADDRESS in template or (EMAILLOCALPART in template and EMAILDOMAIN in template)


def _provider_findings(provider: Provider) -> Iterator[tuple[str, str, str]]:
    for direction, servers in (("incoming", provider.incoming), ("outgoing", provider.outgoing)):
        for index, server in enumerate(servers):
            prefix = f".{direction}[{index}]"
            for subpath, code, message in _server_findings(server, direction):
                yield prefix + subpath, code, message
            if (
                server.sends_credentials
                and not _login_is_full_address(server.username)
                and _expects_full_address(provider)
            ):
                yield (
                    f"{prefix}.username",
                    "AC106",
                    f"login name {server.username!r} does not name the domain, but this "
                    f"provider serves several domains: the server probably expects "
                    f"{EMAILADDRESS}",
                )
    if provider.incoming and all(server.type == "pop3" for server in provider.incoming):
        yield (
            ".incoming",
            "AC104",
            "only POP3 is offered: Delta Chat and several Autodiscover readers ignore POP3, "
            "and mail read on one device is gone from the others",
        )


def _shadowed_wildcards(config: Config) -> Iterator[Diagnostic]:
    wildcards: dict[str, tuple[int, int]] = {}
    for index, provider in enumerate(config.providers):
        for position, domain in enumerate(provider.domains):
            if domain.wildcard:
                wildcards.setdefault(domain.name, (index, position))
    if not wildcards:
        return
    for index, provider in enumerate(config.providers):
        for domain in provider.domains:
            if domain.wildcard:
                continue
            rest = domain.name
            while "." in rest:
                rest = rest.split(".", 1)[1]
                owner = wildcards.get(rest)
                if owner is None or owner[0] == index:
                    continue
                file, line, path = config.locate(owner[0], f".domains[{owner[1]}]")
                other = config.origins[index]
                yield Diagnostic(
                    file,
                    line,
                    path,
                    "AC107",
                    f"*.{rest} does not answer for {domain.name}: {other.path} "
                    f"({provider.id}, {other.file}:{other.line}) lists it exactly and wins",
                    Severity.WARNING,
                )


def _empty_include(empty: EmptyInclude) -> Diagnostic:
    """A pattern or directory that includes nothing: a typo, or files not copied yet."""
    found = "holds no *.yaml or *.yml file" if empty.directory else "matches no file"
    message = f"{empty.target!r} {found}: nothing is included from it"
    return Diagnostic(empty.file, empty.line, empty.path, "AC109", message, Severity.WARNING)


def lint(config: Config) -> list[Diagnostic]:
    """Every warning for a loaded configuration, by file (in reading order) and line."""
    warnings: list[Diagnostic] = [_empty_include(empty) for empty in config.empty_includes]
    for index, provider in enumerate(config.providers):
        for subpath, code, message in _provider_findings(provider):
            file, line, path = config.locate(index, subpath)
            warnings.append(Diagnostic(file, line, path, code, message, Severity.WARNING))
    warnings.extend(_shadowed_wildcards(config))
    if config.default_provider is not None:
        index = next(i for i, p in enumerate(config.providers) if p.id == config.default_provider)
        main = str(config.files[0]) if config.files else config.origins[index].file
        warnings.append(
            Diagnostic(
                main,
                config.lines.get((main, "defaultProvider")),
                "defaultProvider",
                "AC108",
                f"every domain listed nowhere gets the settings of {config.default_provider}: "
                "any address, any typo, any domain pointed at this server",
                Severity.WARNING,
            )
        )
    return in_file_order(warnings, config.files)
