"""Apple configuration profiles (`.mobileconfig`) for Mail on iOS, iPadOS, macOS and visionOS.

Apple's clients do no autoconfiguration of their own: a user downloads a profile in Safari and
installs it in Settings. So the profile is made for one address and carries everything a device
needs: one `com.apple.mail.managed` payload, plus `com.apple.caldav.account` and
`com.apple.carddav.account` payloads when the provider declares those services. Keys, types and
allowed values follow Apple's device-management schema (github.com/apple/device-management,
`mdm/profiles`). No password is ever put in a profile; the device asks for it.

Choices a reader may question:

- **Which servers.** A profile holds one incoming and one outgoing server. The first IMAP server
  Apple Mail can sign in to is taken, else the first such POP3 server, and the first such SMTP
  server: with the provider's usual order that is simply its first IMAP and first SMTP server.
- **TLS.** Apple's only switch is `...UseSSL`, which means "use TLS", not "implicit TLS": with it
  set, Apple Mail uses implicit TLS on 993/995/465 and STARTTLS on 143/110/587/25 (observed
  client behaviour; Apple's schema says only "enables SSL"). So it is true for SSL and for
  STARTTLS servers alike, false only for plain ones, and the provider's port is always written.
- **Authentication.** The provider's methods are tried in its order, mapped to Apple's values
  (`password-cleartext` EmailAuthPassword, `password-encrypted` EmailAuthCRAMMD5, `NTLM`
  EmailAuthNTLM, the no-credential methods EmailAuthNone). OAuth2, GSSAPI and client
  certificates have no equivalent in the payload and are skipped; a provider left with nothing
  Apple can use gets no profile (`ProfileUnavailable`) rather than one that cannot sign in.
- **EmailAccountName is left out.** It is the sender name shown in sent messages, which the
  server does not know; the provider's name would sign every message "Example Mail".
- **Identity.** PayloadIdentifier and PayloadUUID are derived from the provider id and the
  normalised address (uuid5 in a namespace of this project), so downloading twice gives the same
  bytes and reinstalling replaces the account instead of adding a second one, while two addresses
  never share an identifier.
- **Determinism.** plistlib's XML form with sorted keys and no dates: the same input gives the same
  bytes, which is also what lets `compile_provider` cut the document into a template.
"""

import hashlib
import plistlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..address import EmailAddress, substitute
from ..model import Authentication, Provider, Server, SocketType, WebService
from .template import Template, slot

CONTENT_TYPE = "application/x-apple-aspen-config"

PROFILE_NAMESPACE = uuid.UUID("1ab76955-6a8d-48c0-97a0-da9c22e55de9")
"""The uuid5 namespace of every UUID this module makes. Never change it: devices would then
treat a re-downloaded profile as a new one and keep both."""

AUTH_NONE = "EmailAuthNone"
_APPLE_AUTH = {
    Authentication.PASSWORD_CLEARTEXT: "EmailAuthPassword",
    Authentication.PASSWORD_ENCRYPTED: "EmailAuthCRAMMD5",
    Authentication.NTLM: "EmailAuthNTLM",
    Authentication.NONE: AUTH_NONE,
    Authentication.CLIENT_IP_ADDRESS: AUTH_NONE,
    Authentication.SMTP_AFTER_POP: AUTH_NONE,
}
"""ISPDB method -> Apple's `...MailServerAuthentication`; methods not listed have no equivalent."""

_ACCOUNT_TYPES = {"imap": "EmailTypeIMAP", "pop3": "EmailTypePOP"}
_DAV_KINDS = (
    ("caldav", "CalDAV", "calendars", "Calendar"),
    ("carddav", "CardDAV", "contacts", "Contacts"),
)
"""(service kind, Apple's key prefix, what the account holds, the app that shows it)."""
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9-]+")
_NOT_FILE_NAME = re.compile(r"[^a-z0-9.-]+")

Field = Callable[[str], str]
"""Gives the text for an address-dependent field key (`address`, `uuid:<part>`,
`host:<template>`, `login:<template>`): the real value, or a template slot."""


class ProfileUnavailable(Exception):
    """No profile can be made for this provider; the message tells the user why."""


@dataclass(frozen=True, slots=True)
class _Choice:
    server: Server
    authentication: str
    """Apple's authentication value for the server."""


def _apple_authentication(server: Server) -> str | None:
    return next(
        (_APPLE_AUTH[method] for method in server.authentication if method in _APPLE_AUTH), None
    )


