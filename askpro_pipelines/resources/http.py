"""The resilient HTTP layer under the Cal.com and Retell resources.

Both APIs are reached per tenant with a tenant's own key, so this layer owns everything that
must behave the same for every tenant and API: retries with backoff that respect the servers'
rate-limit hints, a per tenant/API circuit breaker so one dead account cannot stall a run,
request statistics for asset metadata, and errors that name tenant, API and entity but never
carry a secret (keys are redacted from messages, logs, metadata, and from httpx's own log lines).
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from askpro_pipelines.json_codec import loads_json
from askpro_pipelines.redaction import SENSITIVE_QUERY_PARAMS, redact_known, register_secret
from askpro_pipelines.resources.breaker import BreakerOpen, CircuitBreaker
from askpro_pipelines.resources.budget import BudgetExhausted, RequestBudget
from askpro_pipelines.resources.request_stats import RequestStats, is_rate_limit_header

__all__ = [
    "ApiError",
    "BreakerOpen",
    "BudgetExhaustedError",
    "CircuitBreaker",
    "CircuitOpenError",
    "PayloadError",
    "RequestStats",
    "ResilientClient",
    "RetrySettings",
]

logger = logging.getLogger("askpro_pipelines.http")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_SNIPPET_CHARS = 200


# ---- errors -----------------------------------------------------------------------------------


class ApiError(Exception):
    """Every failure names tenant, API, entity and (when known) record id; never contains a secret.

    Callers redact before constructing; the path is cut at "?" here as a last line of defence
    because query strings are where Cal.com v1 keys live.
    """

    def __init__(
        self,
        message: str,
        *,
        tenant: str,
        api: str,
        entity: str,
        record_id: str | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        attempts: int | None = None,
    ):
        self.message = message
        self.tenant = tenant
        self.api = api
        self.entity = entity
        self.record_id = None if record_id is None else str(record_id)
        self.status = status
        self.method = method
        self.path = path.split("?", 1)[0] if path else path
        self.attempts = attempts
        super().__init__(self._render())

    def _render(self) -> str:
        record = f" record={self.record_id}" if self.record_id is not None else ""
        text = f"[tenant={self.tenant} api={self.api} entity={self.entity}{record}]"
        if self.method and self.path:
            text += f" {self.method} {self.path}"
            text += f" -> HTTP {self.status}: " if self.status is not None else " -> "
        else:
            text += f" HTTP {self.status}: " if self.status is not None else " "
        text += self.message
        if self.attempts and self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        return text

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields break Exception's default pickling (it replays only `args`).
        return _rebuild_error, (type(self), self.message, self._fields())

    def _fields(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "api": self.api,
            "entity": self.entity,
            "record_id": self.record_id,
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "attempts": self.attempts,
        }


def _rebuild_error(cls: type[ApiError], message: str, fields: dict[str, Any]) -> ApiError:
    return cls(message, **fields)


class CircuitOpenError(ApiError):
    """The tenant/API breaker is open: the request was refused without being sent."""


class BudgetExhaustedError(ApiError):
    """The key's request budget gave no token within the wait: the request was not sent."""


class PayloadError(ApiError):
    """A response arrived but its records are malformed (raised by the API resources)."""


# ---- retry policy (the breaker is in breaker.py) -------------------------------------------------


@dataclass
class RetrySettings:
    """How hard to try one request before giving up."""

    max_attempts: int = 5  # total attempts per request
    base_delay_s: float = 0.5  # exponential backoff base
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0  # cap on an honoured Retry-After
    jitter: bool = True  # full jitter on the exponential delay (not on Retry-After)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt number `attempt` (1-based); full jitter spreads tenants apart."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0, delay) if self.jitter else delay


# ---- response interpretation ------------------------------------------------------------------


