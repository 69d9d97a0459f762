"""HTTPS checks: fetch what clients fetch, on the public names, and compare with providers.yaml.

Each public host gets one verified TLS probe (trust, name, expiry, TLS 1.2+) and then the
requests clients send there: Thunderbird's GET, Outlook's POX POST, the autodiscover.json GET and
the PACC document. An answer is "ours" when its bytes are exactly what this server renders for
the domain from the providers.yaml given; otherwise it is parsed to say what it announces instead.
"""

import asyncio
import contextlib
import json
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp

from ..address import EmailAddress
from ..answers import Outcome, outlook_answer
from ..catalog import Match
from ..formats import pacc
from ..formats.outlook import OUTLOOK_NS, REQUEST_NS
from ..formats.template import xml_escape
from . import answers
from .context import Context
from .findings import Finding, failed, lookup_failed, passed, warned
from .protocols import describe_connect_error
from .resolve import ResolveError
from .tls import HandshakeTimeout, describe_tls_error, judge_handshake, start_tls

THUNDERBIRD_PATH = "/mail/config-v1.1.xml"
WELL_KNOWN_PATH = "/.well-known/autoconfig/mail/config-v1.1.xml"
POX_PATH = "/autodiscover/autodiscover.xml"
JSON_PATH = "/autodiscover/autodiscover.json/v1.0/{address}?Protocol=AutodiscoverV1"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    location: str | None


@dataclass(slots=True)
class Host:
    """A public name and the requests clients send to it."""

    name: str
    optional: bool = False
    """Clients also work without it: failing to reach it is not a problem, a wrong answer is."""
    requests: list[Callable[[Context, str], Awaitable[Finding]]] = field(default_factory=list)


def base_url(context: Context, host: str) -> str:
    port = context.options.https_port
    return f"https://{host}" if port == 443 else f"https://{host}:{port}"


