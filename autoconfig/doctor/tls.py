"""TLS as a mail client or browser sees it: trust, host name, expiry and protocol version.

The doctor verifies exactly like a client does (the system's trust store or `--ca-file`, the
host name as announced, TLS 1.2 at least), because a certificate that only works with
verification off is a certificate that makes clients refuse to connect.
"""

import asyncio
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from .findings import Finding, passed, warned

EXPIRY_WARNING_DAYS = 14
"""Certificates renewed by ACME are replaced 30 days ahead; 14 days left means renewal is broken."""

_VERIFY_FIXES = {
    10: "renew the certificate (is the ACME/certbot renewal running, and was the server reloaded?)",
    9: "the certificate is not valid yet: check the clock of the machine that issued it",
    62: "get a certificate that names this host (subjectAltName), or announce a host it names",
    18: "use a certificate from a CA that clients trust, not a self-signed one",
    19: "use a certificate from a CA that clients trust",
    20: "serve the full chain (certificate plus intermediates), from a CA that clients trust",
    21: "serve the full chain (certificate plus intermediates)",
}
"""OpenSSL verify codes -> what to do about them."""


def client_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """Verification as clients do it; `ca_file` replaces the system trust store (test CAs)."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def insecure_context() -> ssl.SSLContext:
    """Only to tell 'this port speaks TLS' from 'this port speaks clear text' after a failure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a successful, verified handshake showed."""

    version: str
    not_after: float
    """Expiry of the server certificate, seconds since the epoch."""


def handshake_of(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> Handshake:
    if ssl_object is None:
        raise ValueError("the connection is not TLS")
    certificate = ssl_object.getpeercert() or {}
    not_after = certificate.get("notAfter")
    expires = ssl.cert_time_to_seconds(not_after) if isinstance(not_after, str) else 0.0
    return Handshake(version=ssl_object.version() or "unknown", not_after=expires)


def judge_handshake(check: str, subject: str, host: str, handshake: Handshake) -> Finding:
    """pass, or warn when the certificate expires within EXPIRY_WARNING_DAYS."""
    days = (handshake.not_after - time.time()) / 86400
    until = time.strftime("%Y-%m-%d", time.gmtime(handshake.not_after))
    detail = f"{handshake.version}, certificate valid for {host} until {until}"
    if days < EXPIRY_WARNING_DAYS:
        return warned(
            check,
            subject,
            f"{detail}: expires in {max(days, 0):.1f} days",
            _VERIFY_FIXES[10],
        )
    return passed(check, subject, f"{detail} ({days:.0f} days left)")


class HandshakeTimeout(Exception):
    """The port took the connection, but no TLS handshake completed within the timeout.

    Kept apart from a connect timeout because the fix is elsewhere: something listens (a proxy,
    a load balancer, an overloaded or stuck server) but no working TLS server answers behind it.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no TLS handshake within {timeout:g} s")
        self.timeout = timeout


async def start_tls(
    writer: asyncio.StreamWriter, context: ssl.SSLContext, host: str, timeout: float
) -> Handshake:
    """Upgrade a connected stream with a verified handshake, within one step of the timeout.

    Used for implicit TLS (HTTPS, SSL mail ports) and for STARTTLS alike, so a handshake that
    never finishes reads the same everywhere: HandshakeTimeout, not a connect timeout.
    """
    try:
        async with asyncio.timeout(timeout):
            await writer.start_tls(context, server_hostname=host)
    except TimeoutError:
        raise HandshakeTimeout(timeout) from None
    return handshake_of(writer.get_extra_info("ssl_object"))


def answered_in_tls(exc: ssl.SSLError) -> bool:
    """Whether the server sent a TLS alert: it speaks TLS, so it is no clear-text port."""
    reason = str(getattr(exc, "reason", "") or "")
    return reason.startswith(("TLSV1_ALERT", "SSLV3_ALERT", "TLSV13_ALERT"))


def describe_tls_error(exc: BaseException) -> tuple[str, str]:
    """(what went wrong, what to do) for a failed handshake."""
    if isinstance(exc, HandshakeTimeout):
        return (
            f"TLS handshake timeout: the port accepted the connection, but no TLS handshake "
            f"completed within {exc.timeout:g} s",
            "look at the TLS server on this port (or the proxy or load balancer in front of "
            "it): it takes connections but does not answer a TLS handshake",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        message = exc.verify_message or str(exc)
        fix = _VERIFY_FIXES.get(code, "fix the certificate so that clients can verify it")
        return f"certificate rejected: {message}", fix
    text = str(exc)
    reason = getattr(exc, "reason", None)
    if reason in ("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION"):
        return (
            "the server does not speak TLS 1.2 or later",
            "enable TLS 1.2 and 1.3 on the server; older versions are refused by clients",
        )
    return f"TLS handshake failed: {reason or text}", "check the server's TLS configuration"
