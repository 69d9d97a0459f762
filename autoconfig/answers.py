"""Which answer an address gets: decided here once, for the web, `render` and the doctor alike.

The same URL answers Outlook (POX) and ActiveSync devices (mobilesync), and a served domain may
send its clients on instead of answering: to another URL (HTTP 302) or another address
(`redirectAddr`). autodiscover.json names one URL per protocol, and PACC serves a document only
for a provider with servers. Each decision is a pure function of the catalog's match (and the
address); the answer says what was decided and carries the document, so that the web layer only
turns it into HTTP, `render` prints it, and the doctor compares a live server with it.
"""

from enum import StrEnum
from typing import NamedTuple

from .address import AddressError, EmailAddress, check_host_local_part, substitute
from .catalog import Match
from .formats import autodiscover_json, mobilesync, outlook, pacc


class Outcome(StrEnum):
    SETTINGS = "settings"
    REDIRECT_URL = "redirectUrl"
    """HTTP 302 to `detail`."""
    REDIRECT_ADDRESS = "redirectAddr"
    """Start again with the address `detail`."""
    ERROR = "error"
    """An error document; `detail` says why."""
    THIS_SERVER = "thisServer"
    """autodiscover.json's AutodiscoverV1 for a domain answered here: the URL is this server's
    own POX endpoint, which only the caller can name (its public URL, or the request's Host);
    the body is empty."""


class AutodiscoverAnswer(NamedTuple):
    """What the client is told (a named tuple: one is made per request)."""

    outcome: Outcome
    body: bytes
    """The XML document; empty for REDIRECT_URL."""
    detail: str = ""


def _error(code: outlook.ErrorCode, debug: str = "") -> AutodiscoverAnswer:
    return AutodiscoverAnswer(Outcome.ERROR, outlook.render_error(code, debug), debug)


def outlook_answer(match: Match | None, address: EmailAddress) -> AutodiscoverAnswer:
    """Outlook's answer for an address: its settings, a redirect, or an error."""
    if match is None:
        return _error(outlook.ErrorCode.ADDRESS_NOT_FOUND)
    entry = match.entry
    try:
        check_host_local_part(address, entry.hosts_need_local_part)
    except AddressError as exc:
        return _error(outlook.ErrorCode.INVALID_REQUEST, f"EMailAddress: {exc}")
    redirect = match.redirect
    if redirect is not None and redirect.url is not None:
        return AutodiscoverAnswer(Outcome.REDIRECT_URL, b"", redirect.url)
    if redirect is not None and redirect.address is not None:
        target = substitute(redirect.address, address)
        body = outlook.render_redirect_address(target)
        return AutodiscoverAnswer(Outcome.REDIRECT_ADDRESS, body, target)
    return AutodiscoverAnswer(Outcome.SETTINGS, entry.outlook.fill(address))


def outlook_answer_for_domain(match: Match | None, domain: str) -> AutodiscoverAnswer:
    """Outlook's answer when the request names only a domain (a GET by Host): the settings
    without the address, where they can be written without it."""
    redirect = match.redirect if match else None
    if redirect is not None and redirect.url is not None:
        return AutodiscoverAnswer(Outcome.REDIRECT_URL, b"", redirect.url)
    provider = match.provider if match else None
    if provider is None or redirect is not None or not provider.has_settings:
        return _error(outlook.ErrorCode.INVALID_REQUEST, "no address was given")
    if provider.hosts_need_local_part:
        return _error(outlook.ErrorCode.INVALID_REQUEST, "the address is needed")
    return AutodiscoverAnswer(Outcome.SETTINGS, outlook.render_settings(provider, None, domain))


def mobilesync_answer(match: Match | None, address: EmailAddress) -> AutodiscoverAnswer:
    """An ActiveSync device's answer: the provider's ActiveSync URL, a redirect, or "no
    ActiveSync here"."""
    if match is None:
        problem = mobilesync.Problem.UNKNOWN_DOMAIN
        body = mobilesync.render_error(address, problem, address.domain)
        return AutodiscoverAnswer(Outcome.ERROR, body, problem.message(address.domain))
    redirect = match.redirect
    if redirect is not None and redirect.url is not None:
        return AutodiscoverAnswer(Outcome.REDIRECT_URL, b"", redirect.url)
    if redirect is not None and redirect.address is not None:
        target = substitute(redirect.address, address)
        body = mobilesync.render_redirect(address, target)
        return AutodiscoverAnswer(Outcome.REDIRECT_ADDRESS, body, target)
    if match.entry.mobilesync is None:
        problem = mobilesync.Problem.NO_ACTIVESYNC
        body = mobilesync.render_error(address, problem, address.domain)
        return AutodiscoverAnswer(Outcome.ERROR, body, problem.message(address.domain))
    return AutodiscoverAnswer(Outcome.SETTINGS, match.entry.mobilesync.fill(address))


_AUTODISCOVER_V1 = autodiscover_json.Protocol.AUTODISCOVER_V1
"""Bound once: reading an enum member through its class costs a tenth of a microsecond on
Python 3.11, which the autodiscover.json path notices."""

_SETTINGS = Outcome.SETTINGS
POINT_AT_THIS_SERVER = AutodiscoverAnswer(Outcome.THIS_SERVER, b"")
"""The THIS_SERVER answer, made once (it carries nothing per request)."""


def autodiscover_json_answer(
    match: Match | None, address: EmailAddress, protocol: autodiscover_json.Protocol
) -> AutodiscoverAnswer:
    """autodiscover.json's answer for one protocol: a URL, POINT_AT_THIS_SERVER, or an error
    (every error here means "not here", which the web layer sends as 404).

    AutodiscoverV1 points at the redirect URL of a domain sent elsewhere (in the JSON body, not
    as a 302), else at this server. ActiveSync is the provider's URL, never offered for a
    redirected domain: the client must ask where it is sent.
    """
    if match is None:
        body = autodiscover_json.render_unknown_domain(address.domain)
        return AutodiscoverAnswer(Outcome.ERROR, body, f"no provider serves {address.domain}")
    redirect = match.redirect
    if protocol is _AUTODISCOVER_V1:
        if redirect is None or redirect.url is None:
            return POINT_AT_THIS_SERVER
        body = autodiscover_json.render_autodiscover_v1(redirect.url)
        return AutodiscoverAnswer(Outcome.REDIRECT_URL, body, redirect.url)
    body = match.entry.activesync_json if redirect is None else None
    if body is None:
        error = autodiscover_json.render_not_offered(protocol, address.domain)
        return AutodiscoverAnswer(Outcome.ERROR, error, f"{protocol} is not offered")
    return AutodiscoverAnswer(_SETTINGS, body)


def pacc_answer(match: Match | None) -> bytes | None:
    """The PACC document of the matched domain; None when it is not served (no provider, or
    one that only redirects: PACC cannot describe a redirect)."""
    if match is None or not match.entry.has_settings:
        return None
    return pacc.render(match.provider, match.domain)
