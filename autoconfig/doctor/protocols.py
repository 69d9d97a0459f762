"""Just enough IMAP, POP3 and SMTP to see what a client sees before it logs in.

Each dialect reads the greeting, lists capabilities, upgrades with STARTTLS and says goodbye
politely (LOGOUT / QUIT). Nothing here authenticates or sends mail. Every read has a timeout and
every reply a bounded number of lines, so a server that talks forever or not at all cannot hold
the doctor up.
"""

import asyncio
import contextlib
import itertools
import os
import re
import ssl
from dataclasses import dataclass
from typing import ClassVar

from .tls import Handshake, start_tls

MAX_LINE_BYTES = 8192
MAX_REPLY_LINES = 200

_SMTP_REPLY = re.compile(r"(\d{3})([ -])(.*)")


class ProtocolError(Exception):
    """The server answered something the protocol does not allow at this point.

    `line` is what it said instead, when that tells which protocol the port really speaks.
    """

    def __init__(self, message: str, line: str | None = None) -> None:
        super().__init__(message)
        self.line = line


class NoAnswer(ProtocolError):
    """The server said nothing within the timeout."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a server offers at one point of the conversation (before or after TLS)."""

    starttls: bool
    mechanisms: frozenset[str]
    """SASL mechanisms, upper case."""
    cleartext_login: bool
    """A password login outside SASL: IMAP LOGIN (no LOGINDISABLED) or POP3 USER/PASS."""
    listed: str
    """The capabilities as the server listed them, for the report."""


def describe_connect_error(exc: BaseException, timeout: float) -> str:
    """`Connection refused`, not asyncio's `Connect call failed ('192.0.2.1', 993)`."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s (a firewall dropping packets?)"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def recognise(greeting: str) -> str | None:
    """Which protocol a greeting belongs to, to explain a wrong port."""
    if greeting.startswith(("* OK", "* PREAUTH", "* BYE")):
        return "imap"
    if greeting.startswith(("+OK", "-ERR")):
        return "pop3"
    if _SMTP_REPLY.match(greeting):
        return "smtp"
    return None


class Conversation:
    """Line-based talk over asyncio streams with a timeout on every step."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout

    async def line(self) -> str:
        try:
            raw = await asyncio.wait_for(self.reader.readline(), self.timeout)
        except TimeoutError:
            raise NoAnswer(f"no answer within {self.timeout:g} s") from None
        except ValueError as exc:
            raise ProtocolError(f"a line longer than {MAX_LINE_BYTES} bytes") from exc
        if not raw:
            raise ProtocolError("the server closed the connection")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    async def send(self, command: str) -> None:
        self.writer.write(command.encode("ascii") + b"\r\n")
        await asyncio.wait_for(self.writer.drain(), self.timeout)

    async def start_tls(self, context: ssl.SSLContext, host: str) -> Handshake:
        """The handshake, for implicit TLS or after STARTTLS; HandshakeTimeout if it hangs."""
        return await start_tls(self.writer, context, host, self.timeout)

    @property
    def local_address(self) -> str:
        sockname = self.writer.get_extra_info("sockname")
        return str(sockname[0]) if sockname else "127.0.0.1"

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), self.timeout)


class Dialect:
    """The protocol-specific half of a probe; one instance per conversation."""

    name: ClassVar[str]
    starttls_command: ClassVar[str]

    def __init__(self, talk: Conversation) -> None:
        self.talk = talk

    async def greet(self) -> str:
        raise NotImplementedError

    async def capabilities(self) -> Capabilities:
        raise NotImplementedError

    async def starttls(self) -> None:
        raise NotImplementedError

    async def goodbye(self) -> None:
        """LOGOUT / QUIT, best effort: the probe is over whatever the server says."""
        raise NotImplementedError

    async def _polite(self, command: str) -> None:
        try:
            await self.talk.send(command)
            await self.talk.line()
        except (ProtocolError, OSError, TimeoutError, ssl.SSLError):
            pass


