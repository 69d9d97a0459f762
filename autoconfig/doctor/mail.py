"""Connect to every announced mail server the way a client configured from our answer would.

For each server: the host resolves and the port answers; SSL servers complete a verified TLS
handshake first, STARTTLS servers greet in clear text, offer STARTTLS, offer no clear-text
password login before it and upgrade with a verified certificate; then the authentication the
answer announces is among the mechanisms offered. When a port speaks the other kind of TLS (SSL
announced on a STARTTLS port or the reverse) the probe says so, because that is the most common
mistake in hand-written settings. No login is attempted and no mail is sent.
"""

import asyncio
import contextlib
import ssl

from ..model import SocketType
from .context import Context
from .findings import Finding, failed, lookup_failed, passed, warned
from .protocols import (
    DIALECTS,
    MAX_LINE_BYTES,
    Capabilities,
    Conversation,
    Dialect,
    NoAnswer,
    ProtocolError,
    describe_connect_error,
    recognise,
)
from .resolve import ResolveError
from .rules import (
    MailTarget,
    judge_auth,
    judge_cleartext,
    judge_port,
    other_port,
    usual_ports,
)
from .tls import (
    Handshake,
    HandshakeTimeout,
    answered_in_tls,
    describe_tls_error,
    insecure_context,
    judge_handshake,
)


async def _connect(context: Context, target: MailTarget) -> tuple[Conversation, str]:
    """TCP to the first address of the host that answers; (conversation, address:port)."""
    addresses = await context.lookup.addresses(target.host)
    error: BaseException | None = None
    for address in addresses:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address, target.server.port, limit=MAX_LINE_BYTES),
                context.options.timeout,
            )
        except (OSError, TimeoutError) as exc:
            error = exc
            continue
        shown = f"[{address}]" if ":" in address else address
        talk = Conversation(reader, writer, context.options.timeout)
        return talk, f"{shown}:{target.server.port}"
    raise error if error else OSError("no address")


async def _first_line(context: Context, target: MailTarget, tls: bool) -> str | None:
    """The first line the port sends with (or without) TLS, to explain a socket type mismatch."""
    try:
        talk, _ = await _connect(context, target)
    except (OSError, TimeoutError, ResolveError):
        return None
    try:
        if tls:
            try:
                await talk.start_tls(insecure_context(), target.host)
            except (OSError, HandshakeTimeout):
                return None
        try:
            return await talk.line()
        except (ProtocolError, OSError):
            return "" if tls else None
    finally:
        await talk.close()


async def _diagnose_plaintext_port(
    context: Context, target: MailTarget, exc: ssl.SSLError
) -> Finding:
    """SSL was announced and the handshake failed: does the port speak clear text instead?"""
    error, fix = describe_tls_error(exc)
    if answered_in_tls(exc):
        return failed("mail.tls", target.subject, error, fix)
    line = await _first_line(context, target, tls=False)
    if line is not None and recognise(line):
        return failed(
            "mail.tls",
            target.subject,
            f"port {target.server.port} answers in clear text ({line[:80]!r}), not with TLS: "
            "it is a STARTTLS or plain port",
            f"announce socketType: STARTTLS for this port, or "
            f"{other_port(target.server, SocketType.SSL)} with SSL",
        )
    return failed("mail.tls", target.subject, error, fix)


async def _diagnose_silent_port(context: Context, target: MailTarget, error: str) -> Finding:
    """No clear-text greeting: does the port wait for a TLS handshake (implicit TLS) instead?"""
    line = await _first_line(context, target, tls=True)
    if line is not None:
        return failed(
            "mail.greeting",
            target.subject,
            f"{error}; port {target.server.port} answers a TLS handshake: it is an implicit-TLS "
            "port",
            f"announce socketType: SSL for this port, or "
            f"{other_port(target.server, target.server.socket_type)} with "
            f"{target.server.socket_type}",
        )
    return failed("mail.greeting", target.subject, error, "check that the server is running")


class _Stop(Exception):
    """A finding ended the probe: later steps cannot say anything useful."""


