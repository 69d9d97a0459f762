"""What a handler sees of a request, and the shapes of handlers.

Handlers are bound to everything else they need when their family builds its routes
(routes.py), so `ClientRequest` is all they read: no `app`, no `match_info`. aiohttp's
`web.Request` is one; the fast dispatcher hands handlers requests that the router never saw.
"""

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.streams import StreamReader
from multidict import CIMultiDictProxy, MultiMapping


class ClientRequest(Protocol):
    """What a handler may read of a request (aiohttp's `web.Request` is one)."""

    @property
    def method(self) -> str: ...
    @property
    def raw_path(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def path_qs(self) -> str: ...
    @property
    def query(self) -> MultiMapping[str]: ...
    @property
    def headers(self) -> CIMultiDictProxy[str]: ...
    @property
    def remote(self) -> str | None: ...
    @property
    def content_length(self) -> int | None: ...
    @property
    def content(self) -> StreamReader: ...
    async def read(self) -> bytes: ...
    def __setitem__(self, key: Any, value: Any) -> None: ...
    def get(self, key: Any, default: Any = None) -> Any: ...


Answer = web.StreamResponse
PlainHandler = Callable[[ClientRequest], Answer]
"""Answers at once: called directly, no coroutine made (most handlers wait for nothing)."""
WaitingHandler = Callable[[ClientRequest], Awaitable[Answer]]
"""Waits for something (a request body), so it is a coroutine function."""
Handler = PlainHandler | WaitingHandler
FastHandler = Callable[[ClientRequest], Answer | Awaitable[Answer]]
"""What the fast table holds: an answer at once, or an awaitable of it."""