async def fetch(
    context: Context,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request as a client sends it; redirects are reported, not followed."""
    async with context.http.request(
        method, url, data=body, headers=headers, allow_redirects=False
    ) as response:
        data = await response.content.read(answers.MAX_ANSWER_BYTES + 1)
        if len(data) > answers.MAX_ANSWER_BYTES:
            raise answers.AnswerError(f"the answer is over {answers.MAX_ANSWER_BYTES} bytes")
        return Answer(
            response.status, data, response.content_type, response.headers.get("Location")
        )


def _is_xml(answer: Answer) -> bool:
    return answer.content_type in ("text/xml", "application/xml")


def _compare(
    check: str,
    subject: str,
    answer: Answer,
    expected: bytes,
    read: Callable[[bytes], list[answers.Announced]],
    fix: str,
) -> Finding:
    """Byte-equal: ours. Otherwise say what the other document announces."""
    if answer.body == expected:
        if not _is_xml(answer):
            return warned(
                check,
                subject,
                f"the right document, but as {answer.content_type!r}: clients expect text/xml",
                "let the reverse proxy pass the Content-Type through",
            )
        return passed(check, subject, f"the document providers.yaml gives ({len(expected)} bytes)")
    try:
        found = read(answer.body)
    except answers.AnswerError as exc:
        return failed(check, subject, f"HTTP {answer.status}, not a usable answer: {exc}", fix)
    differences = answers.differences(read(expected), found)
    if not differences:
        return warned(
            check,
            subject,
            "announces the same servers as providers.yaml, but is not the document this "
            "providers.yaml gives (another version of autoconfig, or another file?)",
            fix,
        )
    return failed(check, subject, "; ".join(differences), fix)


def thunderbird_request(
    match: Match, address: EmailAddress, path: str, optional: bool
) -> Callable[[Context, str], Awaitable[Finding]]:
    """Thunderbird's GET: the document for the domain, or 404 for a provider without servers."""
    check = "https.thunderbird"

    async def run(context: Context, host: str) -> Finding:
        url = f"{base_url(context, host)}{path}?emailaddress={quote(str(address), safe='@')}"
        answer = await fetch(context, "GET", url)
        fix = (
            f"make {host} serve this providers.yaml (autoconfig serve behind the TLS proxy; "
            "is the proxy pointing at an old instance?)"
        )
        if not match.provider.has_settings:
            if answer.status == 404:
                return passed(check, url, "404: the provider has no servers, as providers.yaml")
            return failed(check, url, f"HTTP {answer.status}, providers.yaml gives 404", fix)
        if answer.status != 200 and optional:
            why = "not served here (optional: clients ask autoconfig.<domain>)"
            return passed(check, url, f"HTTP {answer.status}: {why}")
        if answer.status != 200:
            return failed(check, url, f"HTTP {answer.status} instead of the document", fix)
        expected = match.entry.thunderbird.fill(match.domain)
        finding = _compare(check, url, answer, expected, answers.thunderbird_servers, fix)
        if optional and finding.status == "fail":
            return warned(check, url, f"{finding.detail} (clients use it if autoconfig fails)", fix)
        return finding

    return run


def pox_request(
    match: Match, address: EmailAddress
) -> Callable[[Context, str], Awaitable[Finding]]:
    """Outlook's POST: settings, a redirectAddr answer or a 302, exactly as configured."""
    check = "https.autodiscover"
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{REQUEST_NS}"><Request>'
        f"<EMailAddress>{xml_escape(str(address))}</EMailAddress>"
        f"<AcceptableResponseSchema>{OUTLOOK_NS}</AcceptableResponseSchema>"
        "</Request></Autodiscover>"
    ).encode()

    async def run(context: Context, host: str) -> Finding:
        url = f"{base_url(context, host)}{POX_PATH}"
        answer = await fetch(
            context, "POST", url, body, {"Content-Type": "text/xml; charset=utf-8"}
        )
        fix = f"make {host} serve this providers.yaml (POST {POX_PATH} must reach autoconfig)"
        expected = outlook_answer(match, address)
        if expected.outcome is Outcome.REDIRECT_URL:
            if answer.status == 302 and answer.location == expected.detail:
                return passed(check, url, f"302 to {expected.detail}, as providers.yaml")
            got = f"{answer.status} {answer.location or ''}".strip()
            return failed(check, url, f"{got}; providers.yaml redirects to {expected.detail}", fix)
        if answer.status != 200:
            return failed(
                check, url, f"HTTP {answer.status} instead of an Autodiscover answer", fix
            )
        if expected.outcome is Outcome.REDIRECT_ADDRESS:
            if answer.body == expected.body:
                return passed(check, url, f"redirectAddr {expected.detail}, as providers.yaml")
            return failed(check, url, f"not the redirectAddr answer for {expected.detail}", fix)
        if expected.outcome is Outcome.ERROR:
            if answer.body == expected.body:
                return passed(check, url, f"the error providers.yaml gives: {expected.detail}")
            return failed(check, url, f"not the error answer ({expected.detail})", fix)
        return _compare(check, url, answer, expected.body, answers.autodiscover_servers, fix)

    return run


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def json_request(
    match: Match, address: EmailAddress
) -> Callable[[Context, str], Awaitable[Finding]]:
    """autodiscover.json (new Outlook asks it first): optional, but when it answers, the Url must
    lead to an Autodiscover POX endpoint (or to the redirect providers.yaml sets)."""
    check = "https.autodiscover-json"

    async def run(context: Context, host: str) -> Finding:
        url = base_url(context, host) + JSON_PATH.format(address=quote(str(address), safe="@"))
        answer = await fetch(context, "GET", url)
        document = _json_object(answer.body)
        fix = (
            f"make {host} serve this providers.yaml; the answer must be "
            '{"Protocol": "AutodiscoverV1", "Url": "https://.../autodiscover/autodiscover.xml"}'
        )
        if answer.status == 404 and document is not None and "ErrorCode" in document:
            error = f"{document.get('ErrorCode')}: {document.get('ErrorMessage', '')}"
            return failed(check, url, f"HTTP 404 {error}".rstrip(": "), fix)
        if answer.status == 404:
            return passed(check, url, "not served: Outlook falls back to autodiscover.xml")
        if answer.status != 200:
            return warned(check, url, f"HTTP {answer.status}", fix)
        if document is None:
            return failed(check, url, f"not a JSON object: {answer.body[:120]!r}", fix)
        target = document.get("Url")
        if not isinstance(target, str) or not target.lower().startswith("https://"):
            return failed(check, url, f"no https Url in the answer: {answer.body[:120]!r}", fix)
        redirect = match.redirect
        if redirect is not None and redirect.url is not None:
            if target != redirect.url:
                return failed(
                    check, url, f"Url {target}; providers.yaml redirects to {redirect.url}", fix
                )
        elif not target.lower().endswith(POX_PATH):
            return failed(check, url, f"Url {target} is not an autodiscover.xml URL", fix)
        return passed(check, url, f"points Outlook at {target}")

    return run


def pacc_request(match: Match) -> Callable[[Context, str], Awaitable[Finding]]:
    """PACC clients hash the bytes they get, so only the exact document will do."""
    check = "https.pacc"

    async def run(context: Context, host: str) -> Finding:
        url = f"{base_url(context, host)}{pacc.PATH}"
        answer = await fetch(context, "GET", url)
        expected = pacc.render(match.provider, match.domain)
        fix = f"make {host} serve this providers.yaml, then publish the TXT record `dns` prints"
        if answer.status != 200:
            txt = await context.lookup.txt(f"_ua-auto-config.{match.domain}")
            if not any(text.startswith("v=UAAC1") for text in txt):
                why = "PACC is not published (optional; no _ua-auto-config TXT record)"
                return passed(check, url, f"HTTP {answer.status}: {why}")
            return failed(check, url, f"HTTP {answer.status} instead of the PACC document", fix)
        if answer.body != expected:
            return failed(
                check, url, "not the document providers.yaml gives: its digest will not match", fix
            )
        return passed(check, url, "the document providers.yaml gives")

    return run


