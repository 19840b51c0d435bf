"""The receiver's plain ASGI layer, driven by ASGI messages directly (no server)."""

import asyncio

import pytest

from askpro_pipelines.webhooks.asgi import App, ClientDisconnected, Request, Route


async def _echo_length(request: Request) -> tuple[int, dict]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return 201, {"tenant": request.path_params["tenant"], "bytes": size, "sig": request.header("x-sig")}


def _call(app: App, scope: dict, incoming: list[dict]) -> list[dict]:
    sent: list[dict] = []
    queue = list(incoming)

    async def receive() -> dict:
        return queue.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=5))
    return sent


def test_lifespan_startup_and_shutdown_are_acknowledged():
    sent = _call(App([]), {"type": "lifespan"}, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_a_body_in_chunks_reaches_the_handler_with_path_parameters_and_headers():
    app = App([Route("/in/{tenant}", frozenset({"POST"}), _echo_length)])
    scope = {"type": "http", "path": "/in/praxis-1", "method": "POST", "headers": [(b"x-sig", b"v=1")]}
    body = [{"type": "http.request", "body": b"abc", "more_body": True}, {"type": "http.request", "body": b"de"}]
    start, answer = _call(app, scope, body)
    expected = b'{"tenant":"praxis-1","bytes":5,"sig":"v=1"}'
    assert answer["body"] == expected
    assert start["status"] == 201 and (b"content-length", str(len(expected)).encode()) in start["headers"]


def test_a_client_that_leaves_mid_body_is_reported_to_the_handler():
    app = App([Route("/in/{tenant}", frozenset({"POST"}), _echo_length)])
    scope = {"type": "http", "path": "/in/x", "method": "POST", "headers": []}
    with pytest.raises(ClientDisconnected):
        _call(app, scope, [{"type": "http.request", "body": b"a", "more_body": True}, {"type": "http.disconnect"}])


def test_a_parameter_matches_one_path_segment_only():
    app = App([Route("/in/{tenant}", frozenset({"POST"}), _echo_length)])
    scope = {"type": "http", "path": "/in/a/b", "method": "POST", "headers": []}
    assert _call(app, scope, [])[0]["status"] == 404