def _retry_after_s(headers: httpx.Headers) -> float | None:
    """The server's requested wait: retry-after-ms, else Retry-After as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return max(0.0, value) if math.isfinite(value) else None


def _text_of(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, list):  # NestJS-style validation errors: a list of messages
        parts = [str(item) for item in value if str(item).strip()]
        return "; ".join(parts) if parts else None
    return None


def _message_from_body(body: Any) -> str | None:
    """Pull the human message out of the error shapes Cal.com v1/v2 and Retell return."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping):  # Cal.com v2 and some v1 routes: {"error": {"code", "message"}}
        message = _text_of(error.get("message"))
        if message:
            return message
    for key in ("message", "error_message", "detail"):
        message = _text_of(body.get(key))
        if message:
            return message
    if isinstance(error, Mapping):
        return _text_of(error.get("code"))
    return _text_of(error)


def _snippet(text: str) -> str:
    collapsed = " ".join(text.split())
    if len(collapsed) > MAX_SNIPPET_CHARS:
        collapsed = collapsed[: MAX_SNIPPET_CHARS - 3] + "..."
    return collapsed


def _should_retry_override(headers: httpx.Headers) -> bool | None:
    """Honour `x-should-retry: true|false`, which servers use to overrule the status-based rule."""
    value = headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


@dataclass
class _Failure:
    """One failed attempt, reduced to what retrying and reporting need."""

    message: str
    status: int | None
    retryable: bool
    reason: str  # short label for logs: "HTTP 503" or "ConnectTimeout"
    retry_after_s: float | None = None


# ---- the client -------------------------------------------------------------------------------