class _Probe:
    """One conversation with one server, collecting findings as it goes."""

    def __init__(self, context: Context, target: MailTarget) -> None:
        self.context = context
        self.target = target
        self.findings: list[Finding] = []
        self.conversing = False
        """Whether the conversation is in a state where LOGOUT / QUIT can still be said."""

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    def stop(self, finding: Finding) -> _Stop:
        self.add(finding)
        return _Stop()

    async def connect(self) -> Conversation:
        target = self.target
        try:
            talk, where = await _connect(self.context, target)
        except ResolveError as exc:
            if not exc.missing:
                raise self.stop(lookup_failed("mail.connect", target.subject, exc)) from exc
            raise self.stop(
                failed(
                    "mail.connect",
                    target.subject,
                    str(exc),
                    f"publish A/AAAA records for {target.host}, or correct the hostname in "
                    "providers.yaml",
                )
            ) from exc
        except (OSError, TimeoutError) as exc:
            reason = describe_connect_error(exc, self.context.options.timeout)
            raise self.stop(
                failed(
                    "mail.connect",
                    target.subject,
                    f"cannot connect: {reason}",
                    f"check the port in providers.yaml ({usual_ports(target.server)}), that "
                    "the server listens on it and that no firewall blocks it",
                )
            ) from exc
        self.add(passed("mail.connect", target.subject, f"connected to {where}"))
        if target.server.socket_type is SocketType.SSL:
            await self.handshake(talk)
        return talk

    async def handshake(self, talk: Conversation) -> None:
        """Implicit TLS: the verified handshake comes before anything is said."""
        try:
            handshake = await talk.start_tls(self.context.tls, self.target.host)
        except (ssl.SSLError, ssl.CertificateError, HandshakeTimeout, OSError) as exc:
            await talk.close()
            raise self.stop(await self.tls_failure(exc)) from exc
        self.add(self.judge_tls(handshake))

    async def tls_failure(self, exc: BaseException) -> Finding:
        target = self.target
        if isinstance(exc, ssl.SSLCertVerificationError | ssl.CertificateError | HandshakeTimeout):
            detail, fix = describe_tls_error(exc)
            return failed("mail.tls", target.subject, detail, fix)
        if isinstance(exc, ssl.SSLError):
            return await _diagnose_plaintext_port(self.context, target, exc)
        reason = describe_connect_error(exc, self.context.options.timeout)
        return failed(
            "mail.tls",
            target.subject,
            f"the connection broke off during the TLS handshake: {reason}",
            "look at the server's log for this connection",
        )

    def judge_tls(self, handshake: Handshake) -> Finding:
        return judge_handshake("mail.tls", self.target.subject, self.target.host, handshake)

    async def greet(self, dialect: Dialect) -> None:
        target = self.target
        try:
            greeting = await dialect.greet()
        except NoAnswer as exc:
            if target.server.socket_type is SocketType.SSL:
                raise self.stop(
                    failed(
                        "mail.greeting",
                        target.subject,
                        f"no greeting after the TLS handshake: {exc}",
                        "look at the server's log: it accepts TLS but does not answer",
                    )
                ) from exc
            raise self.stop(
                await _diagnose_silent_port(self.context, target, f"no greeting: {exc}")
            ) from exc
        except ProtocolError as exc:
            spoken = recognise(exc.line) if exc.line else None
            why = f"; this port speaks {spoken.upper()}" if spoken else ""
            raise self.stop(
                failed(
                    "mail.greeting",
                    target.subject,
                    f"{exc}{why}",
                    f"check the port in providers.yaml ({usual_ports(target.server)})",
                )
            ) from exc
        self.conversing = True
        self.add(passed("mail.greeting", target.subject, f"{dialect.name}: {greeting[:100]}"))

    async def upgrade(self, talk: Conversation, dialect: Dialect, before: Capabilities) -> None:
        target = self.target
        self.add(judge_cleartext(target, before))
        if not before.starttls:
            raise self.stop(
                failed(
                    "mail.starttls",
                    target.subject,
                    f"{dialect.starttls_command} is not offered (capabilities: "
                    f"{before.listed[:160] or 'none'})",
                    "enable TLS on the server (Dovecot: ssl = yes; Postfix: smtpd_tls_security_"
                    "level = encrypt on submission), or announce the implicit-TLS port with SSL",
                )
            )
        try:
            await dialect.starttls()
            self.conversing = False
            handshake = await talk.start_tls(self.context.tls, target.host)
            self.conversing = True
        except (ssl.SSLCertVerificationError, ssl.CertificateError) as exc:
            detail, fix = describe_tls_error(exc)
            raise self.stop(
                failed("mail.tls", target.subject, f"after STARTTLS: {detail}", fix)
            ) from exc
        except HandshakeTimeout as exc:
            detail, fix = describe_tls_error(exc)
            raise self.stop(
                failed("mail.tls", target.subject, f"after STARTTLS: {detail}", fix)
            ) from exc
        except (ProtocolError, ssl.SSLError, OSError, TimeoutError) as exc:
            raise self.stop(
                failed(
                    "mail.starttls",
                    target.subject,
                    f"{dialect.starttls_command} failed: {exc}",
                    "check the server's TLS configuration",
                )
            ) from exc
        self.add(passed("mail.starttls", target.subject, f"{dialect.starttls_command} works"))
        self.add(self.judge_tls(handshake))

    def judge_plain(self, capabilities: Capabilities) -> None:
        target = self.target
        offers = " (the server offers STARTTLS)" if capabilities.starttls else ""
        fix = f"announce socketType: STARTTLS{offers}, or SSL on its implicit-TLS port"
        if target.server.sends_credentials:
            raise self.stop(
                failed(
                    "mail.encryption",
                    target.subject,
                    "socketType plain: passwords and mail cross the network in clear text",
                    fix,
                )
            )
        self.add(
            warned(
                "mail.encryption",
                target.subject,
                "socketType plain: mail crosses the network in clear text",
                fix,
            )
        )

    async def run(self) -> None:
        talk = await self.connect()
        dialect = DIALECTS[self.target.server.type](talk)
        try:
            await self.greet(dialect)
            capabilities = await dialect.capabilities()
            socket_type = self.target.server.socket_type
            if socket_type is SocketType.STARTTLS:
                await self.upgrade(talk, dialect, capabilities)
                capabilities = await dialect.capabilities()
            elif socket_type is SocketType.PLAIN:
                self.judge_plain(capabilities)
            self.add(judge_auth(self.target, capabilities))
        except _Stop:
            if self.conversing:
                await dialect.goodbye()
            raise
        except (ProtocolError, OSError, ssl.SSLError) as exc:
            self.add(
                failed(
                    "mail.protocol",
                    self.target.subject,
                    f"the conversation broke off: {exc}",
                    "look at the server's log for this connection",
                )
            )
        else:
            await dialect.goodbye()
        finally:
            await talk.close()


async def check_server(context: Context, target: MailTarget) -> list[Finding]:
    """Every mail finding for one announced server, in conversation order."""
    probe = _Probe(context, target)
    advice = judge_port(target)
    if advice is not None:
        probe.add(advice)
    with contextlib.suppress(_Stop):
        await probe.run()
    return probe.findings
