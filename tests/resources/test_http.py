"""The resilient HTTP layer, exercised over real loopback HTTP against a scriptable server.

Delays are recorded through the `sleep=` hook instead of slept, and the breaker runs on an
injected clock, so the whole file stays fast while still going through httpx, sockets and uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from askpro_pipelines.redaction import SecretLogFilter, install_log_redaction, redact, redact_url
from askpro_pipelines.resources.http import (
    ApiError,
    CircuitBreaker,
    CircuitOpenError,
    PayloadError,
    RequestStats,
    ResilientClient,
    RetrySettings,
)

SECRET = "cal_live_5f3c9e1a7b2d4c6e8f0a1b2c3d4e5f6a"
TENANT = "praxis-am-stadtpark"


# ---- scriptable loopback server ------------------------------------------------------------------


@dataclass
class Scripted:
    """One canned response; `delay_s` makes the server slow to provoke client timeouts."""

    status: int = 200
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class FakeApi:
    """Serves queued responses per path (200 {"ok": true} when the queue is empty) and records requests."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[Scripted]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.base_url = ""

    def script(self, path: str, *responses: Scripted) -> None:
        self.queues[path].extend(responses)

    def count(self, path: str | None = None) -> int:
        return sum(1 for s in self.seen if path is None or s.path == path)

    def reset(self) -> None:
        self.queues.clear()
        self.seen.clear()

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        self.seen.append(
            Seen(request.method, path, dict(request.query_params), dict(request.headers), await request.body())
        )
        scripted = self.queues[path].popleft() if self.queues[path] else Scripted(json={"ok": True})
        if scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        if scripted.text is not None:
            return PlainTextResponse(scripted.text, scripted.status, headers=scripted.headers)
        return JSONResponse(scripted.json, scripted.status, headers=scripted.headers)