class Imap(Dialect):
    name = "IMAP"
    starttls_command = "STARTTLS"

    def __init__(self, talk: Conversation) -> None:
        super().__init__(talk)
        self._tags = (f"D{n}" for n in itertools.count(1))

    async def greet(self) -> str:
        greeting = await self.talk.line()
        if not greeting.startswith(("* OK", "* PREAUTH")):
            raise ProtocolError(f"not an IMAP greeting: {greeting[:120]!r}", greeting)
        return greeting

    async def _command(self, command: str) -> list[str]:
        tag = next(self._tags)
        await self.talk.send(f"{tag} {command}")
        untagged = []
        for _ in range(MAX_REPLY_LINES):
            line = await self.talk.line()
            if line.startswith(f"{tag} "):
                status = line[len(tag) + 1 :]
                if not status.upper().startswith("OK"):
                    raise ProtocolError(f"{command} refused: {status[:120]}")
                return untagged
            untagged.append(line)
        raise ProtocolError(f"no end to the answer to {command}")

    async def capabilities(self) -> Capabilities:
        words: list[str] = []
        for line in await self._command("CAPABILITY"):
            if line.upper().startswith("* CAPABILITY "):
                words.extend(line.split()[2:])
        upper = {word.upper() for word in words}
        return Capabilities(
            starttls="STARTTLS" in upper,
            mechanisms=frozenset(w[5:] for w in upper if w.startswith("AUTH=")),
            cleartext_login="LOGINDISABLED" not in upper,
            listed=" ".join(words),
        )

    async def starttls(self) -> None:
        await self._command("STARTTLS")

    async def goodbye(self) -> None:
        await self._polite(f"{next(self._tags)} LOGOUT")


class Pop3(Dialect):
    name = "POP3"
    starttls_command = "STLS"

    async def greet(self) -> str:
        greeting = await self.talk.line()
        if not greeting.startswith("+OK"):
            raise ProtocolError(f"not a POP3 greeting: {greeting[:120]!r}", greeting)
        return greeting

    async def capabilities(self) -> Capabilities:
        await self.talk.send("CAPA")
        status = await self.talk.line()
        lines: list[str] = []
        if status.startswith("+OK"):
            for _ in range(MAX_REPLY_LINES):
                line = await self.talk.line()
                if line == ".":
                    break
                lines.append(line)
            else:
                raise ProtocolError("no end to the answer to CAPA")
        upper = [line.upper().split() for line in lines if line.strip()]
        mechanisms = next((words[1:] for words in upper if words[0] == "SASL"), [])
        return Capabilities(
            starttls=["STLS"] in upper,
            mechanisms=frozenset(mechanisms),
            cleartext_login=["USER"] in upper,
            listed=" / ".join(lines) if lines else f"CAPA refused: {status[:80]}",
        )

    async def starttls(self) -> None:
        await self.talk.send("STLS")
        answer = await self.talk.line()
        if not answer.startswith("+OK"):
            raise ProtocolError(f"STLS refused: {answer[:120]}")

    async def goodbye(self) -> None:
        await self._polite("QUIT")


class Smtp(Dialect):
    name = "SMTP"
    starttls_command = "STARTTLS"

    async def _reply(self) -> tuple[int, list[str]]:
        texts = []
        for _ in range(MAX_REPLY_LINES):
            line = await self.talk.line()
            match = _SMTP_REPLY.match(line)
            if match is None:
                raise ProtocolError(f"not an SMTP reply: {line[:120]!r}")
            texts.append(match.group(3))
            if match.group(2) == " ":
                return int(match.group(1)), texts
        raise ProtocolError("no end to a multi-line reply")

    async def greet(self) -> str:
        first = await self.talk.line()
        match = _SMTP_REPLY.match(first)
        if match is None:
            raise ProtocolError(f"not an SMTP greeting: {first[:120]!r}", first)
        while match is not None and match.group(2) == "-":
            match = _SMTP_REPLY.match(await self.talk.line())
        if not first.startswith("220"):
            raise ProtocolError(f"the server refuses clients: {first[:120]!r}")
        return first

    async def capabilities(self) -> Capabilities:
        await self.talk.send(f"EHLO [{self.talk.local_address}]")
        code, lines = await self._reply()
        if code != 250:
            raise ProtocolError(f"EHLO refused: {code} {' '.join(lines)[:120]}")
        keywords = [line.upper().replace("=", " ", 1).split() for line in lines[1:]]
        mechanisms = {m for words in keywords if words and words[0] == "AUTH" for m in words[1:]}
        return Capabilities(
            starttls=["STARTTLS"] in keywords,
            mechanisms=frozenset(mechanisms),
            cleartext_login=False,
            listed=" / ".join(lines[1:]),
        )

    async def starttls(self) -> None:
        await self.talk.send("STARTTLS")
        code, lines = await self._reply()
        if code != 220:
            raise ProtocolError(f"STARTTLS refused: {code} {' '.join(lines)[:120]}")

    async def goodbye(self) -> None:
        try:
            await self.talk.send("QUIT")
            await self._reply()
        except (ProtocolError, OSError, TimeoutError, ssl.SSLError):
            pass


DIALECTS: dict[str, type[Dialect]] = {"imap": Imap, "pop3": Pop3, "smtp": Smtp}
