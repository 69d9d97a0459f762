"""What providers.yaml may contain: every key, its type, limits and defaults, in one place.

The loader takes its allowed keys, limits and defaults from here, and `autoconfig schema` turns the
same tables into a JSON Schema for editors, so the two cannot drift apart. Rules that a JSON
Schema cannot express (placeholders, IDNA, duplicate domains across files, OAuth2 order) are the
loader's alone, and the schema's descriptions mention them.
"""

from dataclasses import dataclass, field
from typing import Any

from ..model import SERVICE_KINDS, Authentication, IncomingType, SocketType

MAX_DISPLAY_NAME = 60
MAX_SHORT_NAME = 20
DEFAULT_USERNAME = "%EMAILADDRESS%"
DEFAULT_AUTHENTICATION = (Authentication.PASSWORD_CLEARTEXT,)
SCHEMA_ID = "https://autoconfig.invalid/providers.schema.json"
LANGUAGE_TAG = r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*"
"""A `descr` language code (en, fr, pt-BR...): one pattern for the loader, ISPDB and schema."""

DEFAULT_PORTS: dict[tuple[str, SocketType], int] = {
    ("imap", SocketType.SSL): 993,
    ("imap", SocketType.STARTTLS): 143,
    ("imap", SocketType.PLAIN): 143,
    ("pop3", SocketType.SSL): 995,
    ("pop3", SocketType.STARTTLS): 110,
    ("pop3", SocketType.PLAIN): 110,
    ("smtp", SocketType.SSL): 465,
    ("smtp", SocketType.STARTTLS): 587,
    ("smtp", SocketType.PLAIN): 587,
}
"""The port a client would try for each protocol and socket type (RFC 8314, RFC 6409)."""

_HOST_TEMPLATE = r"^(%EMAILLOCALPART%|%EMAILDOMAIN%|[A-Za-z0-9.:\[\]-])+$"
_TEXT = {"type": "string", "minLength": 1, "pattern": r"\S"}
_URL = {"type": "string", "pattern": r"^https?://[^\s/]+"}
_HTTPS_URL = {"type": "string", "pattern": r"^https://[^\s/]+"}
_DOMAIN = {"type": "string", "pattern": r"^(\*\.)?[^\s*]+$"}


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a mapping in providers.yaml."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Record:
    """A mapping with a fixed set of keys (unknown keys are errors)."""

    name: str
    keys: tuple[Key, ...]
    description: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)