@pytest.fixture(scope="module")
def _server():
    api = FakeApi()
    app = Starlette(routes=[Route("/{path:path}", api.handle, methods=["GET", "POST", "PUT", "DELETE"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    api.base_url = f"http://127.0.0.1:{port}"
    yield api
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def server(_server: FakeApi) -> FakeApi:
    _server.reset()
    return _server


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def make_client(server: FakeApi, delays: list[float]):
    """Client factory: no jitter, recorded sleeps, v1-style key in the query by default."""
    clients: list[ResilientClient] = []

    def make(**overrides: Any) -> ResilientClient:
        options: dict[str, Any] = {
            "base_url": server.base_url,
            "tenant": TENANT,
            "api": "calcom",
            "secrets": [SECRET],
            "params": {"apiKey": SECRET},
            "retry": RetrySettings(max_attempts=3, base_delay_s=0.5, jitter=False),
            "sleep": delays.append,
            "timeout": 5.0,
        }
        options.update(overrides)
        client = ResilientClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- success and retries ---------------------------------------------------------------------------


def test_success_returns_json_and_sends_defaults(server, make_client, delays):
    server.script("/v1/event-types", Scripted(json={"event_types": [{"id": 1}]}))
    client = make_client(headers={"X-Extra": "1"})

    body = client.get_json("/v1/event-types", entity="event_types", params={"take": 10, "cursor": None})

    assert body == {"event_types": [{"id": 1}]}
    seen = server.seen[0]
    assert seen.query == {"apiKey": SECRET, "take": "10"}  # defaults merged, None params dropped
    assert seen.headers["user-agent"] == "askpro-pipelines"
    assert seen.headers["x-extra"] == "1"
    assert client.stats.requests == 1 and client.stats.retries == 0 and delays == []


def test_post_json_sends_body(server, make_client):
    server.script("/v2/list-calls", Scripted(json=[{"call_id": "c1"}]))
    client = make_client(api="retell", params=None, headers={"Authorization": "Bearer key_abc"})

    assert client.post_json("/v2/list-calls", entity="calls", json={"limit": 5}) == [{"call_id": "c1"}]
    assert server.seen[0].method == "POST"
    assert server.seen[0].body == b'{"limit":5}'
    assert server.seen[0].headers["authorization"] == "Bearer key_abc"


def test_empty_2xx_body_is_none(server, make_client):
    server.script("/v2/thing", Scripted(status=204, text=""))
    assert make_client().request_json("DELETE", "/v2/thing", entity="things") is None


def test_server_errors_are_retried_with_exponential_backoff(server, make_client, delays):
    server.script("/v2/schedules", Scripted(503), Scripted(503), Scripted(json={"status": "success", "data": []}))
    client = make_client()

    assert client.get_json("/v2/schedules", entity="schedules") == {"status": "success", "data": []}

    assert server.count("/v2/schedules") == 3
    assert delays == [0.5, 1.0]
    assert (client.stats.requests, client.stats.retries, client.stats.server_errors) == (3, 2, 2)


def test_backoff_is_capped_and_full_jitter_stays_within_bounds(monkeypatch):
    settings = RetrySettings(base_delay_s=1.0, max_delay_s=5.0, jitter=False)
    assert [settings.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]

    bounds: list[tuple[float, float]] = []
    monkeypatch.setattr("random.uniform", lambda low, high: bounds.append((low, high)) or high / 2)
    assert RetrySettings(base_delay_s=1.0, max_delay_s=5.0).backoff(4) == 2.5
    assert bounds == [(0, 5.0)]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # the precise header wins
        ({"Retry-After": "1000"}, 120.0),  # capped at max_retry_after_s
    ],
)
def test_429_honours_retry_after(server, make_client, delays, headers, expected):
    server.script("/v2/bookings", Scripted(429, {"message": "slow down"}, headers=headers), Scripted(json={"ok": 1}))
    client = make_client(retry=RetrySettings(max_attempts=3, jitter=True))  # jitter never touches Retry-After

    assert client.get_json("/v2/bookings", entity="bookings") == {"ok": 1}
    assert delays == [expected]
    assert client.stats.rate_limited == 1 and client.stats.retries == 1


def test_429_with_http_date_retry_after(server, make_client, delays):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    server.script("/v2/bookings", Scripted(429, headers={"Retry-After": when}), Scripted(json={"ok": 1}))

    make_client().get_json("/v2/bookings", entity="bookings")

    assert len(delays) == 1 and 1.0 <= delays[0] <= 3.0


def test_429_without_hint_falls_back_to_backoff(server, make_client, delays):
    server.script("/v2/bookings", Scripted(429), Scripted(429), Scripted(json={}))
    make_client().get_json("/v2/bookings", entity="bookings")
    assert delays == [0.5, 1.0]


def test_rate_limit_headers_reach_metadata(server, make_client):
    server.script(
        "/v2/me",
        Scripted(json={}, headers={"X-RateLimit-Remaining-Default": "97", "X-RateLimit-Limit-Default": "120"}),
    )
    client = make_client()
    client.get_json("/v2/me", entity="staff")

    metadata = client.stats.as_metadata("calcom")
    assert metadata["calcom/requests"] == 1
    assert metadata["calcom/retries"] == 0
    assert metadata["calcom/ratelimit/x-ratelimit-remaining-default"] == "97"
    assert metadata["calcom/ratelimit/x-ratelimit-limit-default"] == "120"
    assert set(RequestStats().as_metadata("retell")) == {
        "retell/requests",
        "retell/retries",
        "retell/rate_limited",
        "retell/server_errors",
        "retell/transport_errors",
    }


def test_one_warning_per_retry_without_query(server, make_client, caplog):
    caplog.set_level(logging.WARNING, logger="askpro_pipelines.http")
    server.script("/v2/event-types", Scripted(502), Scripted(json={}))

    make_client().get_json("/v2/event-types", entity="event_types", record_id="1001")

    warnings = [r for r in caplog.records if r.name == "askpro_pipelines.http"]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    for part in (TENANT, "api=calcom", "entity=event_types", "record=1001", "GET /v2/event-types", "HTTP 502", "0.50s"):
        assert part in text
    assert "?" not in text and SECRET not in text


# ---- giving up -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scripted", "message"),
    [
        (Scripted(500, {"message": "Internal error in v1"}), "Internal error in v1"),
        (Scripted(500, {"error": "Something broke"}), "Something broke"),
        (Scripted(503, {"error": {"code": "E_DOWN", "message": "Database unavailable"}}), "Database unavailable"),
        (
            Scripted(
                502,
                {
                    "status": "error",
                    "timestamp": "2024-06-01T00:00:00Z",
                    "error": {"code": "BadGatewayException", "message": "Upstream failed"},
                },
            ),
            "Upstream failed",
        ),
        (Scripted(504, {"error_message": "Retell gateway timeout"}), "Retell gateway timeout"),
        (
            Scripted(500, {"message": ["take must be a number", "skip must be positive"]}),
            "take must be a number; skip must be positive",
        ),
    ],
)
def test_exhausted_retries_raise_with_parsed_message(server, make_client, delays, scripted, message):
    server.script("/v1/bookings", scripted, scripted, scripted)

    with pytest.raises(ApiError) as caught:
        make_client().get_json("/v1/bookings", entity="bookings")

    error = caught.value
    assert (error.status, error.message, error.attempts) == (scripted.status, message, 3)
    assert (error.tenant, error.api, error.entity, error.method, error.path) == (
        TENANT,
        "calcom",
        "bookings",
        "GET",
        "/v1/bookings",
    )
    assert str(error).endswith(f"-> HTTP {scripted.status}: {message} (after 3 attempts)")
    assert error.__cause__ is None and error.__context__ is None
    assert server.count("/v1/bookings") == 3 and len(delays) == 2


def test_non_json_error_body_becomes_short_snippet(server, make_client):
    server.script("/v1/teams", Scripted(400, text="<html><body>" + "Bad request " * 50 + "</body></html>"))

    with pytest.raises(ApiError) as caught:
        make_client().get_json("/v1/teams", entity="teams")

    assert caught.value.status == 400
    assert caught.value.message.startswith("<html><body>Bad request")
    assert len(caught.value.message) <= 200


def test_404_is_not_retried_and_reads_like_the_example(server, make_client, delays):
    server.script(
        "/v2/event-types",
        Scripted(404, {"status": "error", "error": {"code": "NotFoundException", "message": "Event type not found"}}),
    )

    with pytest.raises(ApiError) as caught:
        make_client(base_url=server.base_url + "/v2").get_json("event-types", entity="event_types", record_id=1001)

    assert str(caught.value) == (
        "[tenant=praxis-am-stadtpark api=calcom entity=event_types record=1001] "
        "GET /v2/event-types -> HTTP 404: Event type not found"
    )
    assert caught.value.record_id == "1001"
    assert server.count() == 1 and delays == []


def test_malformed_json_on_success_is_an_error(server, make_client, delays):
    server.script("/v1/users", Scripted(200, text="<html>maintenance</html>"))

    with pytest.raises(ApiError, match="malformed JSON") as caught:
        make_client().get_json("/v1/users", entity="staff")

    assert caught.value.status == 200 and delays == []


def test_x_should_retry_overrides_status(server, make_client):
    server.script("/v2/a", Scripted(503, {"message": "do not retry"}, headers={"x-should-retry": "false"}))
    conflict = Scripted(409, {"message": "conflict"}, headers={"x-should-retry": "true"})
    server.script("/v2/b", conflict, Scripted(json={}))
    client = make_client()

    with pytest.raises(ApiError, match="do not retry"):
        client.get_json("/v2/a", entity="a")
    assert server.count("/v2/a") == 1

    assert client.get_json("/v2/b", entity="b") == {}
    assert server.count("/v2/b") == 2


def test_timeouts_are_retried(server, make_client, delays):
    server.script("/v2/slow", Scripted(json={"late": True}, delay_s=0.5), Scripted(json={"fast": True}))
    client = make_client(timeout=0.1)

    assert client.get_json("/v2/slow", entity="slow") == {"fast": True}
    assert client.stats.transport_errors == 1 and client.stats.retries == 1 and len(delays) == 1


def test_connection_refused_gives_up_with_status_none(make_client, delays):
    client = make_client(base_url=f"http://127.0.0.1:{closed_port()}")

    with pytest.raises(ApiError) as caught:
        client.get_json("/v1/me", entity="staff")

    error = caught.value
    assert error.status is None and error.attempts == 3
    assert "ConnectError" in error.message and "HTTP" not in str(error)
    assert error.__cause__ is None and error.__context__ is None
    assert client.stats.transport_errors == 3 and delays == [0.5, 1.0]


# ---- circuit breaker -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_fails_fast_then_probes_and_closes(server, make_client):
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10.0, clock=clock)
    client = make_client(breaker=breaker)
    server.script("/v2/me", Scripted(500), Scripted(500), Scripted(500))

    with pytest.raises(ApiError) as first:
        client.get_json("/v2/me", entity="staff")
    assert not isinstance(first.value, CircuitOpenError) and first.value.status == 500
    assert breaker.state == "open"

    sent = server.count()
    clock.now += 4
    with pytest.raises(CircuitOpenError) as refused:
        client.get_json("/v2/me", entity="staff")
    assert server.count() == sent  # failed fast, nothing sent
    assert "circuit open after 3 consecutive failures" in str(refused.value)
    assert "next probe in 6.0 s" in str(refused.value)
    assert refused.value.entity == "staff" and refused.value.status is None

    clock.now += 6
    assert breaker.state == "half_open"
    assert client.get_json("/v2/me", entity="staff") == {"ok": True}
    assert breaker.state == "closed" and server.count() == sent + 1