class ResilientClient:
    """JSON over HTTP for one tenant and API, with retries, a breaker, statistics and redaction.

    `params`/`headers` are defaults merged into every request (Cal.com v1 puts `apiKey` in the
    query, v2 and Retell use a Bearer header). A passed-in `http` client is shared and left open;
    the per-request timeout is always this client's `timeout`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        tenant: str,
        api: str,
        secrets: Sequence[str],
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetrySettings | None = None,
        breaker: CircuitBreaker | None = None,
        budget: RequestBudget | None = None,
        budget_wait_s: float = 120.0,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "askpro-pipelines",
        raw_bodies: bool = False,
    ):
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.api = api
        self.retry = retry or RetrySettings()
        self.breaker = breaker or CircuitBreaker()
        self.budget = budget  # the key's request budget (budget.py); None: no limit of our own
        self.budget_wait_s = budget_wait_s
        self.stats = RequestStats()
        self._timeout = timeout
        self._sleep = sleep
        self._default_params = dict(params or {})
        self._default_headers = {"Accept": "application/json", "User-Agent": user_agent, **dict(headers or {})}
        implied = _implied_secrets(self._default_headers, self._default_params)
        self._secrets = tuple(secret for secret in (*secrets, *implied) if secret)
        for secret in self._secrets:
            register_secret(secret)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._last_failure: str | None = None
        # The detail worker passes bodies on undecoded: the JSON is decoded once, by whoever uses it.
        self.raw_bodies = raw_bodies

    # -- public API --

    def fork(self) -> ResilientClient:
        """A client for another thread: same pool, breaker, settings and secrets; its own counters.

        Merge its `stats` back with `RequestStats.merge` when the thread is done.
        """
        twin = copy.copy(self)
        twin.stats = RequestStats()
        twin._owns_http = False
        twin._last_failure = None
        return twin

    def get_json(
        self,
        path: str,
        *,
        entity: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        record_id: str | None = None,
    ) -> Any:
        return self.request_json("GET", path, entity=entity, params=params, headers=headers, record_id=record_id)

    def post_json(
        self,
        path: str,
        *,
        entity: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        record_id: str | None = None,
    ) -> Any:
        return self.request_json(
            "POST", path, entity=entity, json=json, params=params, headers=headers, record_id=record_id
        )

    def request_json(
        self,
        method: str,
        path: str,
        *,
        entity: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        record_id: str | None = None,
    ) -> Any:
        """Send with retries and return the decoded JSON body (None for an empty 2xx body)."""
        method = method.upper()
        url = self._url(path)
        merged_params = {k: v for k, v in {**self._default_params, **dict(params or {})}.items() if v is not None}
        merged_headers = {**self._default_headers, **headers} if headers else self._default_headers

        attempt = 0
        while True:
            attempt += 1
            refused = self._consult_breaker()
            if refused is not None:
                raise CircuitOpenError(refused, **self._context(method, url, entity, record_id)) from None
            self._take_token(method, url, entity, record_id)
            self.stats.requests += 1
            result = self._attempt(method, url, merged_params, json, merged_headers)
            if not isinstance(result, _Failure):
                return result.value

            failure = result
            self._last_failure = failure.reason
            context = self._context(method, url, entity, record_id)
            if not failure.retryable or attempt >= self.retry.max_attempts:
                raise ApiError(failure.message, status=failure.status, attempts=attempt, **context) from None
            refused = self._consult_breaker(probe=False)
            if refused is not None:  # the breaker just opened: further attempts would only be refused
                raise CircuitOpenError(refused, **context) from None

            delay = (
                min(failure.retry_after_s, self.retry.max_retry_after_s)
                if failure.retry_after_s is not None
                else self.retry.backoff(attempt)
            )
            self.stats.retries += 1
            record = f" record={context['record_id']}" if record_id is not None else ""
            logger.warning(
                self._clean(
                    f"retrying {method} {context['path']} after {failure.reason} in {delay:.2f}s "
                    f"(attempt {attempt}/{self.retry.max_attempts}; tenant={self.tenant} api={self.api} "
                    f"entity={entity}{record})"
                )
            )
            self._sleep(delay)

    def close(self) -> None:
        """Close the connection pool if this client created it; a shared one belongs to its owner."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ResilientClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals --

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _context(self, method: str, url: str, entity: str, record_id: str | None) -> dict[str, Any]:
        """Who and what a failure is about, redacted; built only when something failed (hot path)."""
        return {
            "tenant": self.tenant,
            "api": self.api,
            "entity": entity,
            "record_id": None if record_id is None else self._clean(str(record_id)),
            "method": method,
            "path": self._clean(httpx.URL(url).path),
        }

    def _clean(self, text: str) -> str:
        return redact_known(text, self._secrets)

    def _take_token(self, method: str, url: str, entity: str, record_id: str | None) -> None:
        """Wait for a token of the key's budget; past `budget_wait_s` the request fails unsent."""
        if self.budget is None:
            return
        try:
            if self.budget.take(self.budget_wait_s):
                self.stats.budget_waits += 1
        except BudgetExhausted as exc:
            settings = self.budget.settings
            message = (
                f"request budget of {settings.requests_per_minute:g} requests/minute (burst {settings.burst}) "
                f"for this key is used up: {exc}; the request was not sent"
            )
            raise BudgetExhaustedError(message, **self._context(method, url, entity, record_id)) from None

    def _consult_breaker(self, *, probe: bool = True) -> str | None:
        """The refusal message when the breaker is open, else None.

        With probe=False the breaker is only inspected, so no half-open probe slot is taken.
        """
        try:
            if probe:
                self.breaker.before_request()
            elif self.breaker.state == "open":
                raise BreakerOpen(self.breaker.consecutive_failures, self.breaker.retry_in_s())
        except BreakerOpen as refusal:
            last = f" (last failure: {self._last_failure})" if self._last_failure else ""
            return self._clean(
                f"circuit open after {refusal.consecutive_failures} consecutive failures; "
                f"next probe in {refusal.retry_in_s:.1f} s{last}"
            )
        return None

    def _attempt(
        self, method: str, url: str, params: dict[str, Any], json: Any, headers: dict[str, str]
    ) -> _Success | _Failure:
        """One HTTP exchange, classified; never raises httpx exceptions (their text may hold URLs)."""
        started_wall, started = time.time(), time.perf_counter()
        try:
            response = self._http.request(
                method, url, params=params or None, json=json, headers=headers, timeout=self._timeout
            )
        except httpx.UnsupportedProtocol as exc:  # a bad base URL will not fix itself
            return _Failure(self._clean(f"{type(exc).__name__}: {exc}"), None, False, type(exc).__name__)
        except httpx.TransportError as exc:  # timeouts, refused/reset connections, protocol errors
            self.stats.transport_errors += 1
            self.stats.note_span(started_wall, time.time())
            self._failed()
            detail = str(exc) or "no detail"
            return _Failure(self._clean(f"{type(exc).__name__}: {detail}"), None, True, type(exc).__name__)
        except httpx.RequestError as exc:  # decoding errors, redirect loops: retrying will not help
            return _Failure(self._clean(f"{type(exc).__name__}: {exc}"), None, False, type(exc).__name__)

        self.stats.note_answer(started_wall, time.perf_counter() - started)
        self._note_rate_limit_headers(response.headers)
        status = response.status_code
        if status >= 500 or status == 408:
            self._failed()
        else:
            self.breaker.record_success()

        if response.is_success:
            return self._decode(response)

        if status == 429:
            self.stats.rate_limited += 1
        elif status >= 500:
            self.stats.server_errors += 1
        elif status >= 400:
            self.stats.client_errors += 1
        override = _should_retry_override(response.headers)
        retryable = status in RETRYABLE_STATUSES if override is None else override
        return _Failure(
            message=self._error_message(response),
            status=status,
            retryable=retryable,
            reason=f"HTTP {status}",
            retry_after_s=_retry_after_s(response.headers),
        )

    def _failed(self) -> None:
        if self.breaker.record_failure():
            self.stats.breaker_opens += 1

    def _decode(self, response: httpx.Response) -> _Success | _Failure:
        content = response.content
        if not content or content.isspace():
            return _Success(None)
        if self.raw_bodies:
            return _Success(RawBody(content, response.status_code))
        try:
            return _Success(loads_json(content))
        except ValueError:
            return self._malformed(response.text, response.status_code)

    def _malformed(self, text: str, status: int) -> _Failure:
        message = f"malformed JSON in response body: {self._clean(_snippet(text))}"
        return _Failure(message, status, False, "malformed JSON")

    def decode_body(self, body: RawBody, *, method: str, path: str, entity: str, record_id: str | None = None) -> Any:
        """Decode a body another process fetched with `raw_bodies` exactly as `request_json` would."""
        try:
            return loads_json(body.content)
        except ValueError:
            failure = self._malformed(body.content.decode("utf-8", "replace"), body.status)
            context = self._context(method, self._url(path), entity, record_id)
            raise ApiError(failure.message, status=failure.status, attempts=1, **context) from None

    def _error_message(self, response: httpx.Response) -> str:
        try:
            message = _message_from_body(response.json())
        except ValueError:
            message = None
        if message is None:
            message = _snippet(response.text) or response.reason_phrase or "no response body"
        elif len(message) > 2 * MAX_SNIPPET_CHARS:
            message = message[: 2 * MAX_SNIPPET_CHARS - 3] + "..."
        return self._clean(message)

    def _note_rate_limit_headers(self, headers: httpx.Headers) -> None:
        noted: dict[str, str] = {}
        for raw_name, raw_value in headers.raw:  # bytes: no per-header decoding on the hot path
            name = raw_name.decode("latin-1")
            if is_rate_limit_header(name):
                noted[name.lower()] = self._clean(raw_value.decode("latin-1"))
        if noted:
            self.stats.note_headers(noted)


@dataclass
class _Success:
    value: Any


@dataclass(frozen=True)
class RawBody:
    """A successful response's undecoded JSON body (clients with `raw_bodies`, see `decode_body`)."""

    content: bytes
    status: int


def _implied_secrets(headers: Mapping[str, str], params: Mapping[str, Any]) -> list[str]:
    """Credentials visible in the default auth header or query, redacted even if not declared."""
    implied = [str(v) for k, v in params.items() if k.lower() in SENSITIVE_QUERY_PARAMS and v]
    for name, value in headers.items():
        if name.lower() in ("authorization", "x-api-key", "x-cal-secret-key") and value:
            implied.append(value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value)
    return implied
