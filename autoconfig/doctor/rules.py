"""What an announced mail server must offer, judged from what it said (no I/O here).

Kept apart from the conversation in mail.py so each rule can be read, and tested, on its own:
the submission port, no clear-text password before TLS, the announced authentication among the
offered mechanisms.
"""

from collections.abc import Callable
from dataclasses import dataclass

from ..config.spec import DEFAULT_PORTS
from ..model import Authentication, Server, SocketType
from .findings import Finding, failed, passed, warned
from .protocols import Capabilities

STANDARD_PORTS = {
    key: port for key, port in DEFAULT_PORTS.items() if key[1] is not SocketType.PLAIN
}
"""The ports clients expect for each protocol and TLS mode (the loader's defaults)."""

_CLEARTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN"})

_MECHANISMS: dict[Authentication, Callable[[Capabilities], bool]] = {
    Authentication.PASSWORD_CLEARTEXT: lambda c: bool(
        c.mechanisms & _CLEARTEXT_MECHANISMS or c.cleartext_login
    ),
    Authentication.PASSWORD_ENCRYPTED: lambda c: any(
        m == "CRAM-MD5" or m.startswith("SCRAM-") for m in c.mechanisms
    ),
    Authentication.OAUTH2: lambda c: bool(c.mechanisms & {"XOAUTH2", "OAUTHBEARER"}),
    Authentication.NTLM: lambda c: "NTLM" in c.mechanisms,
    Authentication.GSSAPI: lambda c: "GSSAPI" in c.mechanisms,
}
"""Which offered SASL mechanisms (or clear-text login commands) serve an announced method."""

_WANTED = {
    Authentication.PASSWORD_CLEARTEXT: "PLAIN or LOGIN",
    Authentication.PASSWORD_ENCRYPTED: "CRAM-MD5 or SCRAM-*",
    Authentication.OAUTH2: "XOAUTH2 or OAUTHBEARER",
    Authentication.NTLM: "NTLM",
    Authentication.GSSAPI: "GSSAPI",
}

CLEARTEXT_FIX = (
    "offer password logins only after TLS (Dovecot 2.3: disable_plaintext_auth = yes, 2.4: "
    "auth_allow_cleartext = no; Postfix: smtpd_tls_auth_only = yes)"
)


@dataclass(frozen=True, slots=True)
class MailTarget:
    """An announced server with its host name filled in for one domain or address."""

    server: Server
    host: str

    @property
    def subject(self) -> str:
        return f"{self.server.type} {self.host}:{self.server.port} {self.server.socket_type}"

    @property
    def key(self) -> tuple[str, str, int, str, tuple[str, ...]]:
        """Servers announced identically for several domains are probed once."""
        s = self.server
        return (s.type, self.host, s.port, s.socket_type, tuple(s.authentication))


def other_port(server: Server, socket_type: SocketType) -> str:
    port = STANDARD_PORTS.get((server.type, socket_type))
    return f"port {port}" if port else "the right port"


def usual_ports(server: Server) -> str:
    """`imap is usually 993 with SSL or 143 with STARTTLS`, for fixes that name a port."""
    ssl_port = STANDARD_PORTS[server.type, SocketType.SSL]
    starttls_port = STANDARD_PORTS[server.type, SocketType.STARTTLS]
    return f"{server.type} is usually {ssl_port} with SSL or {starttls_port} with STARTTLS"


def judge_port(target: MailTarget) -> Finding | None:
    """Submission belongs on 465 (SSL) or 587 (STARTTLS); port 25 is for server-to-server relay."""
    server = target.server
    if server.type == "smtp" and server.port == 25:
        return warned(
            "mail.port",
            target.subject,
            "port 25 is the relay port: many networks block it for clients, and RFC 8314 wants "
            "submission on 465 (SSL) or 587 (STARTTLS)",
            "announce port 465 with socketType SSL (or 587 with STARTTLS)",
        )
    return None


def judge_cleartext(target: MailTarget, capabilities: Capabilities) -> Finding:
    """Before TLS a server must not offer to take a password in clear text."""
    offered = sorted(capabilities.mechanisms & _CLEARTEXT_MECHANISMS)
    if target.server.type == "pop3" and capabilities.cleartext_login:
        offered.append("USER/PASS")
    if offered:
        return failed(
            "mail.cleartext",
            target.subject,
            f"offers {', '.join(offered)} before TLS: a client, or an attacker who removes "
            "STARTTLS from the answer, sends the password in clear text",
            CLEARTEXT_FIX,
        )
    if target.server.type == "imap" and capabilities.cleartext_login:
        return warned(
            "mail.cleartext",
            target.subject,
            "does not announce LOGINDISABLED before TLS: LOGIN may be accepted in clear text",
            CLEARTEXT_FIX,
        )
    return passed("mail.cleartext", target.subject, "no clear-text password login before TLS")


def judge_auth(target: MailTarget, capabilities: Capabilities) -> Finding:
    """The announced methods, in order, against what the server offers once encrypted.

    Clients use the first announced method they support, so a missing first method fails and a
    missing later one warns. Methods that send no credentials need nothing from the server.
    """
    offered = " ".join(sorted(capabilities.mechanisms)) or "no SASL mechanism"
    if capabilities.cleartext_login and target.server.type != "smtp":
        offered += " (and a clear-text login command)"
    checkable = [m for m in target.server.authentication if m in _MECHANISMS]
    missing = [m for m in checkable if not _MECHANISMS[m](capabilities)]
    announced = ", ".join(target.server.authentication)
    if not checkable:
        return passed("mail.auth", target.subject, f"announced {announced}; offers {offered}")
    if not missing:
        return passed("mail.auth", target.subject, f"offers {offered} for {announced}")
    wants = "; ".join(f"{m} needs {_WANTED[m]}" for m in missing)
    fix = "announce the authentication the server offers, or enable the mechanism on the server"
    status = failed if missing[0] == target.server.authentication[0] else warned
    return status("mail.auth", target.subject, f"offers {offered}: {wants}", fix)