async def _tls_probe(context: Context, host: str, subject: str) -> Finding:
    """One verified handshake per host, to report the certificate and TLS version.

    Connecting and the handshake are separate steps, so a port that takes the connection but
    never completes a handshake is reported as that, not as a connect timeout.
    """
    addresses = await context.lookup.addresses(host)
    port, timeout = context.options.https_port, context.options.timeout
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(addresses[0], port), timeout)
    except OSError as exc:
        reason = describe_connect_error(exc, timeout)
        return failed(
            "https.tls",
            subject,
            f"cannot connect to {addresses[0]} port {port}: {reason}",
            f"{host} must lead to the TLS reverse proxy in front of autoconfig",
        )
    try:
        handshake = await start_tls(writer, context.tls, host, timeout)
    except (ssl.SSLError, HandshakeTimeout) as exc:
        detail, fix = describe_tls_error(exc)
        return failed("https.tls", subject, detail, fix)
    except OSError as exc:
        reason = describe_connect_error(exc, timeout)
        return failed(
            "https.tls",
            subject,
            f"the TLS handshake broke off: {reason}",
            "look at the log of the TLS proxy in front of autoconfig for this connection",
        )
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), timeout)
    return judge_handshake("https.tls", subject, host, handshake)


async def check_host(context: Context, host: Host) -> list[Finding]:
    """TLS first; the requests only when a client would get that far."""
    subject = base_url(context, host.name)
    try:
        tls = await _tls_probe(context, host.name, subject)
    except ResolveError as exc:
        if not exc.missing:
            return [lookup_failed("https.tls", subject, exc)]
        if host.optional:
            return []
        return [
            failed(
                "https.tls",
                subject,
                f"cannot be reached: {exc}",
                f"publish {host.name} in DNS, pointing at the TLS proxy in front of autoconfig",
            )
        ]
    if tls.status == "fail" and host.optional:
        return [
            passed("https.tls", subject, f"not usable, so clients skip it (optional): {tls.detail}")
        ]
    findings = [tls]
    if tls.status == "fail":
        return findings
    for request in host.requests:
        try:
            findings.append(await request(context, host.name))
        except (
            aiohttp.ClientError,
            answers.AnswerError,
            ResolveError,
            TimeoutError,
            OSError,
        ) as exc:
            findings.append(
                failed("https.request", subject, f"request failed: {type(exc).__name__}: {exc}")
            )
    return findings


def client_names(match: Match) -> tuple[str, ...]:
    """The prefixes of the names clients of this domain ask (`autoconfig`, `autodiscover`).

    Thunderbird gets 404 from a provider without settings (one that only redirects Outlook),
    so such a domain needs no autoconfig.<domain>: only Autodiscover is expected of it.
    """
    return ("autoconfig", "autodiscover") if match.provider.has_settings else ("autodiscover",)


def hosts_for(match: Match, address: EmailAddress) -> list[Host]:
    """The public names clients of this domain use, and what they ask each one."""
    domain = match.domain
    autodiscover = Host(f"autodiscover.{domain}")
    autodiscover.requests.append(pox_request(match, address))
    autodiscover.requests.append(json_request(match, address))
    if "autoconfig" not in client_names(match):
        return [autodiscover]
    autoconfig = Host(f"autoconfig.{domain}")
    autoconfig.requests.append(thunderbird_request(match, address, THUNDERBIRD_PATH, False))
    well_known = Host(domain, optional=True)
    well_known.requests.append(thunderbird_request(match, address, WELL_KNOWN_PATH, True))
    pacc_host = Host(f"{pacc.HOST_PREFIX}{domain}", optional=True, requests=[pacc_request(match)])
    return [autoconfig, well_known, autodiscover, pacc_host]


async def srv_host(context: Context, match: Match, address: EmailAddress) -> list[Finding]:
    """Outlook's fallback: the `_autodiscover._tcp` target gets the same POST."""
    try:
        records = await context.lookup.srv(f"_autodiscover._tcp.{match.domain}.")
    except ResolveError:
        return []
    if not records:
        return []
    target = min(records)[2].rstrip(".")
    if target in ("", f"autodiscover.{match.domain}"):
        return []
    return await check_host(context, Host(target, requests=[pox_request(match, address)]))
