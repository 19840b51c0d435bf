"""Retry policy and the per tenant/API circuit breaker of the HTTP layer (`resources/http.py`).

Kept apart from the client so the rules for "try again" and "stop trying" read on their own.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


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


class BreakerOpen(Exception):
    """Raised by `CircuitBreaker.before_request`; the client turns it into CircuitOpenError."""

    def __init__(self, consecutive_failures: int, retry_in_s: float):
        self.consecutive_failures = consecutive_failures
        self.retry_in_s = retry_in_s
        super().__init__(
            f"circuit open after {consecutive_failures} consecutive failures; next probe in {retry_in_s:.1f} s"
        )


class CircuitBreaker:
    """Per tenant and API: opens after `failure_threshold` consecutive failed attempts (5xx, 408,
    timeouts, connection errors; NOT 429 and NOT other 4xx), fails fast while open, lets one probe
    through after `cooldown_s` (half-open); probe success closes it, probe failure re-opens it.

    Any other HTTP answer counts as success: it proves the upstream is up, even if it said no.
    Thread-safe: clients forked for concurrent detail requests share one breaker, and while the
    half-open probe is in flight every other request is refused.
    """

    def __init__(
        self, failure_threshold: int = 5, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state: Literal["closed", "open", "half_open"] = "closed"
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        """Reports half_open as soon as the cooldown has elapsed, i.e. when the next request would probe."""
        if self._state == "open" and self._cooldown_left() <= 0:
            return "half_open"
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def retry_in_s(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        return self._cooldown_left() if self._state == "open" else 0.0

    def before_request(self) -> None:
        """Allow the attempt, or raise BreakerOpen while the breaker refuses traffic."""
        with self._lock:
            if self._state == "closed":
                return
            if self._state == "open":
                left = self._cooldown_left()
                if left > 0:
                    raise BreakerOpen(self._consecutive_failures, left)
                self._state = "half_open"
            elif self._probing:  # half-open: one probe at a time decides
                raise BreakerOpen(self._consecutive_failures, 0.0)
            self._probing = True

    def record_success(self) -> None:
        with self._lock:
            self._state = "closed"
            self._consecutive_failures = 0
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            self._consecutive_failures += 1
            self._probing = False
            if self._state == "half_open" or self._consecutive_failures >= self.failure_threshold:
                self._state = "open"
                self._opened_at = self._clock()

    def _cooldown_left(self) -> float:
        return max(0.0, self.cooldown_s - (self._clock() - self._opened_at))