def _ref(record: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{record}"}


def _one_or_list(item: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [item, {"type": "array", "items": item, "minItems": 1, "uniqueItems": True}]}


def _server_keys(types: list[str], type_required: bool, methods: list[str]) -> tuple[Key, ...]:
    return (
        Key(
            "type",
            {"enum": types},
            f"protocol: {', '.join(types)}" + ("" if type_required else " (default smtp)"),
            required=type_required,
        ),
        Key(
            "hostname",
            {"type": "string", "pattern": _HOST_TEMPLATE},
            "host name or IP address; may use %EMAILDOMAIN% and %EMAILLOCALPART%",
            required=True,
        ),
        Key(
            "port",
            {"type": "integer", "minimum": 1, "maximum": 65535},
            "TCP port; default from type and socketType (993, 143, 995, 110, 465, 587)",
        ),
        Key(
            "socketType",
            {"enum": [kind.value for kind in SocketType]},
            "SSL (implicit TLS), STARTTLS, or plain (unencrypted)",
            required=True,
        ),
        Key(
            "authentication",
            _one_or_list({"enum": methods}),
            "one method or a list in order of preference (default password-cleartext); "
            "put a password method after OAuth2 for clients that lack OAuth2 for this host",
        ),
        Key(
            "username",
            {"type": "string", "minLength": 1},
            "login name template: %EMAILADDRESS%, %EMAILLOCALPART%, %EMAILDOMAIN% "
            "(default %EMAILADDRESS%)",
        ),
    )


_ALL_METHODS = [method.value for method in Authentication]
_INCOMING_METHODS = [
    m.value
    for m in Authentication
    if m
    not in (Authentication.NONE, Authentication.CLIENT_IP_ADDRESS, Authentication.SMTP_AFTER_POP)
]

INCOMING_SERVER = Record(
    "incomingServer",
    _server_keys([kind.value for kind in IncomingType], True, _INCOMING_METHODS),
    "a server to read mail from",
)
OUTGOING_SERVER = Record(
    "outgoingServer",
    _server_keys(["smtp"], False, _ALL_METHODS),
    "a server to send mail through",
)
SERVER_KEYS = INCOMING_SERVER.names

_REDIRECT_URL = Key(
    "redirectUrl",
    _HTTPS_URL,
    "Autodiscover clients are sent here with HTTP 302 (https only)",
)
_REDIRECT_ADDR = Key(
    "redirectAddr",
    {"type": "string", "pattern": "@"},
    "Autodiscover clients start again with this address (placeholders allowed)",
)

DOMAIN_ENTRY = Record(
    "domainEntry",
    (
        Key("name", _DOMAIN, "the domain, or *.domain for every subdomain", required=True),
        _REDIRECT_URL,
        _REDIRECT_ADDR,
    ),
    "a domain with its own redirect",
    extra={"oneOf": [{"required": ["redirectUrl"]}, {"required": ["redirectAddr"]}]},
)

DOCUMENTATION = Record(
    "documentation",
    (
        Key("url", _URL, "the help page (http or https)", required=True),
        Key(
            "descr",
            {
                "oneOf": [
                    _TEXT,
                    {
                        "type": "object",
                        "propertyNames": {"pattern": f"^{LANGUAGE_TAG}$"},
                        "additionalProperties": _TEXT,
                    },
                ]
            },
            "its title, or a mapping of language code to title",
        ),
    ),
    "a help page of the provider",
)

WEB_SERVICE = Record(
    "webService",
    (
        Key("url", _HTTPS_URL, "the service URL (https)", required=True),
        Key(
            "username",
            {"type": "string", "minLength": 1},
            "login name template (default %EMAILADDRESS%)",
        ),
    ),
    "a URL-based service with its login name",
)

_SERVICE_DOCS = {
    "caldav": "CalDAV calendars (URL of the calendar home or context path)",
    "carddav": "CardDAV address books",
    "jmap": "JMAP session resource",
    "activeSync": "Exchange ActiveSync endpoint (Microsoft-Server-ActiveSync)",
    "ews": "Exchange Web Services endpoint",
}


def _service_key(kind: str) -> Key:
    return Key(
        kind,
        {"oneOf": [_HTTPS_URL, _ref("webService")]},
        f"{_SERVICE_DOCS[kind]}: an https URL, or {{url, username}}",
    )


OAUTH2 = Record(
    "oAuth2",
    (
        Key("issuer", _TEXT, "the authorization server's issuer (host name)", required=True),
        Key("scope", _TEXT, "space-separated scopes covering every service", required=True),
        Key("authURL", _HTTPS_URL, "authorization endpoint", required=True),
        Key("tokenURL", _HTTPS_URL, "token endpoint", required=True),
        Key("clientID", _TEXT, "client id for public clients, if the provider issues one"),
    ),
    "OAuth2 parameters for public clients (ISPDB / IETF draft oAuth2 block)",
)

PROVIDER = Record(
    "provider",
    (
        Key(
            "id",
            {"type": "string", "pattern": r"^[A-Za-z0-9.:-]+$"},
            "unique id, host-name-like",
            required=True,
        ),
        Key(
            "displayName",
            {**_TEXT, "maxLength": MAX_DISPLAY_NAME},
            f"name shown to users (at most {MAX_DISPLAY_NAME} characters)",
            required=True,
        ),
        Key(
            "displayShortName",
            {**_TEXT, "maxLength": MAX_SHORT_NAME},
            f"short name (at most {MAX_SHORT_NAME}); defaults to displayName when that fits",
        ),
        Key(
            "domains",
            {"type": "array", "items": {"oneOf": [_DOMAIN, _ref("domainEntry")]}, "minItems": 1},
            "mail domains served: example.org, *.example.org, or {name, redirectUrl|redirectAddr}",
        ),
        Key(
            "domainsFile",
            {"type": "string", "minLength": 1},
            "a text file (relative to this file) with one domain a line, # comments",
        ),
        Key(
            "incoming",
            {"type": "array", "items": _ref("incomingServer"), "minItems": 1},
            "servers to read mail from, preferred first",
        ),
        Key(
            "outgoing",
            {"type": "array", "items": _ref("outgoingServer"), "minItems": 1},
            "servers to send mail through, preferred first",
        ),
        Key(
            "documentation",
            {"type": "array", "items": _ref("documentation")},
            "help pages",
        ),
        Key("webMail", _URL, "webmail login page"),
        Key("oAuth2", _ref("oAuth2"), "OAuth2 parameters for public clients"),
        *(_service_key(kind) for kind in SERVICE_KINDS),
        _REDIRECT_URL,
        _REDIRECT_ADDR,
    ),
    "one mail provider",
    extra={
        "anyOf": [{"required": ["domains"]}, {"required": ["domainsFile"]}],
        "allOf": [
            {"not": {"required": ["redirectUrl", "redirectAddr"]}},
            {
                "anyOf": [
                    {"required": ["incoming", "outgoing"]},
                    {"required": ["redirectUrl"]},
                    {"required": ["redirectAddr"]},
                ]
            },
        ],
    },
)

TOP_LEVEL = Record(
    "file",
    (
        Key(
            "providers",
            {"type": "array", "items": _ref("provider")},
            "the mail providers (the files read together need at least one)",
        ),
        Key(
            "include",
            _one_or_list({"type": "string", "minLength": 1}),
            "further files, directories (every *.yaml in them) or glob patterns, "
            "relative to this file",
        ),
        Key(
            "defaultProvider",
            {"type": "string", "minLength": 1},
            "id of the provider that answers for domains listed nowhere (main file only)",
        ),
    ),
    "a providers file: the main one or an included one",
)

RECORDS = (
    PROVIDER,
    DOMAIN_ENTRY,
    INCOMING_SERVER,
    OUTGOING_SERVER,
    DOCUMENTATION,
    OAUTH2,
    WEB_SERVICE,
)


def _record_schema(record: Record) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": record.description,
        "properties": {
            key.name: {**key.schema, "description": key.description} for key in record.keys
        },
        "additionalProperties": False,
    }
    required = [key.name for key in record.keys if key.required]
    if required:
        schema["required"] = required
    schema.update(record.extra)
    return schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a providers file, for editors and CI pipelines."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "autoconfig providers.yaml",
        **_record_schema(TOP_LEVEL),
        "$defs": {record.name: _record_schema(record) for record in RECORDS},
    }
