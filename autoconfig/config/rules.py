"""What one value of providers.yaml must look like, as pure functions: no YAML, no files.

The loader reports these rules at a file and line; the ISPDB import decides with the same
functions whether an element can be carried over, and words its own note. So a host name, a URL,
a language code or a text is judged alike wherever it comes from. Functions named `*_error`
return the loader's message (None when the value is fine); the `is_*` and `url_problem` ones are
the decisions both share.
"""

import re
from urllib.parse import urlsplit

from .. import address
from ..address import (
    EMAILADDRESS,
    EMAILDOMAIN,
    EMAILLOCALPART,
    HOST_PLACEHOLDERS,
    PLACEHOLDERS,
    AddressError,
    is_ip_address,
    normalize_domain,
    placeholder_errors,
)
from .spec import LANGUAGE_TAG

HOST_SAMPLE_VALUES = {EMAILLOCALPART: "user", EMAILDOMAIN: "example.org"}
"""What the placeholders of a host-name template stand for while the template is checked."""

_LANGUAGE = re.compile(LANGUAGE_TAG)


def has_forbidden_characters(text: str) -> bool:
    """What no configuration value may hold: control, surrogate, non- and private-use
    characters (address.has_forbidden_characters says why)."""
    return address.has_forbidden_characters(text, private_use=True)


def is_language_code(code: str) -> bool:
    """A language code as a `descr` key: en, fr, pt-BR..."""
    return _LANGUAGE.fullmatch(code) is not None


def is_port(number: int) -> bool:
    return 1 <= number <= 65535


def is_host_name(name: str) -> bool:
    """An IP address, or a domain name already in its normal form (letter case aside)."""
    if is_ip_address(name):
        return True
    try:
        return normalize_domain(name) == name.lower()
    except AddressError:
        return False


def is_host_template(template: str) -> bool:
    """A host name once its placeholders are filled in (whether they may be there is separate)."""
    sample = template
    for placeholder, value in HOST_SAMPLE_VALUES.items():
        sample = sample.replace(placeholder, value)
    return is_host_name(sample)


def host_id_error(value: str) -> str | None:
    if is_host_name(value):
        return None
    return f"{value!r} must look like a host name (Thunderbird requires it)"


def hostname_error(template: str) -> str | None:
    problems = placeholder_errors(template, HOST_PLACEHOLDERS)
    if not problems and not is_host_template(template):
        problems.append(f"{template!r} is not a valid host name")
    return "; ".join(problems) or None


def login_error(template: str) -> str | None:
    """A login name template may hold every placeholder, and no other %...%."""
    return "; ".join(placeholder_errors(template, PLACEHOLDERS)) or None


def redirect_address_error(value: str) -> str | None:
    """`%EMAILADDRESS%` alone, or local@domain where only %EMAILDOMAIN% may stand in the domain."""
    problems = placeholder_errors(value, PLACEHOLDERS)
    local, at, domain = value.rpartition("@")
    if not problems and value != EMAILADDRESS:
        if not at or not local:
            problems.append(f"{value!r} is not an address (local@domain)")
        elif not is_host_name(domain.replace(EMAILDOMAIN, HOST_SAMPLE_VALUES[EMAILDOMAIN])):
            problems.append(f"{value!r} has no valid domain")
    return "; ".join(problems) or None


def url_problem(value: str, *, https_only: bool) -> str | None:
    """Why a URL is unusable for clients ("contains spaces", ...), or None when it is fine."""
    if any(char.isspace() for char in value):
        return "contains spaces"
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes:
        return f"does not start with {' or '.join(s + '://' for s in schemes)}"
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if not host or not is_host_name(host):
        return "has no valid host name"
    return None


def url_error(value: str, *, https_only: bool) -> str | None:
    problem = url_problem(value, https_only=https_only)
    if problem is None:
        return None
    if problem == "contains spaces":
        return f"{value!r} is not a URL (it contains spaces)"
    if problem.startswith("does not start"):
        return f"{value!r} must start" + problem.removeprefix("does not start")
    return f"{value!r} {problem}"


def domain_name(text: str) -> tuple[str, bool] | str:
    """(normalised name, is wildcard) for `example.org` or `*.example.org`, else why not."""
    wildcard = text.startswith("*.")
    bare = text[2:] if wildcard else text
    if "*" in bare:
        return f"{text!r}: a wildcard is only allowed as '*.' at the start"
    try:
        return normalize_domain(bare), wildcard
    except AddressError as exc:
        return f"{text!r}: {exc}"
