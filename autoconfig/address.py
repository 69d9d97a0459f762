"""E-mail addresses and domain names as clients send them, and the placeholders that use them.

Addresses arrive from the internet in query strings, XML bodies and Host headers. They are parsed
strictly (RFC 5321/6531 syntax and length limits, no control characters) so that the formats can
trust what they substitute, and domains are normalised to lower-case IDNA A-labels so that
`Bücher.example` and `xn--bcher-kva.example` find the same provider.
"""

import ipaddress
import re
import unicodedata
from collections.abc import Collection
from typing import NamedTuple

import idna

EMAILADDRESS = "%EMAILADDRESS%"
EMAILLOCALPART = "%EMAILLOCALPART%"
EMAILDOMAIN = "%EMAILDOMAIN%"
PLACEHOLDERS = (EMAILADDRESS, EMAILLOCALPART, EMAILDOMAIN)
HOST_PLACEHOLDERS = (EMAILLOCALPART, EMAILDOMAIN)

MAX_ADDRESS_OCTETS = 254
MAX_LOCAL_PART_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
MAX_LABEL_OCTETS = 63

DNS_LABEL = r"(?>[A-Za-z0-9][A-Za-z0-9-]{0,62}+)(?<!-)"
"""One DNS label, in any letter case: letters, digits and inner hyphens, 1 to 63 of them.

Atomic and possessive: a label takes what it can and never gives any back, so every pattern
built from it matches in one pass, without backtracking.
"""
HOST_NAME = rf"(?:{DNS_LABEL}\.)*+{DNS_LABEL}"
"""An ASCII host name without a trailing dot (the whole name's length is checked apart)."""
_LABEL = re.compile(DNS_LABEL + r"\Z")
_HOST_NAME = re.compile(HOST_NAME + r"\Z")
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+\Z")
_QUOTED = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"\Z')
_PLACEHOLDER_TOKEN = re.compile(r"%[^%]*%|%")


class AddressError(ValueError):
    """An address or domain a client sent cannot be used; the message says why."""


class EmailAddress(NamedTuple):
    """A syntactically valid address (a named tuple: one is made per request, cheaply).

    `domain` is the domain as the client wrote it (used in login names, where the mail server
    expects what the user typed); `ascii_domain` is its normalised form, for lookups and host names.
    """

    local_part: str
    domain: str
    ascii_domain: str

    def __str__(self) -> str:
        return f"{self.local_part}@{self.domain}"