def test_failed_probe_reopens_the_breaker(server, make_client):
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10.0, clock=clock)
    client = make_client(breaker=breaker, retry=RetrySettings(max_attempts=5, jitter=False))
    server.script("/v2/me", Scripted(503), Scripted(503), Scripted(503))

    with pytest.raises(CircuitOpenError):  # opens mid-request: no point attempting further
        client.get_json("/v2/me", entity="staff")
    assert server.count() == 2 and breaker.state == "open"

    clock.now += 10
    with pytest.raises(CircuitOpenError) as caught:
        client.get_json("/v2/me", entity="staff")
    assert server.count() == 3  # exactly one probe went out
    assert breaker.state == "open" and "last failure: HTTP 503" in str(caught.value)

    with pytest.raises(CircuitOpenError):
        client.get_json("/v2/me", entity="staff")
    assert server.count() == 3


def test_rate_limiting_and_client_errors_do_not_trip_the_breaker(server, make_client):
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10.0)
    client = make_client(breaker=breaker)
    server.script("/v2/bookings", Scripted(429), Scripted(429), Scripted(429))
    server.script("/v2/missing", Scripted(404), Scripted(404))

    with pytest.raises(ApiError) as caught:
        client.get_json("/v2/bookings", entity="bookings")
    assert caught.value.status == 429
    for _ in range(2):
        with pytest.raises(ApiError):
            client.get_json("/v2/missing", entity="bookings")
    assert breaker.state == "closed"


