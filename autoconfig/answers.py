"""Which Autodiscover answer an address gets: decided here once, for the web, `render` and the
doctor alike.

The same URL answers Outlook (POX) and ActiveSync devices (mobilesync), and a served domain may
send its clients on instead of answering: to another URL (HTTP 302) or another address
(`redirectAddr`). Each decision is a pure function of the catalog's match and the address; the
answer says what was decided and carries the document, so that the web layer only turns it into
HTTP, `render` prints it, and the doctor compares a live server with it.
"""

from enum import StrEnum
from typing import NamedTuple

from .address import AddressError, EmailAddress, check_host_local_part, substitute
from .catalog import Match
from .formats import mobilesync, outlook


class Outcome(StrEnum):
    SETTINGS = "settings"
    REDIRECT_URL = "redirectUrl"
    """HTTP 302 to `detail`."""
    REDIRECT_ADDRESS = "redirectAddr"
    """Start again with the address `detail`."""
    ERROR = "error"
    """An error document; `detail` says why."""


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