def _first_usable(servers: tuple[Server, ...], kind: str) -> _Choice | None:
    for server in servers:
        authentication = _apple_authentication(server)
        if server.type == kind and authentication is not None:
            return _Choice(server, authentication)
    return None


def _choose(provider: Provider) -> tuple[_Choice, _Choice]:
    """The incoming and outgoing server of the profile, or why there can be none."""
    if not provider.has_settings:
        raise ProfileUnavailable(f"{provider.display_name} publishes no mail servers here.")
    incoming = _first_usable(provider.incoming, "imap") or _first_usable(provider.incoming, "pop3")
    outgoing = _first_usable(provider.outgoing, "smtp")
    if incoming is None or outgoing is None:
        raise ProfileUnavailable(
            f"{provider.display_name} offers no sign-in method Apple Mail supports for its "
            f"{'incoming' if incoming is None else 'outgoing'} server (Apple profiles can use "
            "passwords, CRAM-MD5 and NTLM, not OAuth2, GSSAPI or client certificates)."
        )
    return incoming, outgoing


def normalized_address(address: EmailAddress) -> str:
    """The address as identities are derived from it: the domain in its lookup form.

    The local part keeps its case: RFC 5321 leaves it to the mailbox's server, so `Alice@` and
    `alice@` may be different accounts.
    """
    return f"{address.local_part}@{address.ascii_domain}"


_NAMESPACE_BYTES = PROFILE_NAMESPACE.bytes


def _uuid_name_prefix(provider_id: str, address: EmailAddress) -> bytes:
    """What the uuid5 names of one profile's parts start with: provider id, then address."""
    return f"{provider_id}\n{normalized_address(address)}\n".encode()