def test_breaker_state_machine_unit():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=5.0, clock=clock)
    breaker.record_failure()
    breaker.record_success()  # success resets the consecutive count
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 5
    breaker.before_request()
    assert breaker.state == "half_open"
    breaker.record_failure()  # one failed probe is enough to re-open
    assert breaker.state == "open"


# ---- redaction -------------------------------------------------------------------------------------


def test_redact_and_redact_url():
    assert redact(f"key {SECRET} and {SECRET}", [SECRET, ""]) == "key *** and ***"
    assert redact("abcdef", ["abc", "abcdef"]) == "***"  # the longer secret is masked whole
    assert redact_url(f"https://api.cal.com/v1/bookings?apiKey={SECRET}&take=10") == (
        "https://api.cal.com/v1/bookings?apiKey=***&take=10"
    )
    assert redact_url(httpx.URL("https://x.test/p?take=1&API_KEY=abc&Token=t&page=2")) == (
        "https://x.test/p?take=1&API_KEY=***&Token=***&page=2"
    )
    assert redact_url("https://x.test/p?monkey=1") == "https://x.test/p?monkey=1"


def test_v1_key_never_leaks(server, make_client, caplog):
    install_log_redaction()
    install_log_redaction()  # idempotent
    assert sum(isinstance(f, SecretLogFilter) for f in logging.getLogger("httpx").filters) == 1
    caplog.set_level(logging.DEBUG, logger="askpro_pipelines.http")
    caplog.set_level(logging.DEBUG, logger="httpcore")  # raw response headers, including the echo below
    caplog.set_level(logging.DEBUG, logger="httpx")
    echo = Scripted(
        500,
        {"message": f"invalid request /v1/bookings?apiKey={SECRET} (key {SECRET})"},
        headers={"X-RateLimit-Debug": f"key={SECRET}"},
    )
    server.script("/v1/bookings", echo, echo, echo)
    client = make_client()

    with pytest.raises(ApiError) as caught:
        client.get_json("/v1/bookings", entity="bookings", params={"take": 100})

    assert server.seen[0].query["apiKey"] == SECRET  # the key was really sent
    assert "HTTP Request: GET" in caplog.text and "apiKey=***" in caplog.text
    for text in (str(caught.value), repr(caught.value), caplog.text, repr(client.stats.as_metadata("calcom"))):
        assert SECRET not in text
    assert "?" not in caught.value.path
    assert "***" in caught.value.message


def test_bearer_token_is_redacted_even_if_not_declared(server, make_client):
    server.script("/v2/me", Scripted(401, {"message": "token sk_live_999 is revoked"}))
    client = make_client(secrets=[], params=None, headers={"Authorization": "Bearer sk_live_999"})

    with pytest.raises(ApiError) as caught:
        client.get_json("/v2/me", entity="staff")
    assert str(caught.value).endswith("HTTP 401: token *** is revoked")


def test_payload_error_and_pickling():
    error = PayloadError("missing id", tenant=TENANT, api="retell", entity="agents", record_id="ag_1")
    assert str(error) == f"[tenant={TENANT} api=retell entity=agents record=ag_1] missing id"
    assert isinstance(error, ApiError) and error.status is None

    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is PayloadError and str(clone) == str(error) and clone.record_id == "ag_1"


def test_borrowed_http_client_is_left_open(server, delays):
    shared = httpx.Client()
    try:
        with ResilientClient(
            base_url=server.base_url, tenant=TENANT, api="retell", secrets=[], http=shared, sleep=delays.append
        ) as client:
            assert client.get_json("/v2/agents", entity="agents") == {"ok": True}
        assert not shared.is_closed
    finally:
        shared.close()
