"""The validated, immutable description of mail providers.

Everything the formats render comes from these classes, and nothing here knows about YAML,
HTTP or XML: the loader builds them, the catalog indexes them, the formats read them. The
names follow the Thunderbird ISPDB vocabulary that mail admins already know.
"""

from dataclasses import dataclass
from enum import StrEnum


class SocketType(StrEnum):
    """How a client protects the connection (ISPDB `socketType`, in Thunderbird's spelling)."""

    SSL = "SSL"
    STARTTLS = "STARTTLS"
    PLAIN = "plain"


class IncomingType(StrEnum):
    IMAP = "imap"
    POP3 = "pop3"


class Authentication(StrEnum):
    """ISPDB authentication methods, in Thunderbird's spelling."""

    PASSWORD_CLEARTEXT = "password-cleartext"
    PASSWORD_ENCRYPTED = "password-encrypted"
    OAUTH2 = "OAuth2"
    NTLM = "NTLM"
    GSSAPI = "GSSAPI"
    TLS_CLIENT_CERT = "TLS-client-cert"
    NONE = "none"
    CLIENT_IP_ADDRESS = "client-IP-address"
    SMTP_AFTER_POP = "smtp-after-pop"


PASSWORD_METHODS = frozenset({Authentication.PASSWORD_CLEARTEXT, Authentication.PASSWORD_ENCRYPTED})
"""Methods every client can fall back to; Thunderbird ignores OAuth2 for hosts it does not know."""

NO_AUTH_METHODS = frozenset(
    {Authentication.NONE, Authentication.CLIENT_IP_ADDRESS, Authentication.SMTP_AFTER_POP}
)
"""Methods that mean "the client sends no credentials"; valid for outgoing servers only."""


@dataclass(frozen=True, slots=True)
class Server:
    """One server a client may use, in the provider's order of preference.

    `hostname` and `username` are templates: they may hold %EMAILADDRESS%, %EMAILLOCALPART% and
    %EMAILDOMAIN% (hostnames only the latter two), filled per address by the formats that must.
    """

    type: str
    hostname: str
    port: int
    socket_type: SocketType
    authentication: tuple[Authentication, ...]
    username: str

    @property
    def sends_credentials(self) -> bool:
        return not all(method in NO_AUTH_METHODS for method in self.authentication)


@dataclass(frozen=True, slots=True)
class Documentation:
    """A help page of the provider, with its titles: (language code or None, title)."""

    url: str
    descriptions: tuple[tuple[str | None, str], ...]


@dataclass(frozen=True, slots=True)
class OAuth2Settings:
    """How a public client gets tokens from the provider (the ISPDB / draft `oAuth2` block).

    Thunderbird uses its built-in list instead, but other clients and the IETF draft read it.
    """

    issuer: str
    scope: str
    auth_url: str
    token_url: str
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class WebService:
    """A URL-based service (CalDAV, CardDAV, JMAP, ActiveSync, EWS) and its login name template."""

    url: str
    username: str = "%EMAILADDRESS%"


SERVICE_KINDS = ("caldav", "carddav", "jmap", "activeSync", "ews")
"""The URL services a provider may declare, named as the IETF autoconfig draft's types."""


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send Autodiscover clients elsewhere instead of answering with settings.

    `url` is an https URL (answered with HTTP 302); `address` is a template for the address the
    client should ask about instead (answered as Autodiscover `redirectAddr`).
    """

    url: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Domain:
    """One domain name a provider serves: exact (`example.org`) or wildcard (`*.example.org`).

    `name` is lower-case ASCII (IDNA A-labels); for a wildcard it is the part after `*.`.
    """

    name: str
    wildcard: bool = False
    redirect: Redirect | None = None
    listed: bool = True
    """Named in answers that list domains; domains read from a domain-list file are not."""

    def __str__(self) -> str:
        return f"*.{self.name}" if self.wildcard else self.name


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    display_name: str
    short_name: str
    domains: tuple[Domain, ...]
    incoming: tuple[Server, ...]
    outgoing: tuple[Server, ...]
    documentation: tuple[Documentation, ...] = ()
    webmail: str | None = None
    redirect: Redirect | None = None
    oauth2: OAuth2Settings | None = None
    services: tuple[tuple[str, WebService], ...] = ()
    """(kind, service) for each of SERVICE_KINDS the provider declares, in that order."""

    def service(self, kind: str) -> WebService | None:
        return next((service for name, service in self.services if name == kind), None)

    @property
    def exact_domains(self) -> tuple[str, ...]:
        """The exact domains that answers list (not those of a domain-list file)."""
        return tuple(d.name for d in self.domains if not d.wildcard and d.listed)

    @property
    def all_exact_domains(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.domains if not d.wildcard)

    @property
    def hosts_need_local_part(self) -> bool:
        """Whether a host name can only be written knowing the user's local part."""
        return any("%EMAILLOCALPART%" in s.hostname for s in (*self.incoming, *self.outgoing))

    @property
    def has_settings(self) -> bool:
        """Whether clients can be given servers (a redirect-only provider has none)."""
        return bool(self.incoming) and bool(self.outgoing)