def _uuid5(name: bytes) -> str:
    """`str(uuid.uuid5(PROFILE_NAMESPACE, name)).upper()`, written out (RFC 9562 5.5: SHA-1 of
    namespace and name, version 5, variant 10) so that no UUID object is built per request."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex().upper()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _identifier_prefix(provider_id: str) -> str:
    """Reverse-DNS prefix of the identifiers, from the provider id (`com.example.autoconfig`)."""
    labels = [_NOT_IDENTIFIER.sub("-", label) for label in provider_id.split(".")]
    return ".".join([*reversed(labels), "autoconfig"])


def _value(kind: str, argument: str, address: EmailAddress, uuid_prefix: bytes) -> str:
    """The real text of a field (key `kind:argument`); both render paths end here.

    `uuid_prefix` is the address's `_uuid_name_prefix`, made once per profile.
    """
    if kind == "address":
        return str(address)
    if kind == "uuid":
        return _uuid5(uuid_prefix + argument.encode("utf-8"))
    return substitute(argument, address, for_host=kind == "host")


def _common(provider: Provider, field: Field, part: str, payload_type: str, name: str) -> dict:
    identifier = f"{_identifier_prefix(provider.id)}.{field('uuid:profile')}.{part}"
    return {
        "PayloadDisplayName": name,
        "PayloadIdentifier": identifier,
        "PayloadOrganization": provider.display_name,
        "PayloadType": payload_type,
        "PayloadUUID": field(f"uuid:{part}"),
        "PayloadVersion": 1,
    }


def _mail_payload(provider: Provider, field: Field) -> dict:
    incoming, outgoing = _choose(provider)
    payload = _common(provider, field, "mail", "com.apple.mail.managed", "Mail account")
    payload |= {
        "EmailAccountDescription": provider.display_name,
        "EmailAccountType": _ACCOUNT_TYPES[incoming.server.type],
        "EmailAddress": field("address"),
    }
    for side, choice in (("Incoming", incoming), ("Outgoing", outgoing)):
        server = choice.server
        payload[f"{side}MailServerAuthentication"] = choice.authentication
        payload[f"{side}MailServerHostName"] = field(f"host:{server.hostname}")
        payload[f"{side}MailServerPortNumber"] = server.port
        payload[f"{side}MailServerUseSSL"] = server.socket_type is not SocketType.PLAIN
        if choice.authentication != AUTH_NONE:
            payload[f"{side}MailServerUsername"] = field(f"login:{server.username}")
    if (
        AUTH_NONE not in (incoming.authentication, outgoing.authentication)
        and incoming.server.username == outgoing.server.username
    ):
        payload["OutgoingPasswordSameAsIncomingPassword"] = True
    return payload


def _dav_payload(
    provider: Provider, field: Field, kind: str, prefix: str, things: str, service: WebService
) -> dict | None:
    """A CalDAV or CardDAV account: the URL split into the host, port, path and TLS flag.

    The path goes in as the principal URL (relative, on that host); a bare host is left to the
    device's own discovery (`/.well-known/caldav`). A URL whose port is out of range cannot be
    written, so the account is left out rather than the whole profile refused.
    """
    parts = urlsplit(service.url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None:
        return None
    secure = parts.scheme == "https"
    name = f"{provider.display_name} {things}"
    payload = _common(provider, field, kind, f"com.apple.{kind}.account", name)
    payload |= {
        f"{prefix}AccountDescription": name,
        f"{prefix}HostName": parts.hostname,
        f"{prefix}Port": port if port is not None else (443 if secure else 80),
        f"{prefix}UseSSL": secure,
        f"{prefix}Username": field(f"login:{service.username}"),
    }
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if path not in ("", "/"):
        payload[f"{prefix}PrincipalURL"] = path
    return payload


def _profile(provider: Provider, field: Field) -> bytes:
    content = [_mail_payload(provider, field)]
    apps = ["Mail"]
    for kind, prefix, things, app in _DAV_KINDS:
        service = provider.service(kind)
        payload = (
            None
            if service is None
            else _dav_payload(provider, field, kind, prefix, things, service)
        )
        if payload is not None:
            content.append(payload)
            apps.append(app)
    address = field("address")
    profile = {
        "PayloadContent": content,
        "PayloadDescription": (
            f"Sets up {address} in {_join(apps)} with the servers of {provider.display_name}. "
            "You will be asked for your password."
        ),
        "PayloadDisplayName": f"{provider.display_name}: {address}",
        "PayloadIdentifier": f"{_identifier_prefix(provider.id)}.{field('uuid:profile')}",
        "PayloadOrganization": provider.display_name,
        "PayloadType": "Configuration",
        "PayloadUUID": field("uuid:profile"),
        "PayloadVersion": 1,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def render(provider: Provider, address: EmailAddress) -> bytes:
    """The unsigned profile (XML plist) for one address, built from scratch.

    Raises ProfileUnavailable when the provider has no servers Apple Mail can use.
    """
    uuid_prefix = _uuid_name_prefix(provider.id, address)

    def field(key: str) -> str:
        kind, _, argument = key.partition(":")
        return _value(kind, argument, address, uuid_prefix)

    return _profile(provider, field)


def download_name(provider: Provider) -> str:
    """The file name offered for download: the provider id, safe in any file system."""
    return f"{_NOT_FILE_NAME.sub('-', provider.id.lower()).strip('-.') or 'mail'}.mobileconfig"


@dataclass(frozen=True, slots=True)
class CompiledMobileconfig:
    """`render` done once per provider; `fill` gives the same bytes for any address."""

    provider_id: str
    template: Template | None
    unavailable: str = ""
    """Why there is no profile, when `template` is None."""
    fields: tuple[tuple[str, str, str], ...] = ()
    """(slot name, kind, argument) of each distinct slot: the profile UUID appears three times
    but is computed once, and no key is split per request."""

    def fill(self, address: EmailAddress) -> bytes:
        """The profile for `address`; raises ProfileUnavailable like `render`."""
        if self.template is None:
            raise ProfileUnavailable(self.unavailable)
        uuid_prefix = _uuid_name_prefix(self.provider_id, address)
        values = {name: _value(kind, arg, address, uuid_prefix) for name, kind, arg in self.fields}
        return self.template.fill(values)


def _marker(key: str) -> str:
    """A slot for a field key, or the text itself when it cannot depend on the address."""
    kind, _, argument = key.partition(":")
    if kind in ("host", "login") and "%" not in argument:
        return argument
    return slot(key)


def compile_provider(provider: Provider) -> CompiledMobileconfig:
    """Pre-render the provider's profile; never raises for a valid provider."""
    try:
        document = _profile(provider, _marker)
    except ProfileUnavailable as exc:
        return CompiledMobileconfig(provider.id, None, str(exc))
    template = Template.from_rendered(document)
    fields = tuple(
        (name, kind, argument)
        for name in dict.fromkeys(template.slots)
        for kind, _, argument in [name.partition(":")]
    )
    return CompiledMobileconfig(provider.id, template, fields=fields)