_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_ip_address(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (no brackets, no port)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_ascii_host_name(name: str) -> bool:
    """Whether `name` is dot-separated DNS labels (any letter case, no trailing dot)."""
    return _HOST_NAME.match(name) is not None


def has_forbidden_characters(text: str, *, private_use: bool = False) -> bool:
    """Control characters, surrogates and non-characters: nothing an address or XML may hold.

    `private_use` forbids private-use characters too: configuration values may not hold them,
    because the pre-rendered answers mark their per-request slots with them (formats/template.py).
    """
    if text.isascii():
        return _ASCII_CONTROL.search(text) is not None
    forbidden = ("Cc", "Cs", "Co") if private_use else ("Cc", "Cs")
    return any(unicodedata.category(char) in forbidden or char in "\ufffe\uffff" for char in text)


def normalize_domain(text: str) -> str:
    """Return the lookup form of a domain name: lower-case A-labels, no trailing dot."""
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise AddressError("the domain is empty")
    if has_forbidden_characters(text):
        raise AddressError("the domain contains control characters")
    if text.isascii():
        ascii_name = text.lower()
        if len(ascii_name) <= MAX_DOMAIN_OCTETS and _HOST_NAME.match(ascii_name):
            return ascii_name
    else:
        try:
            ascii_name = idna.encode(text, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise AddressError(f"{text!r} is not a valid internationalised domain name") from exc
    if len(ascii_name) > MAX_DOMAIN_OCTETS:
        raise AddressError(f"the domain is longer than {MAX_DOMAIN_OCTETS} characters")
    for label in ascii_name.split("."):
        if len(label) > MAX_LABEL_OCTETS:
            raise AddressError(f"the domain label {label[:20]!r}... is over 63 characters")
        if not _LABEL.match(label):
            raise AddressError(f"{text!r} is not a valid domain name")
    return ascii_name


def normalize_mail_domain(text: str) -> str:
    """`normalize_domain` of a domain a client names on its own (in a URL path): an IP address
    passes as a name of digits, but names no mail domain."""
    if is_ip_address(text):
        raise AddressError("an IP address names no mail domain")
    return normalize_domain(text)


def _check_local_part(local: str) -> None:
    if not local:
        raise AddressError("the address has no local part before '@'")
    if len(local.encode("utf-8")) > MAX_LOCAL_PART_OCTETS:
        raise AddressError(f"the local part is longer than {MAX_LOCAL_PART_OCTETS} octets")
    if local.startswith('"'):
        if not _QUOTED.match(local):
            raise AddressError("the quoted local part is not valid")
        return
    atoms = local.split(".")
    if not all(_ATEXT.match(atom) for atom in atoms):
        raise AddressError("the local part contains characters that need quoting")


ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
"""A character of an unquoted local part (RFC 5322 atext), ASCII only."""


def common_address_pattern(atom: str, at: str) -> str:
    """What nearly every address looks like, as a regular expression: dot-atoms of `atom`
    characters, `at`, an ASCII host name and an optional trailing dot, in groups (local part,
    domain, dot). Possessive throughout: one pass, no backtracking. `common_address` then
    applies the length limits."""
    return rf"({atom}++(?:\.{atom}++)*+){at}({HOST_NAME})(\.?)"


_COMMON_ADDRESS = re.compile(common_address_pattern(ATOM, "@") + r"\Z")


def common_address(local: str, domain: str, dot: str) -> EmailAddress | None:
    """The address a `common_address_pattern` match stands for, or None when a part breaks a
    length limit (the caller then takes the general path, which says which)."""
    if (
        len(local) > MAX_LOCAL_PART_OCTETS
        or len(domain) > MAX_DOMAIN_OCTETS
        or len(local) + 1 + len(domain) + len(dot) > MAX_ADDRESS_OCTETS
    ):
        return None
    return EmailAddress(local, domain + dot, domain.lower())


def parse_address(text: str) -> EmailAddress:
    """Parse `local@domain`, rejecting anything a mail server would not accept as an address.

    `str()` of the result is `text` itself.
    """
    common = _COMMON_ADDRESS.match(text)
    address = common_address(*common.groups()) if common is not None else None
    if address is not None:
        return address
    if has_forbidden_characters(text):
        raise AddressError("the address contains control characters")
    if len(text.encode("utf-8")) > MAX_ADDRESS_OCTETS:
        raise AddressError(f"the address is longer than {MAX_ADDRESS_OCTETS} octets")
    local, at, domain = text.rpartition("@")
    if not at:
        raise AddressError("the address has no '@'")
    _check_local_part(local)
    if domain.startswith("["):
        raise AddressError("address literals like [192.0.2.1] name no mail provider")
    return EmailAddress(local, domain, normalize_domain(domain))


def check_host_local_part(address: EmailAddress, needed: bool) -> None:
    """Refuse a local part that would make a host name of anything but DNS labels.

    Providers whose server names hold %EMAILLOCALPART% (per-user hosts) would otherwise write
    whatever a link carries (`evil.example?@...`) into a server name, even a signed profile's.
    """
    if needed and not _HOST_NAME.match(address.local_part):
        raise AddressError(
            "this provider names servers after the local part, which must then be letters, "
            "digits, hyphens and dots"
        )


def placeholder_errors(template: str, allowed: Collection[str]) -> list[str]:
    """Describe each %...% token of a template that is not one of the allowed placeholders."""
    errors = []
    for token in _PLACEHOLDER_TOKEN.findall(template):
        if token == "%":
            errors.append("has a lone '%' (placeholders are %EMAILADDRESS%, ...)")
        elif token not in allowed:
            names = ", ".join(allowed)
            errors.append(f"{token} is not a placeholder here (use {names})")
    return errors


def substitute(template: str, address: EmailAddress, *, for_host: bool = False) -> str:
    """Fill the placeholders of a template, in one pass so that values are never re-read.

    Host names get the normalised domain (`xn--...`), login names the domain as the user wrote it.
    """
    if template == EMAILADDRESS:
        return f"{address.local_part}@{address.domain}"
    domain = address.ascii_domain if for_host else address.domain
    values = {
        EMAILADDRESS: f"{address.local_part}@{address.domain}",
        EMAILLOCALPART: address.local_part,
        EMAILDOMAIN: domain,
    }
    if "%" not in template:
        return template
    return _PLACEHOLDER_TOKEN.sub(
        lambda match: values.get(match.group(0), match.group(0)), template
    )
