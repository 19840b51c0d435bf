"""The little HTTP the receiver needs, as a plain ASGI app: routes, headers, the body, JSON answers.

Starlette's routing, middleware and request/response objects cost ~30 µs a delivery, about a tenth
of what the receiver may spend per event at 3,000 events/s on two cores (benchmarks/RESULTS.md,
figure 5). uvicorn still does all of HTTP itself; this only maps its ASGI messages to handlers.
"""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from askpro_pipelines.json_codec import dumps_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PARAMETER = re.compile(r"\{([a-z_]+)\}")


class ClientDisconnected(Exception):
    """The client went away before its request body was complete."""


@dataclass
class Request:
    """One request: its path parameters, headers (first of each name) and body stream."""

    scope: Scope
    receive: Receive
    path_params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """The first header of this (lower-case) name, decoded as latin-1 as HTTP headers are."""
        wanted = name.encode("latin-1")
        for key, value in self.scope["headers"]:
            if key == wanted:
                return str(value.decode("latin-1"))
        return None

    async def stream(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive; `ClientDisconnected` if the client leaves first."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


Answer = tuple[int, dict[str, Any]]
Handler = Callable[[Request], Awaitable[Answer]]


@dataclass(frozen=True)
class Route:
    """`path` with `{name}` parameters (one path segment each), the methods it serves, its handler."""

    path: str
    methods: frozenset[str]
    handler: Handler

    def pattern(self) -> re.Pattern[str]:
        parts = _PARAMETER.split(self.path)  # literal, name, literal, name, ...
        return re.compile("".join(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)))


async def _answer(
    send: Send, status: int, body: bytes, content_type: bytes, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode("ascii")), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class App:
    """An ASGI app over `routes`: 404 for an unknown path, 405 (with Allow) for a wrong method; a GET
    route also answers HEAD. A handler returns (status, JSON object). `on_shutdown` runs when a server
    that speaks the lifespan protocol stops (after its requests have finished)."""

    def __init__(self, routes: Iterable[Route], on_shutdown: Callable[[], None] | None = None):
        self._on_shutdown = on_shutdown
        self._routes = []
        for route in routes:
            methods = route.methods | ({"HEAD"} if "GET" in route.methods else set())
            self._routes.append((route.pattern(), methods, route.handler))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if scope["type"] == "lifespan":  # nothing to set up; `on_shutdown` to tear down
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._on_shutdown is not None:
                        self._on_shutdown()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        allowed: set[str] = set()
        for pattern, methods, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method not in methods:
                allowed |= methods
                continue
            status, content = await handler(Request(scope, receive, match.groupdict()))
            await _answer(send, status, dumps_json(content), b"application/json")  # uvicorn sends no body to HEAD
            return
        if allowed:
            allow = ", ".join(sorted(allowed)).encode("ascii")
            await _answer(send, 405, b"Method Not Allowed", b"text/plain; charset=utf-8", [(b"allow", allow)])
        else:
            await _answer(send, 404, b"Not Found", b"text/plain; charset=utf-8")
